// Safe DOM building: every text the API gives comes from outside (purchase ids, reasons, SKUs), so it only
// ever becomes a text node or an attribute value, never markup: no HTML string is parsed anywhere.

const SVG_NS = "http://www.w3.org/2000/svg";

function set(node, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      node.setAttribute("class", value);
    } else if (key === "dataset") {
      Object.assign(node.dataset, value);
    } else {
      node.setAttribute(key, value === true ? "" : String(value));
    }
  }
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** An HTML element: h("a", {href: "#/x"}, "text", otherNode). */
export function h(tag, attrs, ...children) {
  return append(set(document.createElement(tag), attrs), children);
}

/** An SVG element, drawn by the console itself. */
export function svg(tag, attrs, ...children) {
  return append(set(document.createElementNS(SVG_NS, tag), attrs), children);
}

/** A link inside the console: the parts are encoded, so an id can never break out of its place. */
export function route(...parts) {
  return "#/" + parts.map((part) => encodeURIComponent(String(part))).join("/");
}

export function when(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : date.toLocaleString();
}

export function table(headers, rows, attrs) {
  return h(
    "table",
    attrs || {},
    h("thead", {}, h("tr", {}, headers.map((title) => h("th", { scope: "col" }, title)))),
    h("tbody", {}, rows),
  );
}

/** A bar whose filled part is `fraction` of it (0..1), with its text for people and screen readers. */
export function progressBar(fraction, label, attrs) {
  const percent = Math.max(0, Math.min(100, Math.round(fraction * 100)));
  const fill = h("div", { class: "fill" });
  fill.style.width = `${percent}%`;
  return h(
    "div",
    {
      class: "progress",
      role: "progressbar",
      "aria-valuemin": "0",
      "aria-valuemax": "100",
      "aria-valuenow": String(percent),
      "aria-label": label,
      ...(attrs || {}),
    },
    fill,
    h("span", { class: "progress-label" }, label),
  );
}

const STATE_WORDS = {
  needs_attention: "Needs attention",
  failed: "Failed",
  importing: "Importing",
  imported: "Imported",
  accepted: "Accepted",
  shipped: "Shipped",
  cancelled: "Cancelled",
  skipped: "Skipped",
  active: "Active",
  paused: "Paused",
  credentials_invalid: "Credentials refused",
  disconnected: "Disconnected",
  pending: "Pending",
  pushed: "Pushed",
  rejected: "Rejected",
  unknown_on_rakuten: "Unknown on Rakuten",
};

export function words(state) {
  return STATE_WORDS[state] || String(state).replaceAll("_", " ");
}

export function badge(state) {
  return h("span", { class: `badge state-${String(state).replace(/[^a-z_]/g, "")}` }, words(state));
}

/** A button for an action on the API: asks first when `confirm` is given (what cannot be undone), then
 * says in the notice line what happened, or the API's sentence when it refused. */
export function actionButton(ctx, label, { confirm: question, run, done, attrs }) {
  const button = h("button", { type: "button", ...(attrs || {}) }, label);
  button.addEventListener("click", async () => {
    if (question && !window.confirm(question)) return;
    button.disabled = true;
    try {
      await run();
      if (done) ctx.notify(done, "ok");
    } catch (error) {
      ctx.fail(error);
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

/** A one-field search form: `onValue(text)` gets the trimmed text when it is sent. `input` holds the
 * field's attributes (its id labels it). */
export function searchForm({ label, button, input, onValue, attrs }) {
  const field = h("input", { type: "search", ...input });
  const form = h(
    "form",
    { class: "filters", ...(attrs || {}) },
    h("label", { for: input.id }, label),
    field,
    h("button", { type: "submit" }, button),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    onValue(field.value.trim());
  });
  return form;
}

/** Re-draws `region` with `draw(data)` only when the data changed: what the person is reading stays put. */
export function refresher(region, load, draw) {
  let seen = null;
  return async () => {
    const data = await load();
    const key = JSON.stringify(data);
    if (key === seen) return;
    seen = key;
    region.replaceChildren(draw(data));
  };
}
