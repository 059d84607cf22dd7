// The users view: the table with search, filters, sort and paging as the API has them, and the
// dialog that creates a user or edits one and acts on its account.

import { api } from "./session.js";
import { announce, byId, clearErrors, debounce, element, showError } from "./dom.js";

const ROLES = { 1: "Admin", 2: "Normal user" };
const EDITABLE = ["name", "cellnumber", "email", "profilepic", "roleId"];

const query = { q: "", roleId: "", isActive: "", sort: "id", limit: 25, offset: 0 };
let total = 0;
/** The user the dialog edits (null: it creates one), and the id whose button opened it ("new": the New user button). */
let editing = null;
let returnTo = null;
let showAuditOf = () => {};

/** Wires the view; `auditOf(user)` switches to that user's audit log. */
export function setUp({ auditOf }) {
  showAuditOf = auditOf;
  const filters = byId("users-filters");
  const reload = () => {
    query.offset = 0;
    load();
  };
  byId("users-q").addEventListener("input", debounce((event) => {
    query.q = event.target.value.trim();
    reload();
  }, 300));
  for (const [id, name] of [["users-role", "roleId"], ["users-active", "isActive"], ["users-sort", "sort"], ["users-limit", "limit"]]) {
    byId(id).addEventListener("change", (event) => {
      query[name] = event.target.value;
      reload();
    });
  }
  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    query.q = byId("users-q").value.trim();
    reload();
  });
  byId("users-previous").addEventListener("click", () => page(-1));
  byId("users-next").addEventListener("click", () => page(1));
  byId("new-user").addEventListener("click", (event) => openEditor(null));

  const dialog = byId("user-dialog");
  byId("user-form").addEventListener("submit", save);
  byId("user-cancel").addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", restoreFocus);
  byId("user-toggle-active").addEventListener("click", toggleActive);
  byId("user-sign-out-everywhere").addEventListener("click", signOutEverywhere);
  byId("user-mfa-off").addEventListener("click", turnOffSecondFactor);
  byId("user-audit").addEventListener("click", () => {
    const user = editing;
    dialog.close();
    showAuditOf(user);
  });
  byId("user-delete").addEventListener("click", confirmDelete);
  byId("confirm-cancel").addEventListener("click", () => byId("confirm-dialog").close());
  byId("confirm-form").addEventListener("submit", deleteUser);
}

function page(step) {
  const next = query.offset + step * Number(query.limit);
  if (next < 0 || next >= total) return;
  query.offset = next;
  load().then(() => byId("users-caption").scrollIntoView({ block: "nearest" }));
}

/** Fetches the current page of users and shows it; `quiet` after an action that said its own result. */
export async function load({ quiet = false } = {}) {
  const filters = byId("users-filters");
  clearErrors(filters);
  let answer;
  try {
    answer = await api("GET", "api/users", { query });
  } catch (error) {
    showError(filters, error);
    return;
  }
  total = answer.total;
  const rows = byId("users-rows");
  rows.replaceChildren(...answer.items.map(row));
  if (answer.items.length === 0) {
    rows.append(element("tr", {}, element("td", { colspan: 8, text: "No user matches." })));
  }
  const first = answer.items.length ? answer.offset + 1 : 0;
  const last = answer.offset + answer.items.length;
  const range = `Users: ${first} to ${last} of ${total}`;
  byId("users-range").textContent = range;
  byId("users-caption").textContent = range;
  byId("users-previous").disabled = answer.offset === 0;
  byId("users-next").disabled = last >= total;
  if (!quiet) announce(`${total} ${total === 1 ? "user" : "users"} found.`);
}

function row(user) {
  const label = `${user.name} (ID ${user.id})`;
  return element("tr", {},
    element("td", { text: user.id }),
    element("th", { scope: "row", text: user.name }),
    element("td", { text: user.cellnumber }),
    element("td", { text: user.email || "—" }),
    element("td", { text: ROLES[user.roleId] || user.roleId }),
    element("td", { text: user.isActive ? "Active" : "Disabled" }),
    element("td", { text: user.mfaEnabled ? "On" : "Off" }),
    element("td", { class: "actions" },
      element("button", {
        type: "button",
        "data-edit": user.id,
        "aria-label": `Edit ${label}`,
        text: "Edit",
        onclick: () => openEditor(user),
      }),
      element("button", {
        type: "button",
        "aria-label": `Audit log of ${label}`,
        text: "Audit log",
        onclick: () => showAuditOf(user),
      })));
}

