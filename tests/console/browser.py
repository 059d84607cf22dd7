#!/usr/bin/env python3
"""The admin console in a real browser: Debian's headless Chromium driven through WebDriver
(Selenium, with Debian's chromedriver, so nothing is downloaded), finding every control by its
role and accessible name as a person would, and doing the work with the keyboard.

Run by tests/tests/console_page.rs against a served API:
    browser.py BASE ADMIN_CELL ADMIN_PASSWORD USER_CELL USER_PASSWORD \
        MFA_ADMIN_CELL MFA_ADMIN_PASSWORD MFA_ADMIN_TOTP_SECRET SCREENSHOT_DIR

The second admin has its second factor on; its codes come from pyotp, as from an authenticator
app.

Chromium's proxy is a closed loopback port, so any request to another origin would fail, and the
page's resource timings must all be of BASE. axe-core (vendored under axe-core/, for the tests
only) scans every view: no serious or critical violation may remain.
"""

import json
import pathlib
import re
import sys
import time

import pyotp
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

HERE = pathlib.Path(__file__).resolve().parent
AXE = HERE / "axe-core" / "axe.min.js"
# The elements that can carry each role; the computed role and name decide among them.
CANDIDATES = {
    "button": "button, [role=button]",
    "textbox": "input:not([type]), input[type=text], input[type=email], input[type=url], input[type=tel], input[type=password], textarea",
    "searchbox": "input[type=search]",
    "combobox": "select",
    "heading": "h1, h2, h3",
    "dialog": "dialog",
    "alertdialog": "dialog",
    "table": "table",
    "status": "[role=status]",
}
WAIT = 30


class Console:
    def __init__(self, base, shots):
        self.base = base
        self.shots = shots
        self.steps = 0
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for flag in [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--hide-scrollbars",
            # Every origin but loopback goes to a closed port: nothing can leave the machine.
            "--proxy-server=127.0.0.1:9",
            "--window-size=1280,1000",
        ]:
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
        self.driver.set_script_timeout(60)

    # --- finding things as a person would ----------------------------------------------------
    def all(self, role, name):
        """Displayed elements of `role` whose accessible name is `name` (a string or a regex)."""
        found = []
        for element in self.driver.find_elements("css selector", CANDIDATES[role]):
            try:
                if not element.is_displayed():
                    continue
                if self.named(element.accessible_name, name) and element.aria_role == role:
                    found.append(element)
            except StaleElementReferenceException:
                continue
        return found

    def find(self, role, name, timeout=WAIT):
        def one(_):
            found = self.all(role, name)
            return found[0] if len(found) == 1 else False

        try:
            return WebDriverWait(self.driver, timeout).until(one)
        except TimeoutException:
            raise AssertionError(f"no single {role} named {name!r}; focused: {self.describe(self.focused())}")

    def gone(self, role, name, timeout=WAIT):
        WebDriverWait(self.driver, timeout).until(lambda _: not self.all(role, name))

    def wait(self, until, message="", timeout=WAIT):
        """Waits for `until(driver)` to be truthy; a table or row rebuilt meanwhile is no failure."""
        return WebDriverWait(self.driver, timeout, ignored_exceptions=[StaleElementReferenceException]).until(until, message)

    def focused(self):
        return self.driver.switch_to.active_element

    @staticmethod
    def describe(element):
        try:
            return f"{element.aria_role} {element.accessible_name!r}"
        except Exception:  # noqa: BLE001 - only for messages
            return "?"

    @staticmethod
    def named(label, name):
        return re.fullmatch(name, label) is not None if isinstance(name, re.Pattern) else label == name

    def assert_focus(self, role, name):
        def on_it(_):
            element = self.focused()
            return element.aria_role == role and self.named(element.accessible_name, name)

        try:
            WebDriverWait(self.driver, 10).until(on_it)
        except TimeoutException:
            raise AssertionError(f"focus is on {self.describe(self.focused())}, not the {role} {name!r}")

    def status(self, text):
        """Waits for a status line a person can perceive now (role status: the page's, or the open
        dialog's, since a modal dialog makes the rest inert) to say `text`."""
        def said(_):
            return any(
                text in line.text
                for line in self.driver.find_elements("css selector", "[role=status]")
                if line.is_displayed() and line.aria_role == "status"
            )

        self.wait(said, f"no status says {text!r}")

    # --- the keyboard -----------------------------------------------------------------------
    def keys(self, *keys):
        ActionChains(self.driver).send_keys(*keys).perform()

    def tab_to(self, role, name, backwards=False):
        """Presses Tab (or Shift+Tab) until focus is on the control; fails after 80 presses."""
        for _ in range(80):
            element = self.focused()
            if element.aria_role == role and self.named(element.accessible_name, name):
                return element
            if backwards:
                ActionChains(self.driver).key_down(Keys.SHIFT).send_keys(Keys.TAB).key_up(Keys.SHIFT).perform()
            else:
                self.keys(Keys.TAB)
        raise AssertionError(f"Tab never reached the {role} {name!r}")

    def press(self, role, name):
        """Tabs to a control and presses Enter on it."""
        self.tab_to(role, name)
        self.keys(Keys.ENTER)

    def replace_text(self, text):
        """Selects everything in the focused field (Ctrl+A) and types `text` over it."""
        ActionChains(self.driver).key_down(Keys.CONTROL).send_keys("a").key_up(Keys.CONTROL).perform()
        self.keys(Keys.BACKSPACE)
        if text:
            self.keys(text)

    # --- checks -----------------------------------------------------------------------------
    def step(self, what):
        self.steps += 1
        print(f"console-browser: {self.steps:2}. {what}", flush=True)

    def axe(self, view):
        self.driver.execute_script(AXE.read_text())
        violations = self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, { resultTypes: ['violations'] })"
            ".then((r) => done(r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(' ')) }))))"
            ".catch((e) => done([{ id: 'axe-error', impact: 'critical', nodes: [String(e)] }]));"
        )
        bad = [v for v in violations if v["impact"] in ("serious", "critical")]
        assert not bad, f"axe on the {view} view: {json.dumps(bad, indent=2)}"
        others = [f"{v['id']} ({v['impact']})" for v in violations]
        print(f"console-browser:     axe on the {view} view: no serious or critical violation; others: {others or 'none'}", flush=True)

    def rows(self, table_name):
        table = self.find("table", table_name)
        return [row.text for row in table.find_elements("css selector", "tbody tr")]

    def names(self, table_name):
        """The row headers (the users' names) of a table."""
        table = self.find("table", table_name)
        return [cell.text for cell in table.find_elements("css selector", "tbody th")]

    def shot(self, name):
        path = self.shots / name
        self.driver.save_screenshot(str(path))
        print(f"console-browser:     screenshot {path}", flush=True)

    def foreign_requests(self):
        entries = self.driver.execute_script(
            "return performance.getEntriesByType('resource').map((e) => e.name)"
        )
        return [url for url in entries if not url.startswith(self.base + "/")]

    def requested(self, suffix):
        entries = self.driver.execute_script(
            "return performance.getEntriesByType('resource').map((e) => e.name)"
        )
        return any(url.split("?")[0].endswith(suffix) for url in entries)


