#!/usr/bin/env python3
"""The OpenAPI document as generated clients read it (`make test`, `make client-test`).

1. The API served as `make fuzz` serves it (tests/fuzz/run.py's harness): `cargo lambda watch`
   on a free loopback port, a database of its own (`ut_<TEST_RUN_ID>_client`), an admin from
   `users-cli bootstrap-admin`.
2. A Python client generated from the document the API serves (openapi-python-client), and a
   TypeScript one (@hey-api/openapi-ts) that tsc type-checks.
3. A full session through the Python client: every operation, and the errors 400, 401, 403, 404,
   409, 422 and 429; the second factor's codes computed by pyotp, as an authenticator app would. Every answer must have a status its operation declares and parse into the type
   declared for it, losing no field and finding none missing (`to_dict()` gives back the JSON).

Environment: TEST_DATABASE_URL, TEST_RUN_ID, CARGO, DB_PROXY (as tests/fuzz/run.py).
Exit 1 on any failure.
"""

from __future__ import annotations

import base64
import datetime
import enum
import importlib
import importlib.util
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
BIN = HERE / "node_modules" / ".bin"
GENERATOR = Path(sys.executable).parent / "openapi-python-client"
PACKAGE = "users_api_client"

_spec = importlib.util.spec_from_file_location("fuzz_harness", ROOT / "tests" / "fuzz" / "run.py")
harness = importlib.util.module_from_spec(_spec)
sys.modules["fuzz_harness"] = harness  # its dataclasses look their module up there
_spec.loader.exec_module(harness)

DATABASE = f"ut_{harness.RUN_ID}_client"
ADMIN = ("+15550001001", "client-admin-password")
USER = ("+15550001002", "client-user-password")
THROTTLED = ("+15550001003", "client-throttled-password")
NEWCOMER = ("+15550001004", "client-newcomer-password")
LOGIN_MAX_FAILURES = 3


def log(message: str) -> None:
    print(f"client: {message}", flush=True)


def generate_python(document: Path, workdir: Path):
    """The generated package, imported."""
    config = workdir / "python-client.json"
    config.write_text(json.dumps({"package_name_override": PACKAGE, "post_hooks": []}))
    output = workdir / "python" / PACKAGE
    command = [str(GENERATOR), "generate", "--path", str(document), "--output-path", str(output),
               "--meta", "none", "--config", str(config), "--fail-on-warning"]
    done = subprocess.run(command, cwd=workdir, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"openapi-python-client failed:\n{done.stdout}{done.stderr}")
    sys.path.insert(0, str(output.parent))
    return importlib.import_module(PACKAGE)


def check_typescript(document: Path, workdir: Path) -> None:
    """@hey-api/openapi-ts generates a fetch client; tsc must find no error in it."""
    output = workdir / "typescript" / "generated"
    output.parent.mkdir(parents=True)
    shutil.copy(HERE / "typed.ts", output.parent / "typed.ts")
    generate = [str(BIN / "openapi-ts"), "--input", str(document), "--output", str(output),
                "--client", "@hey-api/client-fetch"]
    done = subprocess.run(generate, cwd=HERE, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"openapi-ts failed:\n{done.stdout}{done.stderr}")
    check = [str(BIN / "tsc"), "--noEmit", "--strict", "--target", "es2022", "--module", "nodenext",
             "--moduleResolution", "nodenext", "--skipLibCheck", "--lib", "es2022,dom,dom.iterable",
             *map(str, sorted(output.parent.rglob("*.ts")))]
    done = subprocess.run(check, cwd=HERE, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"tsc found errors in the generated TypeScript client:\n{done.stdout}{done.stderr}")
    log(f"TypeScript client: {len(list(output.rglob('*.ts')))} files and typed.ts, tsc --strict clean")


