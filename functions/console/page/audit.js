// The audit view: every event, or one user's, newest first, with the API's filters and paging.

import { api } from "./session.js";
import { call } from "./api.js";
import { announce, byId, clearErrors, debounce, element, showError, time } from "./dom.js";

const query = { action: "", actorId: "", targetId: "", limit: 25, offset: 0 };
let total = 0;

/** Wires the view; the action filter offers the actions the API's own document lists. */
export function setUp() {
  const reload = () => {
    query.offset = 0;
    load();
  };
  byId("audit-action").addEventListener("change", (event) => {
    query.action = event.target.value;
    reload();
  });
  byId("audit-limit").addEventListener("change", (event) => {
    query.limit = event.target.value;
    reload();
  });
  for (const [id, name] of [["audit-actor", "actorId"], ["audit-target", "targetId"]]) {
    byId(id).addEventListener("input", debounce((event) => {
      query[name] = event.target.value.trim();
      reload();
    }, 300));
  }
  byId("audit-filters").addEventListener("submit", (event) => {
    event.preventDefault();
    reload();
  });
  byId("audit-clear").addEventListener("click", () => {
    filterBy({});
    byId("audit-action").focus();
  });
  byId("audit-previous").addEventListener("click", () => page(-1));
  byId("audit-next").addEventListener("click", () => page(1));
  listActions();
}

async function listActions() {
  let actions = [];
  try {
    const document = await call("GET", "api/openapi.json");
    actions = document.components.schemas.AuditAction.enum || [];
  } catch {
    // The filter still offers "Every action"; the table works without the list.
  }
  byId("audit-action").append(...actions.map((action) => element("option", { value: action, text: action })));
}

/** Shows the events that match `filters` (`{targetId}` for one user's), from the first page. */
export function filterBy(filters) {
  query.action = filters.action || "";
  query.actorId = filters.actorId ? String(filters.actorId) : "";
  query.targetId = filters.targetId ? String(filters.targetId) : "";
  query.offset = 0;
  byId("audit-action").value = query.action;
  byId("audit-actor").value = query.actorId;
  byId("audit-target").value = query.targetId;
  return load();
}

function page(step) {
  const next = query.offset + step * Number(query.limit);
  if (next < 0 || next >= total) return;
  query.offset = next;
  load();
}

export async function load() {
  const filters = byId("audit-filters");
  clearErrors(filters);
  let answer;
  try {
    answer = await api("GET", "api/audit", { query });
  } catch (error) {
    showError(filters, error);
    return;
  }
  total = answer.total;
  const rows = byId("audit-rows");
  rows.replaceChildren(...answer.items.map(row));
  if (answer.items.length === 0) {
    rows.append(element("tr", {}, element("td", { colspan: 6, text: "No event matches." })));
  }
  const first = answer.items.length ? answer.offset + 1 : 0;
  const last = answer.offset + answer.items.length;
  const whose = query.targetId ? ` about user ${query.targetId}` : "";
  const range = `Audit events${whose}: ${first} to ${last} of ${total}`;
  byId("audit-range").textContent = range;
  byId("audit-caption").textContent = range;
  byId("audit-previous").disabled = answer.offset === 0;
  byId("audit-next").disabled = last >= total;
  announce(`${total} audit ${total === 1 ? "event" : "events"} found.`);
}

function row(event) {
  const detail = Object.entries(event.detail || {})
    .map(([name, value]) => `${name}: ${Array.isArray(value) ? value.join(", ") : value}`)
    .join("; ");
  return element("tr", {},
    element("td", {}, time(event.at)),
    element("th", { scope: "row", text: event.action }),
    element("td", { text: event.actorId ?? "—" }),
    element("td", { text: event.targetId ?? "—" }),
    element("td", { text: event.sourceIp ?? "—" }),
    element("td", { text: detail || "—" }));
}
