// Small helpers over the DOM: building rows, announcing results, and showing the API's errors
// where they belong.

/** The element with this id (the page's ids are fixed, so a missing one is a bug). */
export function byId(id) {
  const element = document.getElementById(id);
  if (!element) throw new Error(`no #${id} on the page`);
  return element;
}

/** A new element with attributes (`text` sets its text) and children. */
export function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  node.append(...children);
  return node;
}

/**
 * Says `message` in a status line, which screen readers read out politely: the open dialog's
 * (a modal dialog makes the rest of the page inert), else the page's.
 */
export function announce(message) {
  const dialog = document.querySelector("dialog[open]");
  const status = (dialog && dialog.querySelector("[role=status]")) || byId("status");
  // Emptied first, so the same message twice is read twice.
  status.textContent = "";
  window.setTimeout(() => { status.textContent = message; }, 50);
}

/** `fn` called once input has paused for `ms` milliseconds. */
export function debounce(fn, ms) {
  let timer;
  return (...args) => {
    window.clearTimeout(timer);
    timer = window.setTimeout(() => fn(...args), ms);
  };
}

/** Clears the form-level message and every field message of `form`. */
export function clearErrors(form) {
  for (const message of form.querySelectorAll(".form-error, .field-error")) {
    message.textContent = "";
  }
  for (const field of form.querySelectorAll("[aria-invalid]")) {
    field.removeAttribute("aria-invalid");
  }
}

/**
 * Shows an API error in `form`: each 422 field message beside its field (tied to it with
 * aria-describedby, and the first such field focused), anything else as the form's alert.
 */
export function showError(form, error) {
  clearErrors(form);
  let first = null;
  for (const [name, message] of Object.entries(error.fields || {})) {
    const field = form.elements.namedItem(name);
    const slot = field && form.querySelector(`#${field.id}-error`);
    if (!slot) continue;
    slot.textContent = message;
    field.setAttribute("aria-invalid", "true");
    first = first || field;
  }
  const alert = form.querySelector(".form-error");
  if (first) {
    alert.textContent = "Check the fields marked below.";
    first.focus();
  } else {
    alert.textContent = error.message;
  }
}

/** A time of the API (RFC 3339) as a <time> in the reader's locale. */
export function time(value) {
  if (!value) return element("span", { text: "—" });
  const date = new Date(value);
  return element("time", { datetime: value, text: date.toLocaleString() });
}