/** Opens the dialog for a new user (`user` null) or to edit `user`, focus on its first field. */
function openEditor(user) {
  editing = user;
  returnTo = user ? user.id : "new";
  const form = byId("user-form");
  form.reset();
  clearErrors(form);
  byId("user-actions-error").textContent = "";
  byId("user-actions-status").textContent = "";
  byId("user-dialog-title").textContent = user ? `Edit ${user.name}` : "New user";
  byId("user-save").textContent = user ? "Save changes" : "Create user";
  byId("user-password-label").textContent = user ? "New password (leave empty to keep it)" : "Password";
  byId("user-password-hint").textContent = user
    ? "8 to 72 bytes. Setting one resets the password and signs the user out everywhere."
    : "8 to 72 bytes.";
  byId("user-password").required = !user;
  for (const name of EDITABLE) {
    const field = form.elements.namedItem(name);
    field.value = user ? (user[name] ?? "") : name === "roleId" ? "2" : "";
  }
  byId("user-actions").hidden = !user;
  if (user) showAccount(user);
  byId("user-dialog").showModal();
  byId("user-name").focus();
}

/** The account part of the dialog for `user`: its state and the actions that fit it. */
function showAccount(user) {
  editing = user;
  byId("user-state").textContent =
    `${user.isActive ? "Active" : "Disabled"}; second factor ${user.mfaEnabled ? "on" : "off"}.`;
  byId("user-toggle-active").textContent = user.isActive ? "Disable account" : "Enable account";
  // Only shown when there is a second factor to turn off (the API tells with mfaEnabled).
  byId("user-mfa-off").hidden = user.mfaEnabled !== true;
}

function formBody(form) {
  const value = (name) => form.elements.namedItem(name).value.trim();
  const body = {};
  for (const name of EDITABLE) {
    const text = value(name);
    if (name === "roleId") body.roleId = Number(text);
    else if (name === "email" || name === "profilepic") body[name] = text === "" ? null : text;
    else body[name] = text;
  }
  const password = form.elements.namedItem("password").value;
  if (password !== "") body.password = password;
  return body;
}

async function save(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const body = formBody(form);
  try {
    if (!editing) {
      for (const name of ["email", "profilepic"]) if (body[name] === null) delete body[name];
      const created = await api("POST", "api/users", { body });
      returnTo = created.id;
      byId("user-dialog").close();
      announce(`User ${created.name} created.`);
    } else {
      // Only what changed, so the audit log names exactly the fields that moved.
      const changes = {};
      for (const [name, value] of Object.entries(body)) {
        if (name === "password" || value !== (editing[name] ?? null)) changes[name] = value;
      }
      if (Object.keys(changes).length === 0) {
        byId("user-dialog").close();
        announce("Nothing changed.");
        return;
      }
      const updated = await api("PATCH", `api/users/${editing.id}`, { body: changes });
      byId("user-dialog").close();
      announce(`User ${updated.name} saved.`);
    }
    await load({ quiet: true });
    restoreFocus();
  } catch (error) {
    showError(form, error);
  }
}

/** Runs an account action of the dialog; shows its error in the dialog's account part. */
async function act(action, message) {
  const alert = byId("user-actions-error");
  alert.textContent = "";
  try {
    await action();
    announce(message);
    load({ quiet: true });
  } catch (error) {
    alert.textContent = error.message;
  }
}

function toggleActive() {
  const user = editing;
  const isActive = !user.isActive;
  return act(async () => {
    showAccount(await api("PATCH", `api/users/${user.id}`, { body: { isActive } }));
  }, isActive ? `${user.name} is enabled.` : `${user.name} is disabled and signed out everywhere.`);
}

function signOutEverywhere() {
  const user = editing;
  return act(() => api("DELETE", `api/users/${user.id}/sessions`),
    `${user.name} is signed out everywhere.`);
}

function turnOffSecondFactor() {
  const user = editing;
  return act(async () => {
    await api("DELETE", `api/users/${user.id}/mfa`);
    showAccount({ ...user, mfaEnabled: false });
    byId("user-toggle-active").focus();
  }, `Second factor of ${user.name} turned off.`);
}

function confirmDelete() {
  const form = byId("confirm-form");
  clearErrors(form);
  byId("confirm-title").textContent = `Delete ${editing.name}?`;
  byId("confirm-text").textContent =
    `${editing.name} (${editing.cellnumber}) and every session of this user will be gone. This cannot be undone.`;
  byId("confirm-ok").textContent = `Delete ${editing.name}`;
  byId("confirm-dialog").showModal();
  // The safe choice first.
  byId("confirm-cancel").focus();
}

async function deleteUser(event) {
  event.preventDefault();
  const user = editing;
  try {
    await api("DELETE", `api/users/${user.id}`);
  } catch (error) {
    showError(event.currentTarget, error);
    return;
  }
  returnTo = null;
  byId("confirm-dialog").close();
  byId("user-dialog").close();
  announce(`User ${user.name} deleted.`);
  await load({ quiet: true });
  byId("users-title").focus();
}

/** Focus back on the button that opened the dialog (rebuilt with the table), else the heading. */
function restoreFocus() {
  if (byId("user-dialog").open) return;
  const target = returnTo === "new"
    ? byId("new-user")
    : document.querySelector(`button[data-edit="${returnTo}"]`);
  (target || byId("users-title")).focus();
}
