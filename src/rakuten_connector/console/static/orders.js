// Orders: a connection's list (by state, paginated with the API's cursors, searchable by purchase id) and
// one order's page (items, Cubyn parcel and tracking, timeline). Reasons are the API's, in the merchant's words.

import * as api from "./api.js";
import { actionButton, badge, h, refresher, route, searchForm, table, when, words } from "./dom.js";

const REFRESH_MS = 5000;
const PAGE_SIZE = 50;
// What needs the merchant comes first.
const FILTERS = ["needs_attention", "failed", "", "importing", "imported", "accepted", "shipped", "cancelled", "skipped"];
const RETRYABLE = new Set(["failed", "needs_attention"]);

function ordersHash(connectionId, query) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value) params.set(key, value);
  const text = params.toString();
  return route("connections", connectionId, "orders") + (text ? `?${text}` : "");
}

function retryButton(ctx, connectionId, order, after) {
  return actionButton(ctx, "Retry", {
    confirm: `Retry order ${order.purchase_id} now?`,
    run: () => api.call("POST", api.connectionPath(connectionId, "orders", order.purchase_id, "retry")).then(after),
    done: `Retry of order ${order.purchase_id} queued.`,
    attrs: { class: "retry", dataset: { purchaseId: order.purchase_id } },
  });
}

function retryAll(ctx, connectionId, state, after) {
  return actionButton(ctx, `Retry every ${words(state).toLowerCase()} order`, {
    confirm: `Retry every order of this connection that is ${words(state).toLowerCase()}?`,
    run: async () => {
      const answer = await api.call("POST", api.connectionPath(connectionId, "orders", "retries"), { state });
      ctx.notify(`${answer.queued} retr${answer.queued === 1 ? "y" : "ies"} queued.`, "ok");
      await after();
    },
    attrs: { class: `retry-all retry-all-${state}` },
  });
}

function orderRow(ctx, connectionId, order, after) {
  return h(
    "tr",
    { class: "order", dataset: { purchaseId: order.purchase_id, state: order.state } },
    h("td", {}, h("a", { href: route("connections", connectionId, "orders", order.purchase_id) }, order.purchase_id)),
    h("td", {}, badge(order.state)),
    h("td", { class: "reason" }, order.reason || ""),
    h("td", {}, order.shipping_type || "—"),
    h("td", {}, order.delivery_mode || "—"),
    h("td", {}, when(order.imported_at)),
    h("td", {}, RETRYABLE.has(order.state) ? retryButton(ctx, connectionId, order, after) : null),
  );
}

function orderSearch(ctx, connectionId) {
  return searchForm({
    label: "Find an order ",
    button: "Open",
    input: { id: "purchase-search", placeholder: "purchase id", maxlength: "64" },
    attrs: { id: "order-search" },
    onValue: (value) => value && ctx.go(route("connections", connectionId, "orders", value)),
  });
}

export async function ordersPage(ctx) {
  const { connectionId } = ctx;
  const state = ctx.query.get("state") || "";
  const cursor = ctx.query.get("cursor") || "";
  const connection = await api.get(api.connectionPath(connectionId));
  const region = h("div", { id: "orders" });
  let update = null;
  const load = () => api.get(api.connectionPath(connectionId, "orders"), { state, cursor, limit: PAGE_SIZE });
  const draw = (page) => {
    const rows = page.items.map((order) => orderRow(ctx, connectionId, order, () => update()));
    const pager = h(
      "p",
      { class: "pager" },
      cursor ? h("a", { href: ordersHash(connectionId, { state }) }, "First page") : null,
      cursor ? h("button", { type: "button", class: "link", onclick: () => history.back() }, "Previous page") : null,
      page.next_cursor
        ? h("a", { class: "next-page", href: ordersHash(connectionId, { state, cursor: page.next_cursor }) }, "Next page")
        : null,
    );
    if (!rows.length) return h("p", { class: "muted" }, state ? `No ${words(state).toLowerCase()} order.` : "No order yet.");
    const headers = ["Purchase", "State", "Reason", "Shipping type", "Delivery mode", "Imported", ""];
    return h("div", {}, table(headers, rows, { class: "orders" }), pager);
  };
  update = refresher(region, load, draw);
  await update();
  if (!cursor) ctx.every(REFRESH_MS, update); // a later page stays as it was opened
  const filters = h(
    "nav",
    { class: "tabs", "aria-label": "Order state" },
    FILTERS.map((value) =>
      h(
        "a",
        { href: ordersHash(connectionId, { state: value }), class: value === state ? "tab current" : "tab", dataset: { state: value || "all" } },
        value ? words(value) : "All",
      ),
    ),
  );
  const counts = connection.orders || {};
  return h(
    "div",
    {},
    h("h1", {}, `Orders of ${connection.name}`),
    filters,
    orderSearch(ctx, connectionId),
    h(
      "div",
      { class: "actions" },
      counts.failed ? retryAll(ctx, connectionId, "failed", () => update()) : null,
      counts.needs_attention ? retryAll(ctx, connectionId, "needs_attention", () => update()) : null,
    ),
    region,
  );
}