def same_json(parsed, sent, where: str) -> None:
    """`parsed` (a model's `to_dict()`) holds exactly what the server sent."""
    if isinstance(sent, dict):
        if not isinstance(parsed, dict) or set(parsed) != set(sent):
            raise AssertionError(f"{where}: keys {sorted(parsed)} parsed from {sorted(sent)}")
        for key in sent:
            same_json(parsed[key], sent[key], f"{where}.{key}")
    elif isinstance(sent, list):
        if not isinstance(parsed, list) or len(parsed) != len(sent):
            raise AssertionError(f"{where}: {parsed!r} parsed from {sent!r}")
        for index, (a, b) in enumerate(zip(parsed, sent)):
            same_json(a, b, f"{where}[{index}]")
    elif parsed != sent:
        # A date-time comes back in Python's spelling (+00:00 for Z): the same instant is enough.
        try:
            same = datetime.datetime.fromisoformat(parsed) == datetime.datetime.fromisoformat(sent)
        except (TypeError, ValueError):
            same = False
        if not same:
            raise AssertionError(f"{where}: {parsed!r} parsed from {sent!r}")


class Session:
    """Calls through the generated client, each answer checked against its declared type."""

    def __init__(self, client_package, base: str) -> None:
        self.pkg = client_package
        self.api = importlib.import_module(f"{PACKAGE}.api")
        self.models = importlib.import_module(f"{PACKAGE}.models")
        self.base = base
        self.seen: set[tuple[str, int]] = set()

    def client(self, token: str | None = None):
        options = {"base_url": self.base, "raise_on_unexpected_status": True, "timeout": None}
        if token is None:
            return self.pkg.Client(**options)
        return self.pkg.AuthenticatedClient(token=token, **options)

    def call(self, operation: str, expected: int, model: str | None, token: str | None = None, **kwargs):
        tag, name = operation.split(".")
        module = importlib.import_module(f"{PACKAGE}.api.{tag}.{name}")
        response = module.sync_detailed(client=self.client(token), **kwargs)
        status = int(response.status_code)
        where = f"{name} -> {status}"
        if status != expected:
            raise AssertionError(f"{where}, expected {expected}: {response.content[:300]!r}")
        self.seen.add((name, status))
        if model is None:
            if response.content:
                raise AssertionError(f"{where}: a body on {status}: {response.content[:200]!r}")
            return None
        cls = getattr(self.models, model)
        if not isinstance(response.parsed, cls):
            raise AssertionError(f"{where}: parsed as {type(response.parsed).__name__}, not {model}")
        same_json(response.parsed.to_dict(), json.loads(response.content), where)
        if status == 401 and response.headers.get("www-authenticate") != "Bearer":
            raise AssertionError(f"{where}: no WWW-Authenticate: Bearer")
        if status == 429 and not response.headers.get("retry-after", "").isdigit():
            raise AssertionError(f"{where}: no Retry-After")
        return response.parsed


def sms_code(outbox: Path, to: str) -> str:
    """The 6-digit code of the last text to `to` in the local server's outbox file."""
    texts = [json.loads(line) for line in outbox.read_text().splitlines()]
    body = [text["body"] for text in texts if text["to"] == to][-1]
    return next(run for run in "".join(c if c.isdigit() else " " for c in body).split() if len(run) == 6)


def texts(s: Session, outbox: Path) -> None:
    """Recovery and sign-up by SMS code, the codes read from the outbox file."""
    m = s.models
    s.call("sms.forgot_password", 202, "Detail", body=m.ForgotRequest(cellnumber=USER[0]))
    code = sms_code(outbox, USER[0])
    wrong = f"{(int(code) + 1) % 1_000_000:06}"
    s.call("sms.reset_password", 400, "ErrorBody",
           body=m.ResetRequest(cellnumber=USER[0], code=wrong, new_password="client-user-password-3"))
    s.call("sms.reset_password", 204, None,
           body=m.ResetRequest(cellnumber=USER[0], code=code, new_password="client-user-password-3"))
    s.call("sms.signup", 202, "Detail",
           body=m.SignupRequest(name="Client Newcomer", cellnumber=NEWCOMER[0], password=NEWCOMER[1]))
    code = sms_code(outbox, NEWCOMER[0])
    s.call("sms.verify_signup", 400, "ErrorBody",
           body=m.VerifyRequest(cellnumber=NEWCOMER[0], code=f"{(int(code) + 1) % 1_000_000:06}"))
    grant = s.call("sms.verify_signup", 201, "SessionGrant", body=m.VerifyRequest(cellnumber=NEWCOMER[0], code=code))
    assert grant.role_id == 2, grant


