// The connections page: each shop's status and why, its last import, its orders by state, its controls.

import * as api from "./api.js";
import { actionButton, badge, h, refresher, route, searchForm, when, words } from "./dom.js";

const REFRESH_MS = 5000;
// The bar's order: what needs the merchant first, then the flow from imported to shipped.
const BAR_STATES = [
  "needs_attention",
  "failed",
  "importing",
  "imported",
  "accepted",
  "shipped",
  "cancelled",
  "skipped",
];

function ordersBar(counts) {
  const total = Object.values(counts).reduce((sum, n) => sum + n, 0);
  if (!total) return h("p", { class: "muted" }, "No orders yet.");
  const states = [...BAR_STATES, ...Object.keys(counts).filter((s) => !BAR_STATES.includes(s))];
  const present = states.filter((state) => counts[state]);
  const bar = h("div", { class: "bar", role: "img", "aria-label": "Orders by state" });
  for (const state of present) {
    const part = h("span", { class: `seg state-${state.replace(/[^a-z_]/g, "")}`, title: `${words(state)}: ${counts[state]}` });
    part.style.width = `${(100 * counts[state]) / total}%`;
    bar.append(part);
  }
  const legend = h(
    "ul",
    { class: "legend" },
    present.map((state) =>
      h("li", { dataset: { state } }, h("span", { class: `dot state-${state.replace(/[^a-z_]/g, "")}` }), `${words(state)} ${counts[state]}`),
    ),
  );
  return h("div", { class: "orders-bar" }, bar, legend);
}

function controls(ctx, connection, redraw) {
  const path = api.connectionPath(connection.id);
  const patch = (body) => api.call("PATCH", path, body).then(redraw);
  if (connection.status === "disconnected") return h("p", { class: "muted" }, "Disconnected: nothing to control.");
  return h(
    "div",
    { class: "actions" },
    actionButton(ctx, "Import now", {
      confirm: `Import the new sales of "${connection.name}" from Rakuten now?`,
      run: () => api.call("POST", api.connectionPath(connection.id, "imports")).then(redraw),
      done: "Import queued: new sales will appear in a moment.",
      attrs: { class: "import-now" },
    }),
    actionButton(ctx, connection.paused ? "Resume" : "Pause", {
      run: () => patch({ paused: !connection.paused }),
      done: connection.paused ? "Connection resumed." : "Connection paused: nothing is sent to Rakuten.",
      attrs: { class: "pause-toggle" },
    }),
    actionButton(ctx, connection.stock_sync_enabled ? "Turn stock updates off" : "Turn stock updates on", {
      run: () => patch({ stock_sync_enabled: !connection.stock_sync_enabled }),
      done: connection.stock_sync_enabled ? "Stock updates are off." : "Stock updates are on.",
      attrs: { class: "stock-toggle" },
    }),
  );
}

function card(ctx, connection, operator, redraw) {
  const link = (page, text) => h("a", { href: route("connections", connection.id, page) }, text);
  const facts = [
    ["Seller ID", connection.seller_id],
    operator ? ["Merchant", connection.merchant_id] : null,
    ["Status", badge(connection.status)],
    connection.status_reason ? ["Why", connection.status_reason] : null,
    ["Last import", when(connection.last_import_at)],
    connection.last_import_error ? ["Last import error", h("span", { class: "error-text" }, connection.last_import_error)] : null,
    ["Stock updates", connection.stock_sync_enabled ? "on" : "off"],
  ].filter(Boolean);
  return h(
    "section",
    { class: "card connection", dataset: { connectionId: connection.id } },
    h("h2", {}, connection.name),
    h("dl", { class: "facts" }, facts.map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)])),
    ordersBar(connection.orders || {}),
    controls(ctx, connection, redraw),
    h("p", { class: "links" }, link("orders", "Orders"), " · ", link("stock", "Stock"), " · ", link("activity", "Activity")),
  );
}

function merchantFilter(ctx, current) {
  return searchForm({
    label: "Merchant ",
    button: "Filter",
    input: { id: "merchant-filter", value: current, placeholder: "merchant id" },
    onValue: (value) => ctx.go(value ? `#/connections?merchant=${encodeURIComponent(value)}` : "#/connections"),
  });
}

export async function connectionsPage(ctx) {
  const me = api.claims();
  const merchant = me.operator ? ctx.query.get("merchant") || "" : "";
  const region = h("div", { id: "connections" });
  const load = () => api.get("/v1/connections", { merchant_id: merchant });
  let update = null;
  const draw = (answer) => {
    if (!answer.items.length) return h("p", { class: "muted" }, "No connection yet.");
    return h("div", { class: "cards" }, answer.items.map((c) => card(ctx, c, me.operator, () => update())));
  };
  update = refresher(region, load, draw);
  await update();
  ctx.every(REFRESH_MS, update);
  return h(
    "div",
    {},
    h("h1", {}, "Connections"),
    me.operator ? merchantFilter(ctx, merchant) : null,
    region,
  );
}
