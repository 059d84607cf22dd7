//! The admin console: a page of the API's own, with its scripts and style compiled into the
//! console function, under a policy that runs same-origin scripts only; and the whole of an
//! admin's work done in headless Chromium (tests/console/browser.py), by role and accessible name,
//! with the keyboard, over `cargo lambda watch`, with nothing fetched from another origin.

use std::path::PathBuf;
use std::process::Command;

use api_tests::serve::{workspace_root, Served};
use api_tests::{insert_user, test_app, test_env, Answer, Event, TestDb};
use lambda_http::{Body, Response};
use serde_json::json;

/// The sum of tests/console/axe-core/axe.min.js (axe-core 4.14.1), recorded in its README.
const AXE_SHA256: &str = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c";

#[test]
fn the_vendored_axe_core_is_the_pinned_release() {
    let dir = workspace_root().join("tests/console/axe-core");
    let bytes = std::fs::read(dir.join("axe.min.js")).unwrap();
    let digest = ring::digest::digest(&ring::digest::SHA256, &bytes);
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex, AXE_SHA256, "axe.min.js is not the vendored release");
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    assert!(
        readme.contains(AXE_SHA256),
        "README.md does not record the sum"
    );
}

async fn console(event: Event) -> Response<Body> {
    console::handler(event.request()).await.unwrap()
}

fn asset_event(name: &str) -> Event {
    Event::v2("console")
        .at("GET", &format!("/console/{name}"))
        .path_param("asset", name)
}

fn text(response: &Response<Body>) -> &str {
    std::str::from_utf8(response.body().as_ref()).unwrap()
}

#[tokio::test]
async fn the_page_loads_only_its_own_modules_under_a_strict_policy() {
    let page = console(Event::v2("console").at("GET", "/console")).await;
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    let policy = page.headers()["content-security-policy"].to_str().unwrap();
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ] {
        assert!(policy.contains(directive), "{directive} missing: {policy}");
    }
    assert!(!policy.contains("unsafe"), "{policy}");
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    let html = text(&page);
    // Nothing from another origin, no inline script or style, no inline handler.
    assert!(!html.contains("://"), "{html}");
    assert!(
        !html.contains("<script>") && !html.contains("<style"),
        "{html}"
    );
    assert!(
        !html.contains(" onclick=") && !html.contains(" style="),
        "{html}"
    );

    // Every file the page or a module names is served, with its type; nothing else is linked.
    let mut named: Vec<String> = html
        .split("console/")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect();
    for (name, content_type, _) in console::ASSETS {
        let answer = console(asset_event(name)).await;
        assert_eq!(answer.status(), 200, "{name}");
        assert_eq!(answer.headers()["content-type"], content_type, "{name}");
        assert!(answer.headers().contains_key("cache-control"));
        let body = text(&answer);
        assert!(
            !body.contains("http://") && !body.contains("https://"),
            "{name} names another origin"
        );
        named.extend(
            body.split("from \"./")
                .skip(1)
                .filter_map(|rest| rest.split('"').next())
                .map(str::to_owned),
        );
    }
    named.sort();
    named.dedup();
    let mut served: Vec<String> = console::ASSETS
        .iter()
        .map(|(n, _, _)| n.to_string())
        .collect();
    served.sort();
    assert_eq!(named, served, "files named by the page and its modules");
}

#[tokio::test]
async fn tokens_stay_in_memory_and_unknown_assets_are_404() {
    for (name, _, body) in console::ASSETS {
        for storage in ["localStorage", "sessionStorage", "document.cookie", "eval("] {
            assert!(!body.contains(storage), "{name} uses {storage}");
        }
    }
    for unknown in ["index.html", "app.js.map", "..", "console", "../Cargo.toml"] {
        let answer = Answer::from_response(console(asset_event(unknown)).await);
        answer.assert_error(404);
        assert_eq!(answer.body["detail"], "Not Found");
    }
}

const ADMIN_CELL: &str = "+15550000001";
const ADMIN_PASS: &str = "admin-password-1";
const USER_CELL: &str = "+15550000002";
const USER_PASS: &str = "user-password-1";

/// Where the screenshots go: the tests' output directory (`CONSOLE_SCREENSHOTS` overrides it,
/// so the README's pictures can be taken again with `CONSOLE_SCREENSHOTS=docs/images`).
fn screenshot_dir() -> PathBuf {
    match std::env::var_os("CONSOLE_SCREENSHOTS") {
        Some(dir) => workspace_root().join(dir),
        None => PathBuf::from(env!("CARGO_TARGET_TMPDIR")),
    }
}

/// The Python of the Makefile's venv, which holds Selenium (`make test-tools`).
fn python() -> PathBuf {
    let venv = workspace_root().join(".venv/bin/python3");
    assert!(
        venv.exists(),
        "{} is missing: run `make test-tools` (Selenium, chromium, chromium-driver)",
        venv.display()
    );
    venv
}

/// A second admin, whose console sign-in takes the second step.
const MFA_ADMIN_CELL: &str = "+15550000005";
const MFA_ADMIN_PASS: &str = "mfa-admin-password-5";
const MFA_KEYS: &str = "local1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";

