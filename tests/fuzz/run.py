#!/usr/bin/env python3
"""`make fuzz`: schemathesis against every function served by `cargo lambda watch`.

1. A database of its own, `ut_<TEST_RUN_ID>_fuzz` (the prefix `make test` drops), with an admin
   from `users-cli bootstrap-admin` and a normal user created through the API.
2. `cargo lambda watch` on a free loopback port, bcrypt cost 4, every function warmed up first
   (watch compiles a function on its first request).
3. Three schemathesis runs over the document the API serves at /api/openapi.json:
   - admin: every operation but logout, with the admin's token;
   - user: every operation but login and logout, with the normal user's token;
   - logout: POST /api/users/logout alone, each case with a fresh token of a third user, made
     only now so that no earlier run can have touched it;
   - refresh: POST /api/users/token/refresh alone, each schema-valid case with a fresh refresh
     token of that third user.
   The admin and the user are protected from the cases that would spoil the runs after them
   (hooks.py), and their tokens must still work after every run.
4. One `fuzz:` line per run, a table of the statuses each operation answered, and the totals:
   cases, operations, failures. Exit 1 on any failure or error. watch's process group and the
   database go away at the end.

Environment: DB_PROXY (the served functions' statement mode; `make test` fuzzes with `on`, where
every value reaches SQL through the escaping function), TEST_DATABASE_URL (default
mysql://root@127.0.0.1:3306), TEST_RUN_ID (default: a new
one), CARGO (default cargo), FUZZ_MAX_EXAMPLES (cases per operation in the fuzzing phase, default
100), FUZZ_SEED (default 1; `random` for a new one each run), FUZZ_STRICT=1 (count the known bugs
of hooks.py as failures), FUZZ_VERBOSE=1 (show schemathesis' own output even when it passes).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
ST = Path(sys.executable).parent / "st"
CARGO = os.environ.get("CARGO", "cargo")
SERVER = os.environ.get("TEST_DATABASE_URL", "mysql://root@127.0.0.1:3306").rstrip("/")
RUN_ID = os.environ.get("TEST_RUN_ID") or f"{int(time.time())}_{os.getpid()}"
DATABASE = f"ut_{RUN_ID}_fuzz"
MAX_EXAMPLES = os.environ.get("FUZZ_MAX_EXAMPLES", "100")
SEED = os.environ.get("FUZZ_SEED", "1")
VERBOSE = os.environ.get("FUZZ_VERBOSE") == "1"

ADMIN = ("+15550000001", "fuzz-admin-password")  # the document's login example: it gets throttled
USER = ("+15550000002", "fuzz-user-password")  # the document's NewUser example: creating it is a 409
SESSIONS = ("+15550009999", "fuzz-sessions-password")  # signs in for every logout and refresh case

CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "positive_data_acceptance",
    "missing_required_header",
    "ignored_auth",
    "use_after_free",
    "ensure_resource_availability",
    # hooks.py
    "error_body",
    "contract_headers",
    "no_secret",
]

# One request per function, answered without a token or a body.
WARM_UP = [
    ("GET", "/api/openapi.json", 200),
    ("POST", "/api/users/login", 422),
    ("POST", "/api/users/logout", 401),
    ("GET", "/api/users/me", 401),
    ("PATCH", "/api/users/me", 401),
    ("POST", "/api/users/me/password", 401),
    ("POST", "/api/users", 401),
    ("GET", "/api/users", 401),
    ("GET", "/api/users/1", 401),
    ("PATCH", "/api/users/1", 401),
    ("DELETE", "/api/users/1", 401),
    ("POST", "/api/users/token/refresh", 422),
    ("GET", "/api/users/me/sessions", 401),
    ("DELETE", "/api/users/me/sessions/AAAAAAAAAAAAAAAAAAAAAA", 401),
    ("DELETE", "/api/users/1/sessions", 401),
    ("GET", "/api/audit", 401),
    ("POST", "/api/users/login/mfa", 422),
    ("POST", "/api/users/me/mfa/totp", 401),
    ("POST", "/api/users/me/mfa/totp/confirm", 401),
    ("POST", "/api/users/me/mfa/totp/disable", 401),
    ("POST", "/api/users/me/mfa/recovery-codes", 401),
    ("DELETE", "/api/users/1/mfa", 401),
    ("POST", "/api/users/password/forgot", 422),
    ("POST", "/api/users/password/reset", 422),
    # Served with SIGNUP=open (closed, they would answer 404 as unknown paths do).
    ("POST", "/api/users/signup", 422),
    ("POST", "/api/users/signup/verify", 422),
]


def log(message: str) -> None:
    print(f"fuzz: {message}", flush=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def call(base: str, method: str, path: str, token: str | None = None, body=None, timeout: float = 30):
    """`(status, JSON body or None)` of one request."""
    headers = {"content-type": "application/json"} if body is not None else {}
    if token:
        headers["authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")


def users_cli(*args: str, env: dict[str, str]) -> None:
    command = [CARGO, "run", "--quiet", "-p", "users-cli", "--", *args]
    if subprocess.run(command, cwd=ROOT, env=env).returncode != 0:
        raise SystemExit(f"users-cli {args[0]} failed")


class Watch:
    """`cargo lambda watch` in a process group of its own, logging outside the repository."""

    def __init__(self, env: dict[str, str]) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(tempfile.gettempdir()) / f"users-api-fuzz-watch-{self.port}.log"
        with open(self.log_path, "wb") as out:
            self.process = subprocess.Popen(
                [CARGO, "lambda", "watch", "--ignore-changes", "-A", "127.0.0.1", "-P", str(self.port)],
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def wait_listening(self, seconds: float = 120) -> None:
        deadline = time.monotonic() + seconds
        while True:
            if self.process.poll() is not None:
                raise SystemExit(f"cargo lambda watch exited with {self.process.returncode}:\n{self.tail()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit(f"cargo lambda watch did not listen on {self.port}:\n{self.tail()}")
                time.sleep(0.2)

    def warm_up(self) -> None:
        started = time.monotonic()
        for method, path, expected in WARM_UP:
            # Long enough for a first build of the function on a cold target directory.
            status, body = call(self.base, method, path, timeout=900)
            if status != expected:
                raise SystemExit(f"warm-up {method} {path}: {status} {body}\n{self.tail()}")
        log(f"{len(WARM_UP)} routes warm in {time.monotonic() - started:.0f} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def login(base: str, who: tuple[str, str]) -> dict:
    """The session grant of a login."""
    status, body = call(base, "POST", "/api/users/login", body={"cellnumber": who[0], "password": who[1]})
    if status != 200:
        raise SystemExit(f"login of {who[0]}: {status} {body}")
    return body


def create_user(base: str, admin_token: str, who: tuple[str, str], name: str) -> int:
    body = {"name": name, "cellnumber": who[0], "password": who[1]}
    status, answer = call(base, "POST", "/api/users", admin_token, body)
    if status != 201:
        raise SystemExit(f"creating {who[0]}: {status} {answer}")
    return answer["id"]


def still_signed_in(base: str, token: str, role_id: int, who: str) -> None:
    """A run must leave alone the tokens the next runs use: if not, its figures mean little."""
    status, body = call(base, "GET", "/api/users/me", token)
    if status != 200 or body.get("roleId") != role_id:
        raise SystemExit(f"the {who}'s token no longer works after the run: {status} {body}")


@dataclass
class Run:
    name: str
    args: list[str]
    env: dict[str, str]
    cases: int = 0
    operations: int = 0
    failures: int = 0
    errors: int = 0
    seconds: float = 0.0
    set_apart: Counter = field(default_factory=Counter)


def schemathesis(base: str, run: Run, workdir: Path) -> None:
    """One `st run`; its figures into `run`, its output shown when it fails."""
    report = workdir / f"{run.name}.json"
    set_apart = workdir / f"{run.name}.set-apart"
    output = workdir / f"{run.name}.log"
    seed = str(secrets.randbelow(2**31)) if SEED == "random" else SEED
    command = [
        str(ST),
        "--config-file",
        str(HERE / "schemathesis.toml"),
        "run",
        f"{base}/api/openapi.json",
        "--checks",
        ",".join(CHECKS),
        "--max-examples",
        MAX_EXAMPLES,
        "--seed",
        seed,
        "--request-timeout",
        "30",
        "--report",
        "json",
        "--report-json-path",
        str(report),
        *run.args,
    ]
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": str(HERE / "hooks.py"),
        "FUZZ_SET_APART_LOG": str(set_apart),
        "FUZZ_STATUS_LOG": str(workdir / "statuses"),
        **run.env,
    }
    started = time.monotonic()
    # In a directory of its own: nothing schemathesis writes lands in the repository.
    with open(output, "wb") as out:
        exit_code = subprocess.run(command, cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT).returncode
    run.seconds = time.monotonic() - started
    document = json.loads(report.read_text()) if report.exists() else {}
    run.cases = document.get("test_cases", {}).get("generated", 0)
    run.operations = (document.get("operations") or {}).get("tested", 0)
    run.failures = sum(group["count"] for group in document.get("failures", []))
    run.errors = sum(group["count"] for group in document.get("errors", []))
    if exit_code != 0 and run.failures == 0 and run.errors == 0:
        run.errors = 1
    if set_apart.exists():
        # One count per case, though a case may fail several checks.
        cases = {tuple(line.split("\t")) for line in set_apart.read_text(encoding="utf-8").splitlines()}
        run.set_apart = Counter(name for name, _ in cases)
    if VERBOSE or run.failures or run.errors:
        sys.stdout.write(output.read_text(errors="replace"))
    log(
        f"{run.name}: {run.cases} cases, {run.operations} operations, {run.failures} failures, "
        f"{run.errors} errors in {run.seconds:.0f} s (seed {seed})"
    )


def status_table(workdir: Path) -> list[str]:
    """`METHOD path  status: count ...` for every operation the runs called."""
    path = workdir / "statuses"
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    seen = Counter(tuple(line.split("\t")) for line in lines)
    table = []
    for label in sorted({label for label, _ in seen}, key=lambda label: label.split()[::-1]):
        statuses = sorted(status for other, status in seen if other == label)
        table.append(f"  {label:<44}" + "  ".join(f"{status}: {seen[label, status]}" for status in statuses))
    return table


def main() -> int:
    started = time.monotonic()
    database_url = f"{SERVER}/{DATABASE}"
    secret_key = secrets.token_hex(32)
    env = {k: v for k, v in os.environ.items() if k != "SCHEMATHESIS_HOOKS"}
    workdir = Path(tempfile.mkdtemp(prefix="users-api-fuzz-"))
    server_env = {
        **env,
        "DATABASE_URL": database_url,
        "SECRET_KEY": secret_key,
        "BCRYPT_COST": "4",
        "TOKEN_TTL_SECONDS": "3600",
        "LOGIN_MAX_FAILURES": "5",
        "LOGIN_WINDOW_SECONDS": "900",
        # The keys that seal TOTP secrets: the second factor's routes work as in a deployment.
        "MFA_KEYS": f"fuzz:{base64.b64encode(secrets.token_bytes(32)).decode()}",
        # Sign-up open, so its two routes are fuzzed past their 404; texts to a file of the run;
        # the per-address hourly cap high enough that forgot and sign-up are fuzzed past their 429.
        "SIGNUP": "open",
        "SMS_OUTBOX": str(workdir / "sms-outbox.jsonl"),
        "SMS_MAX_PER_ADDRESS_PER_HOUR": "100000",
        "SMS_MAX_PER_HOUR": "1000000",
        "RUST_LOG": "warn",
        "LOG_FORMAT": "json",
    }
    admin_env = {"ADMIN_CELLNUMBER": ADMIN[0], "ADMIN_PASSWORD": ADMIN[1], "ADMIN_NAME": "Fuzz Admin"}
    watch: Watch | None = None
    runs: list[Run] = []
    try:
        log(f"database {DATABASE}, DB_PROXY={os.environ.get('DB_PROXY', 'off')}")
        users_cli("bootstrap-admin", env={**server_env, **admin_env})
        watch = Watch(server_env)
        watch.wait_listening()
        watch.warm_up()
        base = watch.base
        admin_grant = login(base, ADMIN)
        admin = admin_grant["token"]
        admin_id = call(base, "GET", "/api/users/me", admin)[1]["id"]
        user_id = create_user(base, admin, USER, "Fuzz User")
        user_grant = login(base, USER)
        user = user_grant["token"]
        guarded = {
            "FUZZ_PROTECTED_IDS": f"{admin_id},{user_id}",
            "FUZZ_PROTECTED_SESSIONS": f"{admin_grant['sessionId']},{user_grant['sessionId']}",
            "FUZZ_SECRET": secret_key,
        }
        admin_header = ["-H", f"Authorization: Bearer {admin}"]
        user_header = ["-H", f"Authorization: Bearer {user}"]
        runs.append(Run("admin", [*admin_header, "--exclude-path", "/api/users/logout"], guarded))
        runs.append(Run("user", [*user_header, "--exclude-path-regex", "^/api/users/log(in|out)$"], guarded))
        for run in runs:
            schemathesis(base, run, workdir)
            still_signed_in(base, admin, 1, "admin")
            still_signed_in(base, user, 2, "user")
        # Made only now, so that no earlier run can have changed it or throttled its logins.
        sessions_id = create_user(base, admin, SESSIONS, "Fuzz Sessions")
        runs.append(
            Run(
                "logout",
                ["--include-path", "/api/users/logout"],
                {
                    **guarded,
                    "FUZZ_PROTECTED_IDS": f"{admin_id},{user_id},{sessions_id}",
                    "FUZZ_FRESH_LOGIN": f"{SESSIONS[0]}:{SESSIONS[1]}",
                    "FUZZ_BASE_URL": base,
                },
            )
        )
        schemathesis(base, runs[-1], workdir)
        runs.append(
            Run(
                "refresh",
                ["--include-path", "/api/users/token/refresh"],
                {
                    **guarded,
                    "FUZZ_PROTECTED_IDS": f"{admin_id},{user_id},{sessions_id}",
                    "FUZZ_FRESH_REFRESH": f"{SESSIONS[0]}:{SESSIONS[1]}",
                    "FUZZ_BASE_URL": base,
                },
            )
        )
        schemathesis(base, runs[-1], workdir)
        still_signed_in(base, admin, 1, "admin")
        still_signed_in(base, user, 2, "user")
        table = status_table(workdir)
    finally:
        if watch is not None:
            watch.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        users_cli("drop-test-databases", SERVER, DATABASE, env=env)

    log("statuses answered, by operation:")
    for line in table:
        log(line)
    set_apart = sum((run.set_apart for run in runs), Counter())
    for name, count in sorted(set_apart.items()):
        log(f"not counted as failures: {name}: {count} case(s)")
    cases = sum(run.cases for run in runs)
    failures = sum(run.failures for run in runs)
    errors = sum(run.errors for run in runs)
    per_run = ", ".join(f"{run.name} {run.cases}" for run in runs)
    log(
        f"{cases} cases ({per_run}) on {len(WARM_UP) - 1} operations, "
        f"{failures} failures, {errors} errors in {time.monotonic() - started:.0f} s"
    )
    if failures or errors:
        log(f"watch's log: {watch.log_path}")
        return 1
    watch.log_path.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
