// The public REST API, as the console uses it: the bearer token from sessionStorage, and every error as the
// sentence the API wrote (`error.message`), never as raw JSON.

const TOKEN_KEY = "rakuten-connector.token";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function signIn(value) {
  sessionStorage.setItem(TOKEN_KEY, value.trim().replace(/^Bearer\s+/i, ""));
}

export function signOut() {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** What the token says about its holder, for display only: the API checks the token on every call. */
export function claims() {
  const value = token();
  if (!value) return null;
  try {
    const part = value.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const padded = part + "=".repeat((4 - (part.length % 4)) % 4);
    const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
    const body = JSON.parse(new TextDecoder().decode(bytes));
    return { merchantId: String(body.merchant_id ?? ""), operator: body.role === "operator" };
  } catch {
    return { merchantId: "", operator: false };
  }
}

async function sentence(response) {
  try {
    const body = await response.json();
    const message = body && body.error && body.error.message;
    if (typeof message === "string" && message) {
      return new ApiError(response.status, String(body.error.code || ""), message);
    }
  } catch {
    // not JSON: said below in words
  }
  return new ApiError(response.status, "", `The API answered HTTP ${response.status} without an explanation.`);
}

/** Calls the API; resolves to the JSON body (null for 204), rejects with an ApiError carrying a sentence. */
export async function call(method, path, body) {
  const headers = { Accept: "application/json" };
  const value = token();
  if (value) headers.Authorization = `Bearer ${value}`;
  const init = { method, headers, cache: "no-store" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, "unreachable", "The API cannot be reached. Check your connection and try again.");
  }
  if (!response.ok) throw await sentence(response);
  return response.status === 204 ? null : response.json();
}

export function get(path, query) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== null && value !== undefined && value !== "") params.set(key, String(value));
  }
  const text = params.toString();
  return call("GET", text ? `${path}?${text}` : path);
}

export function connectionPath(connectionId, ...rest) {
  return ["/v1/connections", encodeURIComponent(connectionId), ...rest.map(encodeURIComponent)].join("/");
}
