// Stock: the per-SKU report (wanted vs published, pending, rejected with Rakuten's reason), "Synch my stock"
// with its progress through the phases, and the mismatch report of the sync, downloadable as CSV.

import * as api from "./api.js";
import { actionButton, badge, h, progressBar, refresher, route, searchForm, table, when, words } from "./dom.js";

const POLL_MS = 1000;
const PAGE_SIZE = 100;
const STATUSES = ["", "pending", "rejected", "unknown_on_rakuten", "pushed"];
const PHASES = ["reading_rakuten", "reading_cubyn", "comparing", "pushing", "done"];
const SHOWN_MAX = 200; // the CSV has every SKU; the page shows the first ones
const syncKey = (connectionId) => `rakuten-connector.sync.${connectionId}`;

function stockHash(connectionId, query) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value) params.set(key, value);
  const text = params.toString();
  return route("connections", connectionId, "stock") + (text ? `?${text}` : "");
}

function stockRow(item) {
  return h(
    "tr",
    { class: "stock-item", dataset: { sku: item.sku, status: item.status } },
    h("td", {}, item.sku),
    h("td", {}, item.cubyn_sku === item.sku ? "same" : item.cubyn_sku),
    h("td", { class: "number" }, String(item.wanted_quantity)),
    h("td", { class: "number" }, String(item.published_quantity)),
    h("td", { class: "number" }, item.pushed_quantity === null ? "—" : String(item.pushed_quantity)),
    h("td", {}, when(item.pushed_at)),
    h("td", {}, badge(item.status)),
    h("td", { class: "reason" }, item.reason || ""),
  );
}

function phaseProgress(sync) {
  if (sync.status === "succeeded") return [1, `Done: ${sync.progress.updated} SKU(s) updated on Rakuten.`];
  if (sync.status === "failed") return [1, `The sync failed: ${sync.error || "no reason given"}.`];
  if (sync.status === "queued") return [0, "Queued: the sync starts in a moment."];
  const index = Math.max(0, PHASES.indexOf(sync.phase));
  const p = sync.progress;
  let within = 0;
  let label = "";
  if (sync.phase === "reading_rakuten") label = `Reading Rakuten's inventory: ${p.rakuten_skus} SKU(s) so far.`;
  else if (sync.phase === "reading_cubyn") label = `Reading Cubyn's catalogue (Rakuten has ${p.rakuten_skus} SKU(s)).`;
  else if (sync.phase === "comparing") label = `Comparing ${p.rakuten_skus} Rakuten SKU(s) with ${p.cubyn_skus} at Cubyn.`;
  else if (sync.phase === "pushing") {
    within = p.to_update ? p.updated / p.to_update : 0;
    label = `Sending quantities to Rakuten: ${p.updated} of ${p.to_update}.`;
  } else label = "Finishing.";
  return [(index + within) / (PHASES.length - 1), label];
}

function csvCell(value) {
  let text = String(value ?? "");
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`; // a spreadsheet would run it as a formula
  return `"${text.replaceAll('"', '""')}"`;
}

export function mismatchCsv(sync) {
  const suggested = new Map(sync.suggested_mappings.map((s) => [s.rakuten_sku, s]));
  const rows = [["side", "sku", "suggested_cubyn_sku", "rule"]];
  for (const sku of sync.only_on_rakuten) {
    const s = suggested.get(sku);
    rows.push(["only_on_rakuten", sku, s ? s.cubyn_sku : "", s ? s.rule : ""]);
  }
  for (const sku of sync.only_on_cubyn) rows.push(["only_on_cubyn", sku, "", ""]);
  return rows.map((row) => row.map(csvCell).join(",")).join("\r\n") + "\r\n";
}

function skuList(title, skus, id) {
  const shown = skus.slice(0, SHOWN_MAX).map((sku) => h("li", {}, sku));
  const more = skus.length > SHOWN_MAX ? h("li", { class: "muted" }, `and ${skus.length - SHOWN_MAX} more (in the CSV)`) : null;
  return h("section", { class: "side", id }, h("h3", {}, `${title} (${skus.length})`), h("ul", {}, shown, more));
}