def run_session(s: Session, outbox: Path) -> None:
    m = s.models
    login = lambda who: m.LoginRequest(cellnumber=who[0], password=who[1])  # noqa: E731

    discovery = s.call("keys.openid_configuration", 200, "Discovery")
    assert discovery.jwks_uri.endswith("/.well-known/jwks.json"), discovery.jwks_uri
    s.call("keys.jwks", 200, "Jwks")
    admin = s.call("auth.login", 200, "SessionGrant", body=login(ADMIN))
    assert admin.token_type == "bearer" and admin.role_id == 1
    token = admin.token
    me = s.call("users.get_me", 200, "User", token)
    assert isinstance(me.created, datetime.datetime)
    s.call("users.update_me", 200, "User", token, body=m.ProfilePatch(name="Client Admin"))
    s.call("auth.login", 401, "ErrorBody", body=m.LoginRequest(cellnumber=ADMIN[0], password="not-the-password"))
    s.call("users.get_me", 401, "ErrorBody", "not-a-token")

    new = m.NewUser(name="Client User", cellnumber=USER[0], password=USER[1], email="client@example.com")
    user = s.call("users.create_user", 201, "User", token, body=new)
    s.call("users.create_user", 409, "ErrorBody", token, body=new)
    s.call("users.create_user", 422, "ValidationErrorBody", token,
           body=m.NewUser(name="   ", cellnumber="+15550001099", password=USER[1]))
    throttled = s.call("users.create_user", 201, "User", token,
                       body=m.NewUser(name="Client Throttled", cellnumber=THROTTLED[0], password=THROTTLED[1]))
    page = s.call("users.list_users", 200, "UserPage", token, sort=m.UserSort("-created"), q="Client", limit=10)
    assert [u.id for u in page.items][:2] == [throttled.id, user.id], page
    s.call("users.list_users", 422, "ValidationErrorBody", token, limit=0)
    s.call("users.get_user", 200, "User", token, id=user.id)
    s.call("users.get_user", 404, "ErrorBody", token, id=user.id + 1000)

    # A disabled account: the right password gets 403, which the document now declares.
    s.call("users.update_user", 200, "User", token, id=user.id, body=m.UserPatch(is_active=False))
    refused = s.call("auth.login", 403, "ErrorBody", body=login(USER))
    assert refused.detail == "Account disabled", refused
    s.call("users.update_user", 200, "User", token, id=user.id, body=m.UserPatch(is_active=True, profilepic=None))
    s.call("users.update_user", 409, "ErrorBody", token, id=me.id, body=m.UserPatch(role_id=2))

    first = s.call("auth.login", 200, "SessionGrant", body=login(USER))
    second = s.call("auth.login", 200, "SessionGrant", body=login(USER))
    s.call("users.list_users", 403, "ErrorBody", second.token)
    s.call("users.get_user", 403, "ErrorBody", second.token, id=me.id)
    refreshed = s.call("auth.refresh_token", 200, "SessionGrant",
                       body=m.RefreshRequest(refresh_token=second.refresh_token))
    s.call("auth.refresh_token", 401, "ErrorBody", body=m.RefreshRequest(refresh_token=second.refresh_token))
    # The spent token ended the second session: log in again to have one to list and end.
    third = s.call("auth.login", 200, "SessionGrant", body=login(USER))
    third = s.call("auth.refresh_token", 200, "SessionGrant", body=m.RefreshRequest(refresh_token=third.refresh_token))
    sessions = s.call("sessions.list_sessions", 200, "SessionList", third.token)
    listed = {view.id: view for view in sessions.items}
    assert listed[third.session_id].current and isinstance(listed[third.session_id].refreshed, datetime.datetime)
    assert listed[first.session_id].refreshed is None and refreshed.session_id not in listed
    s.call("sessions.delete_session", 204, None, third.token, session_id=first.session_id)
    s.call("sessions.delete_session", 404, "ErrorBody", third.token, session_id=first.session_id)
    s.call("auth.change_password", 403, "ErrorBody", third.token,
           body=m.PasswordChange(current_password="not-the-password", new_password="client-user-password-2"))
    s.call("auth.change_password", 204, None, third.token,
           body=m.PasswordChange(current_password=USER[1], new_password="client-user-password-2"))
    s.call("auth.logout", 204, None, third.token, scope=m.LogoutScope("others"))
    s.call("auth.logout", 204, None, third.token)
    s.call("users.get_me", 401, "ErrorBody", third.token)

    for _ in range(LOGIN_MAX_FAILURES):
        s.call("auth.login", 401, "ErrorBody", body=m.LoginRequest(cellnumber=THROTTLED[0], password="wrong-password"))
    s.call("auth.login", 429, "ErrorBody", body=login(THROTTLED))

    other = s.call("auth.login", 200, "SessionGrant", body=login((USER[0], "client-user-password-2")))
    s.call("sessions.revoke_user_sessions", 204, None, token, id=user.id)
    s.call("sessions.revoke_user_sessions", 404, "ErrorBody", token, id=user.id + 1000)
    s.call("users.get_me", 401, "ErrorBody", other.token)
    s.call("users.delete_user", 200, "Detail", token, id=throttled.id)
    s.call("users.delete_user", 404, "ErrorBody", token, id=throttled.id)

    second_factor(s, token, user.id)
    texts(s, outbox)

    audit = s.call("audit.list_audit", 200, "AuditPage", token, limit=100)
    actions = {event.action for event in audit.items}
    assert all(isinstance(action, enum.Enum) for action in actions)
    assert {a.value for a in actions} == {a.value for a in m.AuditAction}, sorted(a.value for a in actions)
    failed = s.call("audit.list_audit", 200, "AuditPage", token, action=m.AuditAction("login.failed"))
    reasons = {event.detail.reason.value for event in failed.items}
    assert reasons == {"credentials", "throttled", "disabled", "mfa"}, reasons
    s.call("audit.list_audit", 422, "ValidationErrorBody", token, limit=101)
    s.call("auth.logout", 204, None, token, scope=m.LogoutScope("global"))
    s.call("users.get_me", 401, "ErrorBody", token)


