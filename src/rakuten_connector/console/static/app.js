// The console's shell: sign-in, the pages by their #/ address, the notice line and timed refreshes.

import * as api from "./api.js";
import { h, route } from "./dom.js";
import { connectionsPage } from "./connections.js";
import { orderPage, ordersPage } from "./orders.js";
import { stockPage } from "./stock.js";
import { activityPage } from "./activity.js";

const view = document.getElementById("view");
const notice = document.getElementById("notice");
const nav = document.getElementById("nav");
const who = document.getElementById("who");
const signOutButton = document.getElementById("sign-out");

let generation = 0; // a page's timers and late answers stop counting once another page is shown

function notify(message, kind) {
  notice.hidden = !message;
  notice.className = `notice ${kind || "error"}`;
  notice.textContent = message || "";
}

function signInPage(reason) {
  const field = h("textarea", {
    id: "token",
    rows: "4",
    autocomplete: "off",
    spellcheck: "false",
    placeholder: "eyJhbGciOi…",
    "aria-label": "Bearer token",
  });
  const form = h(
    "form",
    { id: "sign-in", class: "card sign-in" },
    h("h1", {}, "Sign in"),
    h("p", {}, "Paste the bearer token you were given (`rakuten-connector token` prints one)."),
    h("p", { class: "muted" }, "It stays in this tab only, and is forgotten when the tab closes."),
    field,
    h("button", { type: "submit", id: "sign-in-button" }, "Sign in"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!field.value.trim()) {
      notify("Paste a token first.");
      return;
    }
    api.signIn(field.value);
    notify("");
    if (location.hash.startsWith("#/")) show();
    else location.hash = "#/connections";
  });
  if (reason) notify(reason);
  return form;
}

function header(connectionId) {
  const me = api.claims();
  signOutButton.hidden = !me;
  who.textContent = me ? `${me.operator ? "Operator" : "Merchant"} ${me.merchantId}` : "";
  if (!connectionId) {
    nav.replaceChildren();
    return;
  }
  const link = (page, text) => h("a", { href: route("connections", connectionId, page) }, text);
  nav.replaceChildren(
    h("a", { href: route("connections") }, "Connections"),
    link("orders", "Orders"),
    link("stock", "Stock"),
    link("activity", "Activity"),
  );
}

function parse() {
  const [path, search] = location.hash.replace(/^#\/?/, "").split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { parts, query: new URLSearchParams(search || "") };
}

function pick(parts) {
  if (parts[0] !== "connections") return null;
  if (parts.length === 1) return { page: connectionsPage, connectionId: null };
  const [, connectionId, what, purchaseId] = parts;
  if (what === "orders" && parts.length === 4) return { page: orderPage, connectionId, purchaseId };
  const pages = { orders: ordersPage, stock: stockPage, activity: activityPage };
  return pages[what] && parts.length === 3 ? { page: pages[what], connectionId } : null;
}

async function show() {
  const mine = ++generation;
  if (!api.token()) {
    header(null);
    view.replaceChildren(signInPage());
    return;
  }
  const { parts, query } = parse();
  const chosen = pick(parts);
  if (!chosen) {
    location.hash = "#/connections";
    return;
  }
  header(chosen.connectionId);
  const ctx = {
    ...chosen,
    query,
    notify,
    fail: (error) => failed(error, mine),
    live: () => mine === generation,
    every(ms, fn) {
      const timer = setInterval(() => {
        if (mine !== generation || document.hidden) {
          if (mine !== generation) clearInterval(timer);
          return;
        }
        fn().catch((error) => failed(error, mine));
      }, ms);
    },
    reload: () => show(),
    go: (hash) => {
      location.hash = hash;
    },
  };
  try {
    const node = await chosen.page(ctx);
    if (mine === generation) view.replaceChildren(node);
  } catch (error) {
    failed(error, mine);
    // What the previous page showed must not pass for this one's.
    if (mine === generation && api.token()) {
      nav.replaceChildren();
      view.replaceChildren(
        h("p", { class: "muted", id: "nothing" }, "Nothing to show here. ", h("a", { href: route("connections") }, "Back to the connections")),
      );
    }
  }
}

function failed(error, mine) {
  if (mine !== generation) return;
  if (error instanceof api.ApiError && error.status === 401) {
    api.signOut();
    header(null);
    view.replaceChildren(signInPage(`Signed out: ${error.message}`));
    return;
  }
  notify(error instanceof api.ApiError ? error.message : "Something went wrong in the console; reload the page.");
  if (!(error instanceof api.ApiError)) console.error(error);
}

signOutButton.addEventListener("click", () => {
  api.signOut();
  notify("");
  show();
});
window.addEventListener("hashchange", () => {
  notify("");
  show();
});
window.addEventListener("unhandledrejection", (event) => failed(event.reason, generation));
// `#token=...` (the demo prints such a link): signed in, and the token leaves the address bar and history.
if (location.hash.startsWith("#token=")) {
  api.signIn(decodeURIComponent(location.hash.slice("#token=".length)));
  history.replaceState(null, "", `${location.pathname}#/connections`);
}
show();