function mismatch(sync) {
  if (sync.status !== "succeeded") return null;
  const csv = new Blob([mismatchCsv(sync)], { type: "text/csv;charset=utf-8" });
  const download = h(
    "a",
    { id: "mismatch-csv", href: URL.createObjectURL(csv), download: `stock-mismatch-${sync.id}.csv`, class: "button" },
    "Download the mismatch report (CSV)",
  );
  const pairs = sync.suggested_mappings.map((s) =>
    h("tr", {}, h("td", {}, s.rakuten_sku), h("td", {}, s.cubyn_sku), h("td", {}, s.rule)),
  );
  return h(
    "div",
    { class: "mismatch", id: "mismatch" },
    h("h2", {}, "Mismatch report"),
    h(
      "div",
      { class: "sides" },
      skuList("Only on Rakuten", sync.only_on_rakuten, "only-on-rakuten"),
      skuList("Only on Cubyn", sync.only_on_cubyn, "only-on-cubyn"),
    ),
    pairs.length
      ? [h("h3", {}, "Suggested SKU mappings"), table(["Rakuten SKU", "Cubyn SKU", "Differs by"], pairs, { class: "suggestions" })]
      : h("p", { class: "muted" }, "No mapping to suggest."),
    download,
  );
}

function syncPanel(ctx, connectionId, reloadReport) {
  const region = h("div", { id: "sync" });
  let polling = false;
  const show = (sync) => {
    const [fraction, label] = phaseProgress(sync);
    const bar = progressBar(fraction, label, { id: "sync-progress", dataset: { status: sync.status, phase: sync.phase } });
    region.replaceChildren(...[bar, mismatch(sync)].filter(Boolean));
  };
  const poll = async () => {
    const id = sessionStorage.getItem(syncKey(connectionId));
    if (!id || polling) return;
    polling = true;
    try {
      const sync = await api.get(api.connectionPath(connectionId, "stock-syncs", id));
      show(sync);
      if (sync.status === "succeeded" || sync.status === "failed") await reloadReport();
    } finally {
      polling = false;
    }
  };
  const start = actionButton(ctx, "Synch my stock", {
    confirm: "Compare the whole inventory with Rakuten and push every quantity that differs?",
    run: async () => {
      const queued = await api.call("POST", api.connectionPath(connectionId, "stock-syncs"));
      sessionStorage.setItem(syncKey(connectionId), queued.id);
      await poll();
    },
    done: "Stock sync started.",
    attrs: { id: "sync-start" },
  });
  ctx.every(POLL_MS, async () => {
    const bar = region.querySelector("[data-status]");
    if (!bar || !["succeeded", "failed"].includes(bar.dataset.status)) await poll();
  });
  return { node: h("section", { class: "card" }, h("h2", {}, "Synch my stock"), start, region), poll };
}

export async function stockPage(ctx) {
  const { connectionId } = ctx;
  const status = ctx.query.get("status") || "";
  const sku = ctx.query.get("sku") || "";
  const cursor = ctx.query.get("cursor") || "";
  const connection = await api.get(api.connectionPath(connectionId));
  const region = h("div", { id: "stock" });
  const load = () => api.get(api.connectionPath(connectionId, "stock"), { status, sku, cursor, limit: PAGE_SIZE });
  const draw = (page) => {
    if (!page.items.length) return h("p", { class: "muted" }, "No SKU to show.");
    const headers = ["Rakuten SKU", "Cubyn SKU", "Cubyn has", "Rakuten should show", "Rakuten took", "Pushed", "Status", "Rakuten's reason"];
    const next = page.next_cursor
      ? h("a", { class: "next-page", href: stockHash(connectionId, { status, sku, cursor: page.next_cursor }) }, "Next page")
      : null;
    return h("div", {}, table(headers, page.items.map(stockRow), { class: "stock" }), h("p", { class: "pager" }, next));
  };
  const update = refresher(region, load, draw);
  await update();
  const panel = syncPanel(ctx, connectionId, update);
  await panel.poll();
  const search = searchForm({
    label: "SKU ",
    button: "Find",
    input: { id: "sku-search", value: sku, placeholder: "exact SKU", maxlength: "255" },
    onValue: (value) => ctx.go(stockHash(connectionId, { status, sku: value })),
  });
  const tabs = h(
    "nav",
    { class: "tabs", "aria-label": "Stock status" },
    STATUSES.map((value) =>
      h("a", { href: stockHash(connectionId, { status: value }), class: value === status ? "tab current" : "tab" }, value ? words(value) : "All"),
    ),
  );
  const note = connection.stock_sync_enabled ? null : h("p", { class: "warning" }, "Stock updates are off for this connection.");
  return h("div", {}, h("h1", {}, `Stock of ${connection.name}`), note, panel.node, h("h2", {}, "Stock report"), tabs, search, region);
}
