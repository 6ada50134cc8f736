// Activity: orders imported, accepted and shipped per hour over the last 48 hours, and the Cubyn webhook
// events received, drawn as inline SVG from `GET /v1/connections/{id}/activity`.

import * as api from "./api.js";
import { h, refresher, svg } from "./dom.js";

const REFRESH_MS = 30000;
const WIDTH = 960;
const HEIGHT = 220;
const PAD = { left: 44, right: 12, top: 12, bottom: 28 };
const SERIES = [
  { key: "imported", label: "Imported" },
  { key: "accepted", label: "Accepted" },
  { key: "shipped", label: "Shipped" },
];

function hourLabel(iso) {
  const date = new Date(iso);
  return `${String(date.getHours()).padStart(2, "0")}h`;
}

function frame(hours, top, title) {
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const ceiling = Math.max(1, top);
  const x = (i) => PAD.left + (hours.length > 1 ? (i * plotW) / (hours.length - 1) : plotW / 2);
  const y = (value) => PAD.top + plotH - (value * plotH) / ceiling;
  const chart = svg(
    "svg",
    { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, class: "chart", role: "img", "aria-label": title },
    svg("title", {}, title),
  );
  for (const value of [0, Math.round(ceiling / 2), ceiling]) {
    chart.append(
      svg("line", { class: "grid", x1: PAD.left, x2: WIDTH - PAD.right, y1: y(value), y2: y(value) }),
      svg("text", { class: "axis", x: PAD.left - 6, y: y(value) + 4, "text-anchor": "end" }, String(value)),
    );
  }
  hours.forEach((hour, i) => {
    if (i % 6 === 0 || i === hours.length - 1) {
      chart.append(svg("text", { class: "axis", x: x(i), y: HEIGHT - 8, "text-anchor": "middle" }, hourLabel(hour.start)));
    }
  });
  return { chart, x, y, plotW };
}

function ordersChart(hours) {
  const top = Math.max(...hours.flatMap((hour) => SERIES.map((s) => hour[s.key])), 0);
  const { chart, x, y } = frame(hours, top, "Orders per hour, last 48 hours");
  for (const series of SERIES) {
    const points = hours.map((hour, i) => `${x(i).toFixed(1)},${y(hour[series.key]).toFixed(1)}`).join(" ");
    chart.append(svg("polyline", { class: `line series-${series.key}`, points, fill: "none" }));
    hours.forEach((hour, i) => {
      if (!hour[series.key]) return;
      chart.append(
        svg(
          "circle",
          { class: `point series-${series.key}`, cx: x(i), cy: y(hour[series.key]), r: 3 },
          svg("title", {}, `${new Date(hour.start).toLocaleString()}: ${hour[series.key]} ${series.label.toLowerCase()}`),
        ),
      );
    });
  }
  return chart;
}

function eventsChart(hours) {
  const top = Math.max(...hours.map((hour) => hour.webhook_events), 0);
  const { chart, x, y, plotW } = frame(hours, top, "Cubyn webhook events per hour, last 48 hours");
  // Bars sit inside the plot: the first and last hours' bars start and end at its edges.
  const width = Math.max(2, plotW / hours.length - 2);
  const left = (i) => Math.min(Math.max(x(i) - width / 2, PAD.left), WIDTH - PAD.right - width);
  hours.forEach((hour, i) => {
    if (!hour.webhook_events) return;
    chart.append(
      svg(
        "rect",
        { class: "bar-events", x: left(i), y: y(hour.webhook_events), width, height: y(0) - y(hour.webhook_events) },
        svg("title", {}, `${new Date(hour.start).toLocaleString()}: ${hour.webhook_events} event(s)`),
      ),
    );
  });
  return chart;
}

function totals(hours) {
  const sum = (key) => hours.reduce((total, hour) => total + hour[key], 0);
  return h(
    "ul",
    { class: "legend totals", id: "activity-totals" },
    SERIES.map((s) => h("li", { dataset: { series: s.key } }, h("span", { class: `dot series-${s.key}` }), `${s.label} ${sum(s.key)}`)),
    h("li", { dataset: { series: "webhook_events" } }, h("span", { class: "dot series-events" }), `Webhook events ${sum("webhook_events")}`),
  );
}

export async function activityPage(ctx) {
  const { connectionId } = ctx;
  const connection = await api.get(api.connectionPath(connectionId));
  const region = h("div", { id: "activity" });
  const load = () => api.get(api.connectionPath(connectionId, "activity"));
  const update = refresher(region, load, (activity) =>
    h(
      "div",
      {},
      totals(activity.hours),
      h("h2", {}, "Orders per hour"),
      ordersChart(activity.hours),
      h("h2", {}, "Cubyn webhook events per hour"),
      eventsChart(activity.hours),
      h("p", { class: "muted" }, `From ${new Date(activity.since).toLocaleString()} to now.`),
    ),
  );
  await update();
  ctx.every(REFRESH_MS, update);
  return h("div", {}, h("h1", {}, `Activity of ${connection.name}`), region);
}
