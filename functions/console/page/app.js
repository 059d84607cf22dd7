// The console's entry: signing in (with the second step when the account has one), switching
// views, the own password change and signing out.

import * as session from "./session.js";
import * as users from "./users.js";
import * as audit from "./audit.js";
import { announce, byId, clearErrors, showError } from "./dom.js";

const ADMIN = 1;
const VIEWS = ["sign-in-view", "not-admin-view", "users-view", "audit-view"];
let mfaToken = null;

/** Shows one view, marks its nav button, and puts focus on its heading (or `focus`). */
function show(view, focus) {
  for (const id of VIEWS) byId(id).hidden = id !== view;
  const signedIn = view === "users-view" || view === "audit-view";
  byId("nav").hidden = !signedIn;
  byId("show-users").toggleAttribute("aria-current", false);
  byId("show-audit").toggleAttribute("aria-current", false);
  if (view === "users-view") byId("show-users").setAttribute("aria-current", "page");
  if (view === "audit-view") byId("show-audit").setAttribute("aria-current", "page");
  (focus || byId(view).querySelector("h1")).focus();
}

function showSignIn(message) {
  mfaToken = null;
  // A session that ends under an open dialog leaves nothing of it behind.
  for (const dialog of document.querySelectorAll("dialog[open]")) dialog.close();
  const form = byId("sign-in-form");
  form.reset();
  clearErrors(form);
  form.hidden = false;
  byId("mfa-form").hidden = true;
  if (message) form.querySelector(".form-error").textContent = message;
  show("sign-in-view", byId("sign-in-cellnumber"));
}

/** After either step of signing in: admins get the users, anyone else is told and signed out. */
async function signedIn(grant) {
  if (grant.roleId !== ADMIN) {
    await session.signOut();
    show("not-admin-view");
    return;
  }
  show("users-view");
  announce("Signed in.");
  await users.load();
}

async function submitSignIn(event) {
  event.preventDefault();
  const form = event.currentTarget;
  clearErrors(form);
  const cellnumber = byId("sign-in-cellnumber").value.trim();
  const password = byId("sign-in-password").value;
  try {
    const step = await session.signIn(cellnumber, password);
    if (step.mfaToken) {
      mfaToken = step.mfaToken;
      form.hidden = true;
      const mfa = byId("mfa-form");
      mfa.reset();
      clearErrors(mfa);
      mfa.hidden = false;
      byId("mfa-code").focus();
      return;
    }
    await signedIn(step.grant);
  } catch (error) {
    showError(form, error);
    if (!Object.keys(error.fields).length) byId("sign-in-password").focus();
  }
}

async function submitSecondFactor(event) {
  event.preventDefault();
  const form = event.currentTarget;
  clearErrors(form);
  try {
    await signedIn(await session.verifySecondFactor(mfaToken, byId("mfa-code").value));
  } catch (error) {
    showError(form, error);
    byId("mfa-code").focus();
  }
}

async function showUsers() {
  show("users-view");
  await users.load();
}

async function showAudit(user) {
  show("audit-view");
  await audit.filterBy(user ? { targetId: user.id } : {});
}

function openPasswordDialog() {
  const form = byId("password-form");
  form.reset();
  clearErrors(form);
  byId("password-dialog").showModal();
  byId("password-current").focus();
}

async function changePassword(event) {
  event.preventDefault();
  const form = event.currentTarget;
  clearErrors(form);
  try {
    await session.api("POST", "api/users/me/password", {
      body: {
        currentPassword: byId("password-current").value,
        newPassword: byId("password-new").value,
      },
    });
    byId("password-dialog").close();
    announce("Your password is changed.");
  } catch (error) {
    showError(form, error);
  }
}

async function signOut() {
  await session.signOut();
  showSignIn();
  announce("Signed out.");
}

session.whenEnded((message) => showSignIn(message));
users.setUp({ auditOf: (user) => showAudit(user) });
audit.setUp();
byId("sign-in-form").addEventListener("submit", submitSignIn);
byId("mfa-form").addEventListener("submit", submitSecondFactor);
byId("mfa-cancel").addEventListener("click", () => showSignIn());
byId("not-admin-back").addEventListener("click", () => showSignIn());
byId("show-users").addEventListener("click", showUsers);
byId("show-audit").addEventListener("click", () => showAudit(null));
byId("open-password").addEventListener("click", openPasswordDialog);
byId("password-form").addEventListener("submit", changePassword);
byId("password-cancel").addEventListener("click", () => byId("password-dialog").close());
byId("password-dialog").addEventListener("close", () => byId("open-password").focus());
byId("sign-out").addEventListener("click", signOut);
showSignIn();