function trackingLink(trackingId) {
  const meta = document.querySelector('meta[name="tracking-url-template"]');
  const template = meta ? meta.getAttribute("content") : "";
  if (!trackingId || !template || !template.includes("{tracking_id}")) return trackingId || "—";
  const url = template.replace("{tracking_id}", encodeURIComponent(trackingId));
  if (!/^https?:\/\//i.test(url)) return trackingId;
  return h("a", { href: url, target: "_blank", rel: "noopener noreferrer", class: "tracking-link" }, trackingId);
}

function orderDetail(ctx, connectionId, order, after) {
  const facts = [
    ["State", badge(order.state)],
    order.reason ? ["Why", order.reason] : null,
    order.last_error ? ["Last error", h("span", { class: "error-text" }, order.last_error)] : null,
    ["Purchased", when(order.purchased_at)],
    ["Imported", when(order.imported_at)],
    ["Shipping type", order.shipping_type || "—"],
    ["Delivery mode", order.delivery_mode || "—"],
    ["Cubyn parcel", order.parcel_id || "none yet"],
    ["Parcel status", order.parcel_status || "—"],
    ["Tracking", trackingLink(order.tracking_id)],
  ].filter(Boolean);
  const items = order.items.map((item) =>
    h(
      "tr",
      { class: "item" },
      h("td", {}, item.item_id),
      h("td", {}, item.sku),
      h("td", {}, item.cubyn_sku || "same"),
      h("td", {}, item.status),
      h("td", {}, when(item.accepted_at)),
      h("td", {}, when(item.tracking_pushed_at)),
    ),
  );
  const events = order.events.map((event) =>
    h("li", { class: "event" }, h("time", { datetime: event.at }, when(event.at)), " ", h("strong", {}, event.kind), " ", event.message),
  );
  return h(
    "div",
    {},
    h("dl", { class: "facts" }, facts.map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)])),
    RETRYABLE.has(order.state) ? h("div", { class: "actions" }, retryButton(ctx, connectionId, order, after)) : null,
    h("h2", {}, "Items"),
    table(["Item", "Rakuten SKU", "Cubyn SKU", "Rakuten status", "Accepted", "Tracking pushed"], items, { class: "items" }),
    h("h2", {}, "Timeline"),
    events.length ? h("ol", { class: "timeline" }, events) : h("p", { class: "muted" }, "Nothing happened yet."),
  );
}

export async function orderPage(ctx) {
  const { connectionId, purchaseId } = ctx;
  const region = h("div", { id: "order" });
  let update = null;
  const load = () => api.get(api.connectionPath(connectionId, "orders", purchaseId));
  update = refresher(region, load, (order) => orderDetail(ctx, connectionId, order, () => update()));
  await update();
  ctx.every(REFRESH_MS, update);
  return h(
    "div",
    {},
    h("p", {}, h("a", { href: route("connections", connectionId, "orders") }, "← All orders")),
    h("h1", {}, "Order ", h("span", { class: "purchase-id" }, purchaseId)),
    region,
  );
}
