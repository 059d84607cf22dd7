// Requests to the public API on this page's own origin. Paths are relative to the page, so the
// console also works behind a stage prefix (/prod/console -> /prod/api/...).

const BASE = new URL(".", window.location.href);

/** An error answer of the API (or no answer at all), with what the console shows of it. */
export class ApiError extends Error {
  constructor(status, detail, retryAfter) {
    super(describe(status, detail, retryAfter));
    this.status = status;
    this.detail = detail;
    /** Field name -> message, from a 422's `[{loc, msg}]`. */
    this.fields = {};
    if (Array.isArray(detail)) {
      for (const problem of detail) {
        const loc = Array.isArray(problem.loc) ? problem.loc : [];
        const field = loc[loc.length - 1];
        if (typeof field === "string" && !(field in this.fields)) this.fields[field] = problem.msg;
      }
    }
  }
}

function describe(status, detail, retryAfter) {
  if (status === 0) return "The API could not be reached. Check the connection and try again.";
  if (status === 429) {
    const wait = Number.parseInt(retryAfter, 10);
    return Number.isFinite(wait)
      ? `Too many attempts. Try again in ${wait} seconds.`
      : "Too many attempts. Try again later.";
  }
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail.map((problem) => problem.msg).filter(Boolean).join("; ") || "Invalid input.";
  }
  return `The API answered ${status}.`;
}

/**
 * `method path` with an optional JSON body, query (empty values left out) and bearer token;
 * resolves with the parsed body (null for 204), rejects with an ApiError.
 */
export async function call(method, path, { token, body, query } = {}) {
  const url = new URL(path, BASE);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  const headers = { accept: "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      // Nothing of this origin's cookies is needed or sent; tokens travel in the header only.
      credentials: "omit",
      cache: "no-store",
    });
  } catch {
    throw new ApiError(0, null, null);
  }
  const text = await response.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (!response.ok) {
    throw new ApiError(response.status, parsed && parsed.detail, response.headers.get("retry-after"));
  }
  return parsed;
}