def second_factor(s: Session, token: str, user_id: int) -> None:
    """The admin turns its second factor on, signs in with it (a code, then a recovery code),
    renews its recovery codes and turns it off; then resets another user's."""
    import pyotp

    m = s.models
    wrong = lambda code: f"{(int(code) + 500_000) % 1_000_000:06d}"  # noqa: E731
    s.call("mfa.enrol_totp", 403, "ErrorBody", token, body=m.EnrolRequest(current_password="not-the-password"))
    enrolment = s.call("mfa.enrol_totp", 200, "Enrolment", token, body=m.EnrolRequest(current_password=ADMIN[1]))
    assert enrolment.otpauth_uri.startswith("otpauth://totp/"), enrolment.otpauth_uri
    totp = pyotp.TOTP(enrolment.secret)
    s.call("mfa.confirm_totp", 400, "ErrorBody", token, body=m.ConfirmRequest(code=wrong(totp.now())))
    # The step before the current one, so that the current one is still unused for the login.
    confirmed = s.call("mfa.confirm_totp", 200, "RecoveryCodes", token,
                       body=m.ConfirmRequest(code=totp.at(time.time() - 30)))
    codes = confirmed.recovery_codes
    s.call("mfa.enrol_totp", 409, "ErrorBody", token, body=m.EnrolRequest(current_password=ADMIN[1]))
    login = m.LoginRequest(cellnumber=ADMIN[0], password=ADMIN[1])
    challenge = s.call("auth.login", 200, "MfaChallenge", body=login)
    assert challenge.mfa_required is True
    step = m.MfaLoginRequest(mfa_token=challenge.mfa_token, code=wrong(totp.now()))
    s.call("auth.login_mfa", 401, "ErrorBody", body=step)
    s.call("auth.login_mfa", 422, "ValidationErrorBody", body=m.MfaLoginRequest(mfa_token=challenge.mfa_token))
    step = m.MfaLoginRequest(mfa_token=challenge.mfa_token, code=totp.at(time.time() + 30))
    s.call("auth.login_mfa", 200, "SessionGrant", body=step)
    challenge = s.call("auth.login", 200, "MfaChallenge", body=login)
    step = m.MfaLoginRequest(mfa_token=challenge.mfa_token, recovery_code=codes[0])
    s.call("auth.login_mfa", 200, "SessionGrant", body=step)
    renewed = s.call("mfa.renew_recovery_codes", 200, "RecoveryCodes", token,
                     body=m.ProofRequest(current_password=ADMIN[1], code=codes[1]))
    # The old codes died with the renewal.
    s.call("mfa.disable_totp", 403, "ErrorBody", token, body=m.ProofRequest(current_password=ADMIN[1], code=codes[2]))
    s.call("mfa.disable_totp", 204, None, token,
           body=m.ProofRequest(current_password=ADMIN[1], code=renewed.recovery_codes[0]))
    s.call("mfa.disable_totp", 409, "ErrorBody", token,
           body=m.ProofRequest(current_password=ADMIN[1], code=renewed.recovery_codes[1]))
    s.call("mfa.reset_user_mfa", 204, None, token, id=user_id)
    s.call("mfa.reset_user_mfa", 404, "ErrorBody", token, id=user_id + 1000)