def run(base, admin, admin_password, user, user_password, mfa_admin, mfa_admin_password, mfa_admin_secret, shots):
    c = Console(base, shots)
    d = c.driver
    try:
        c.step("the page loads; focus on the first field of the sign-in form")
        d.get(base + "/console")
        c.find("heading", "Sign in")
        c.assert_focus("textbox", "Cellnumber")
        c.axe("sign-in")

        c.step("a wrong password is told on the form")
        c.keys(admin, Keys.TAB, "not-the-password", Keys.ENTER)
        alert = c.wait(
            lambda _: next((a for a in d.find_elements("css selector", "[role=alert]") if a.is_displayed() and a.text), False)
        )
        print(f"console-browser:     alert: {alert.text!r}", flush=True)

        c.step("sign in with the keyboard alone; focus on the users heading")
        c.tab_to("textbox", "Password", backwards=True)
        c.replace_text(admin_password)
        c.keys(Keys.ENTER)
        c.find("heading", "Users")
        c.assert_focus("heading", "Users")
        signed_in_at = time.monotonic()
        c.wait(lambda _: len(c.rows(re.compile("Users: 1 to .*"))) >= 2)

        c.step("search (debounced) finds the admin alone")
        c.press("searchbox", "Search users")
        c.keys(admin)
        c.find("table", "Users: 1 to 1 of 1")
        c.replace_text("")
        c.wait(lambda _: len(c.rows(re.compile("Users: .*"))) > 1)

        c.step("filters and sort follow the API: admins only, then names from Z to A")
        Select(c.find("combobox", "Role")).select_by_visible_text("Admin")
        c.find("table", "Users: 1 to 2 of 2")
        Select(c.find("combobox", "Role")).select_by_visible_text("Any role")
        Select(c.find("combobox", "Sort by")).select_by_visible_text("Name, Z to A")
        def z_to_a(_):
            names = c.names(re.compile("Users: 1 to .*"))
            return len(names) > 2 and names == sorted(names, key=str.lower, reverse=True)

        c.wait(z_to_a)

        c.step("create a user with the keyboard: the 422 beside its field, then success")
        c.press("button", "New user")
        c.find("dialog", "New user")
        c.assert_focus("textbox", "Name")
        c.keys("Grace Hopper", Keys.TAB, "+15550009999", Keys.TAB, "not-an-email", Keys.TAB, Keys.TAB, Keys.TAB, "correct-horse-1", Keys.ENTER)
        email = c.find("textbox", "Email")
        c.wait(lambda _: email.get_attribute("aria-invalid") == "true")
        message = d.find_element("id", "user-email-error").text
        assert message, "no message beside the email field"
        c.assert_focus("textbox", "Email")
        print(f"console-browser:     beside Email: {message!r}", flush=True)
        c.replace_text("grace@example.com")
        c.keys(Keys.ENTER)
        c.status("User Grace Hopper created.")
        c.gone("dialog", "New user")

        c.step("a duplicate cellnumber: the 409 on the form")
        c.press("button", "New user")
        c.assert_focus("textbox", "Name")
        c.keys("Second Grace", Keys.TAB, "+15550009999", Keys.TAB, Keys.TAB, Keys.TAB, Keys.TAB, "correct-horse-2", Keys.ENTER)
        dialog = c.find("dialog", "New user")
        alert = c.wait(
            lambda _: next((a for a in dialog.find_elements("css selector", "[role=alert]") if a.is_displayed() and a.text), False)
        )
        print(f"console-browser:     on the form: {alert.text!r}", flush=True)
        c.keys(Keys.ESCAPE)
        c.gone("dialog", "New user")
        c.assert_focus("button", "New user")

        c.step("find her, edit her name")
        c.press("searchbox", "Search users")
        c.keys("grace")
        c.find("table", "Users: 1 to 1 of 1")
        edit = re.compile(r"Edit Grace Hopper \(ID \d+\)")
        c.press("button", edit)
        c.find("dialog", "Edit Grace Hopper")
        c.assert_focus("textbox", "Name")
        c.replace_text("Grace B. Hopper")
        c.keys(Keys.ENTER)
        c.status("User Grace B. Hopper saved.")
        c.assert_focus("button", re.compile(r"Edit Grace B\. Hopper \(ID \d+\)"))
        assert c.names(re.compile("Users: .*")) == ["Grace B. Hopper"]

        c.step("disable her; sign her out everywhere; no second factor to turn off")
        c.keys(Keys.ENTER)
        c.find("dialog", "Edit Grace B. Hopper")
        c.press("button", "Disable account")
        c.status("Grace B. Hopper is disabled and signed out everywhere.")
        assert not c.all("button", "Turn off second factor"), "a second factor to turn off, but she has none"
        c.press("button", "Sign out everywhere")
        c.status("Grace B. Hopper is signed out everywhere.")
        c.find("button", "Enable account")

        c.step("her audit log: what was just done")
        c.press("button", "Show this user's audit log")
        c.find("heading", "Audit log")
        c.assert_focus("heading", "Audit log")
        table = re.compile(r"Audit events about user \d+: 1 to \d+ of \d+")
        c.wait(lambda _: len(c.rows(table)) >= 4)
        events = c.rows(table)
        actions = c.names(table)
        text = "\n".join(events)
        for action in ["sessions.revoked", "user.updated", "user.created"]:
            assert action in text, f"no {action} in {events}"
        assert "fields: isActive" in text and "fields: name" in text, events
        print(f"console-browser:     {len(events)} events about her: {actions}", flush=True)
        c.axe("audit")
        c.shot("console-audit.png")

        c.step("the whole log, filtered by action")
        c.press("button", "Clear audit filters")
        Select(c.find("combobox", "Action")).select_by_visible_text("user.created")
        c.wait(lambda _: all("user.created" in row for row in c.rows(re.compile("Audit events: 1 to .*"))))

        c.step("back to the users: the table (screenshot), enable her, delete her behind a confirmation")
        c.press("button", "Users")
        c.assert_focus("heading", "Users")
        # Searching is kept; clear it for the picture of the whole table.
        c.press("searchbox", "Search users")
        c.replace_text("")
        Select(c.find("combobox", "Sort by")).select_by_visible_text("ID, lowest first")
        c.wait(lambda _: len(c.rows(re.compile("Users: 1 to .*"))) > 3)
        c.axe("users")
        c.shot("console-users.png")
        c.press("searchbox", "Search users")
        c.keys("grace")
        c.find("table", "Users: 1 to 1 of 1")
        c.press("button", re.compile(r"Edit Grace B\. Hopper \(ID \d+\)"))
        c.press("button", "Enable account")
        c.status("Grace B. Hopper is enabled.")
        c.press("button", "Delete user")
        c.find("alertdialog", "Delete Grace B. Hopper?")
        c.assert_focus("button", "Keep the user")
        c.axe("confirmation")
        c.keys(Keys.ENTER)
        c.gone("alertdialog", "Delete Grace B. Hopper?")
        c.press("button", "Delete user")
        c.press("button", "Delete Grace B. Hopper")
        c.status("User Grace B. Hopper deleted.")
        c.assert_focus("heading", "Users")
        c.find("table", "Users: 0 to 0 of 0")

        c.step("own password change: a wrong current password on the form, then done")
        c.press("button", "Change my password")
        c.find("dialog", "Change my password")
        c.assert_focus("textbox", "Current password")
        c.keys("wrong-password", Keys.TAB, "brand-new-pass", Keys.ENTER)
        c.wait(lambda _: d.find_element("css selector", "#password-form .form-error").text)
        c.tab_to("textbox", "Current password", backwards=True)
        c.replace_text(admin_password)
        c.keys(Keys.ENTER)
        c.status("Your password is changed.")
        c.assert_focus("button", "Change my password")

        c.step("the access token is renewed with the refresh token before it expires")
        renewed = lambda _: c.requested("/api/users/token/refresh")  # noqa: E731
        c.wait(renewed, timeout=max(5, 90 - (time.monotonic() - signed_in_at)))
        c.press("button", "Users")
        c.find("table", re.compile(r"Users: \d+ to \d+ of \d+"))
        c.status("users found.")

        c.step("a phone's width: nothing wider than the screen")
        d.set_window_size(390, 844)
        c.find("heading", "Users")
        overflow = d.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{overflow}px wider than a phone's screen"
        c.axe("users at a phone's width")
        d.set_window_size(1280, 1000)

        c.step("sign out: back to the sign-in form, focus on its first field")
        c.press("button", "Sign out")
        c.find("heading", "Sign in")
        c.assert_focus("textbox", "Cellnumber")

        c.step("an admin with a second factor: the second step, cancelled, then a wrong code and the right one")
        c.keys(mfa_admin, Keys.TAB, mfa_admin_password, Keys.ENTER)
        c.find("heading", "Second step")
        c.assert_focus("textbox", "Code")
        c.axe("second step")
        c.press("button", "Cancel sign-in")
        c.find("heading", "Sign in")
        c.assert_focus("textbox", "Cellnumber")
        c.gone("heading", "Second step")
        c.keys(mfa_admin, Keys.TAB, mfa_admin_password, Keys.ENTER)
        c.find("heading", "Second step")
        c.assert_focus("textbox", "Code")
        totp = pyotp.TOTP(mfa_admin_secret)
        # A code of a step an hour away: well formed, and wrong.
        c.keys(totp.at(time.time() + 3600), Keys.ENTER)
        said = c.wait(lambda _: d.find_element("css selector", "#mfa-form .form-error").text)
        print(f"console-browser:     a wrong code: {said!r}", flush=True)
        c.assert_focus("textbox", "Code")
        while time.time() % 30 > 25:
            time.sleep(0.5)
        c.replace_text(totp.now())
        c.keys(Keys.ENTER)
        c.find("heading", "Users")
        c.assert_focus("heading", "Users")
        c.press("button", "Sign out")
        c.find("heading", "Sign in")
        c.assert_focus("textbox", "Cellnumber")

        c.step("a normal user is told the console is for admins")
        c.keys(user, Keys.TAB, user_password, Keys.ENTER)
        c.find("heading", "This console is for admins")
        c.assert_focus("heading", "This console is for admins")
        c.axe("not an admin")

        c.step("too many wrong passwords: the 429 with its wait, on the form")
        c.press("button", "Sign in with another account")
        c.assert_focus("textbox", "Cellnumber")
        c.keys(user, Keys.TAB)
        for attempt in range(8):
            c.replace_text(f"wrong-password-{attempt}")
            c.keys(Keys.ENTER)
            c.wait(lambda _: d.find_element("css selector", "#sign-in-form .form-error").text)
            said = d.find_element("css selector", "#sign-in-form .form-error").text
            if said.startswith("Too many attempts"):
                break
        assert re.fullmatch(r"Too many attempts\. Try again in \d+ seconds\.", said), said
        print(f"console-browser:     after {attempt + 1} tries: {said!r}", flush=True)

        c.step("no request left the origin; no script or style was refused")
        foreign = c.foreign_requests()
        assert not foreign, f"requests to other origins: {foreign}"
        refused = [e["message"] for e in d.get_log("browser")
                   if "Content Security Policy" in e["message"] or "Uncaught" in e["message"]]
        assert not refused, refused
        storage = d.execute_script("return [localStorage.length, sessionStorage.length, document.cookie]")
        assert storage == [0, 0, ""], f"tokens stored outside memory: {storage}"
    finally:
        d.quit()
    print(f"console-browser: {c.steps} steps passed", flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 10:
        sys.exit(__doc__)
    base, *accounts, shots = sys.argv[1:]
    run(base.rstrip("/"), *accounts, pathlib.Path(shots))
