// The admin API, with the session's CSRF token on every change.
let csrf = "";

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message || `HTTP ${status}`);
    this.status = status;
    this.code = body?.error?.code;
    this.problems = body?.error?.problems || [];
  }
}

export async function api(method, path, body) {
  const headers = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (method !== "GET") headers["x-csrf-token"] = csrf;
  const res = await fetch(path, { method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status === 401) {
    location.assign("/admin/login");
    throw new ApiError(401, await res.json().catch(() => null));
  }
  if (res.status === 204) return null;
  const json = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, json);
  return json;
}

/** JSON lines from a GET (an export), each line parsed. */
export async function jsonLines(path) {
  const res = await fetch(path, { credentials: "same-origin" });
  if (!res.ok) throw new ApiError(res.status, await res.json().catch(() => null));
  return (await res.text()).split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l));
}

/** Who is signed in; keeps the CSRF token for later changes. */
export async function session() {
  const me = await api("GET", "/v1/admin/session");
  csrf = me.csrf || "";
  return me;
}

export const site = (s) => `/v1/admin/sites/${encodeURIComponent(s)}`;