def main() -> int:
    started = time.monotonic()
    env = {k: v for k, v in os.environ.items() if k != "SCHEMATHESIS_HOOKS"}
    workdir = Path(tempfile.mkdtemp(prefix="users-api-client-"))
    server_env = {
        **env,
        "SIGNUP": "open",
        "SMS_OUTBOX": str(workdir / "sms-outbox.jsonl"),
        "DATABASE_URL": f"{harness.SERVER}/{DATABASE}",
        "SECRET_KEY": secrets.token_hex(32),
        "BCRYPT_COST": "4",
        "LOGIN_MAX_FAILURES": str(LOGIN_MAX_FAILURES),
        "LOGIN_WINDOW_SECONDS": "900",
        "MFA_KEYS": f"client:{base64.b64encode(secrets.token_bytes(32)).decode()}",
        "RUST_LOG": "warn",
        "LOG_FORMAT": "json",
    }
    admin_env = {"ADMIN_CELLNUMBER": ADMIN[0], "ADMIN_PASSWORD": ADMIN[1], "ADMIN_NAME": "Client Admin"}
    watch = None
    failed = False
    try:
        log(f"database {DATABASE}, DB_PROXY={os.environ.get('DB_PROXY', 'off')}")
        harness.users_cli("bootstrap-admin", env={**server_env, **admin_env})
        watch = harness.Watch(server_env)
        watch.wait_listening()
        watch.warm_up()
        status, served = harness.call(watch.base, "GET", "/api/openapi.json")
        if status != 200:
            raise SystemExit(f"GET /api/openapi.json: {status}")
        document = workdir / "openapi.json"
        document.write_text(json.dumps(served))
        check_typescript(document, workdir)
        session = Session(generate_python(document, workdir), watch.base)
        try:
            run_session(session, workdir / "sms-outbox.jsonl")
        except Exception as error:  # an undeclared status raises the client's UnexpectedStatus
            failed = True
            log(f"FAILED: {type(error).__name__}: {error}")
        operations = {(method, path) for path, item in served["paths"].items() for method in item}
        called = {name for name, _ in session.seen}
        missing = {item["operationId"] for path, i in served["paths"].items() for item in i.values()} - called
        if missing and not failed:
            failed = True
            log(f"FAILED: no call of {sorted(missing)}")
        errors = sorted({status for _, status in session.seen if status >= 400})
        log(f"{len(session.seen)} (operation, status) pairs over {len(called)} of {len(operations)} "
            f"operations parsed into their declared types; errors {errors}")
    finally:
        if watch is not None:
            watch.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        harness.users_cli("drop-test-databases", harness.SERVER, DATABASE, env=env)
    log(f"{'failed' if failed else 'passed'} in {time.monotonic() - started:.0f} s")
    if failed and watch is not None:
        log(f"watch's log: {watch.log_path}")
    elif watch is not None:
        watch.log_path.unlink(missing_ok=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