/// pyotp's code of `secret` now, as an authenticator app shows it, taken while at least 5 seconds
/// of its step remain.
fn authenticator_code(secret: &str) -> String {
    let script = "import pyotp, sys, time\n\
                  while time.time() % 30 > 25: time.sleep(0.5)\n\
                  print(pyotp.TOTP(sys.argv[1]).now())";
    let output = Command::new(python())
        .args(["-c", script, secret])
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "pyotp is missing: run `make test-tools` ({})",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// Enrols the second admin's authenticator through the API; answers its base32 secret.
fn turn_on_second_factor(server: &Served) -> String {
    let signed_in = server.login(MFA_ADMIN_CELL, MFA_ADMIN_PASS);
    assert_eq!(signed_in.status, 200, "{:?}", signed_in.body);
    let token = signed_in.body["token"].as_str().unwrap().to_owned();
    let enrolment = server.call(
        "POST",
        "/api/users/me/mfa/totp",
        Some(&token),
        Some(&json!({ "currentPassword": MFA_ADMIN_PASS })),
    );
    assert_eq!(enrolment.status, 200, "{:?}", enrolment.body);
    let secret = enrolment.body["secret"].as_str().unwrap().to_owned();
    let confirmed = server.call(
        "POST",
        "/api/users/me/mfa/totp/confirm",
        Some(&token),
        Some(&json!({ "code": authenticator_code(&secret) })),
    );
    assert_eq!(confirmed.status, 200, "{:?}", confirmed.body);
    secret
}

#[test]
fn headless_chromium_does_every_console_task_by_role_and_name_offline() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let db = runtime.block_on(TestDb::new());
    let app = test_app(&db);
    runtime.block_on(insert_user(&app, 1, ADMIN_CELL, ADMIN_PASS));
    runtime.block_on(insert_user(&app, 2, USER_CELL, USER_PASS));
    runtime.block_on(insert_user(&app, 1, MFA_ADMIN_CELL, MFA_ADMIN_PASS));
    // Tokens of a minute: the console must renew one while the test runs.
    let mut env = test_env(&db);
    env.retain(|(name, _)| *name != "TOKEN_TTL_SECONDS");
    env.push(("TOKEN_TTL_SECONDS", "60".to_owned()));
    env.push(("MFA_KEYS", MFA_KEYS.to_owned()));
    let server = Served::start(&env);
    let mfa_secret = turn_on_second_factor(&server);

    // watch builds each function on its first request: make those before the browser's, and
    // give the table a few users worth a picture.
    assert_eq!(server.call("GET", "/console", None, None).status, 200);
    assert_eq!(
        server.call("GET", "/api/openapi.json", None, None).status,
        200
    );
    let admin = server.login(ADMIN_CELL, ADMIN_PASS);
    assert_eq!(admin.status, 200, "{:?}", admin.body);
    let token = admin.body["token"].as_str().unwrap().to_owned();
    for (i, name) in [
        "Ada Lovelace",
        "Alan Turing",
        "Barbara Liskov",
        "Edsger Dijkstra",
        "Katherine Johnson",
    ]
    .into_iter()
    .enumerate()
    {
        let body = json!({
            "name": name,
            "cellnumber": format!("+1555010000{i}"),
            "password": "a-long-password",
            "email": format!("{}@example.com", name.split(' ').next().unwrap().to_lowercase()),
        });
        let created = server.call("POST", "/api/users", Some(&token), Some(&body));
        assert_eq!(created.status, 201, "{:?}", created.body);
    }
    // Bodiless calls: answered by each function without changing anything.
    for (method, path) in [
        ("GET", "/api/users"),
        ("GET", "/api/audit"),
        ("PATCH", "/api/users/999999"),
        ("DELETE", "/api/users/999999"),
        ("DELETE", "/api/users/999999/sessions"),
        ("POST", "/api/users/me/password"),
        ("POST", "/api/users/token/refresh"),
    ] {
        let answer = server.call(method, path, Some(&token), None);
        assert!(answer.status < 500, "{method} {path}: {:?}", answer.body);
    }
    let user = server.login(USER_CELL, USER_PASS);
    let user_token = user.body["token"].as_str().unwrap();
    assert_eq!(
        server
            .call("POST", "/api/users/logout", Some(user_token), None)
            .status,
        204
    );

    let shots = screenshot_dir();
    std::fs::create_dir_all(&shots).unwrap();
    let run = Command::new(python())
        .arg(workspace_root().join("tests/console/browser.py"))
        .args([&server.base, ADMIN_CELL, ADMIN_PASS, USER_CELL, USER_PASS])
        .args([MFA_ADMIN_CELL, MFA_ADMIN_PASS, &mfa_secret])
        .arg(&shots)
        .output()
        .expect("python3");
    let stdout = String::from_utf8_lossy(&run.stdout);
    eprintln!("{stdout}");
    assert!(
        run.status.success(),
        "the browser session failed:\n{stdout}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&run.stderr),
        server.logs()
    );
    for name in ["console-users.png", "console-audit.png"] {
        let png = std::fs::read(shots.join(name)).unwrap();
        assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "{name}");
    }

    // What the API recorded of the session: the browser changed the admin's password, deleted
    // the user it made, and its sign-outs ended sessions.
    let admin = server.login(ADMIN_CELL, "brand-new-pass");
    assert_eq!(admin.status, 200, "the console did not change the password");
    let token = admin.body["token"].as_str().unwrap();
    for (action, at_least) in [
        ("password.changed", 1),
        ("user.deleted", 1),
        ("sessions.revoked", 1),
        ("logout", 2),
    ] {
        let events = server.call(
            "GET",
            &format!("/api/audit?action={action}"),
            Some(token),
            None,
        );
        assert!(
            events.body["total"].as_u64().unwrap() >= at_least,
            "{action}: {:?}",
            events.body
        );
    }
}
