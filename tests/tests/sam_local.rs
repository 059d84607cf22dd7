//! The API under SAM local, over template.yaml: `sam local start-api` answers every route of the
//! contract as `make serve` does, and `sam local invoke` answers every sample event of `events/`
//! with the README's example admin on a fresh database.
//!
//! Needs Docker and what `make sam-build` prepares, so it is ignored by a plain `cargo test`;
//! `make sam-test` (part of `make test`) runs it.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use api_tests::serve::{free_port, workspace_root, HttpAnswer, Served};
use api_tests::{insert_user, test_app, TestDb, TEST_SECRET};
use base64::Engine;
use serde_json::{json, Value};

/// The README's example admin, whom the sample events sign in as.
const ADMIN_CELL: &str = "+15550000001";
const ADMIN_PASS: &str = "change-me-now";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// env.json's values, pointed at `db`.
fn env_file(db: &TestDb, name: &str) -> PathBuf {
    let mut env: Value =
        serde_json::from_str(&std::fs::read_to_string(workspace_root().join("env.json")).unwrap())
            .unwrap();
    let parameters = env["Parameters"].as_object_mut().unwrap();
    parameters.insert("DATABASE_URL".into(), json!(db.url));
    parameters.insert("SECRET_KEY".into(), json!(TEST_SECRET));
    parameters.insert("BCRYPT_COST".into(), json!("4"));
    // The key that seals second-factor secrets, as make serve writes one into .env.
    parameters.insert(
        "MFA_KEYS".into(),
        json!("k1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="),
    );
    let path = std::env::temp_dir().join(format!("users-api-sam-{}-{name}.json", db.name));
    std::fs::write(&path, env.to_string()).unwrap();
    path
}

fn sam_local() -> Command {
    let root = workspace_root();
    let mut command = Command::new(root.join("scripts/sam-local"));
    command.current_dir(&root).stdin(Stdio::null());
    command
}

/// Asserts the contract's error body and the headers every response carries.
fn assert_error(answer: &HttpAnswer, status: u16, detail: &str) {
    assert_eq!(answer.status, status, "{}", answer.body);
    assert_eq!(answer.body, json!({ "detail": detail }));
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_eq!(answer.header("cache-control"), Some("no-store"));
}

#[test]
#[ignore = "needs Docker and `make sam-build`: run by `make sam-test`"]
fn sam_local_start_api_and_invoke_answer_the_contract() {
    let rt = runtime();
    let started = Instant::now();
    let db = rt.block_on(TestDb::new());
    let app = test_app(&db);
    let admin_id = rt.block_on(insert_user(&app, 1, ADMIN_CELL, ADMIN_PASS));

    // --- sam local start-api, warm containers ---------------------------------------------------
    let port = free_port();
    let log = std::env::temp_dir().join(format!("users-api-sam-api-{port}.log"));
    let out = File::create(&log).unwrap();
    let mut command = sam_local();
    command
        .args([
            "start-api",
            "--warm-containers",
            "EAGER",
            "--host",
            "127.0.0.1",
        ])
        .args(["--port", &port.to_string()])
        .arg("--env-vars")
        .arg(env_file(&db, "api"))
        .stdout(out.try_clone().unwrap())
        .stderr(out);
    let server = Served::spawn(command, port, log, "scripts/sam-local");
    let listening = started.elapsed();

    let login = server.login(ADMIN_CELL, ADMIN_PASS);
    assert_eq!(login.status, 200, "{}\n{}", login.body, server.logs());
    assert_eq!(login.body["tokenType"], "bearer");
    assert_eq!(login.body["userId"], admin_id);
    let admin = login.body["token"].as_str().unwrap().to_owned();
    assert_error(
        &server.login(ADMIN_CELL, "wrong-password"),
        401,
        "Incorrect cellnumber or password",
    );

    let me = server.call("GET", "/api/users/me", Some(&admin), None);
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.body["cellnumber"], ADMIN_CELL);
    let renamed = server.call(
        "PATCH",
        "/api/users/me",
        Some(&admin),
        Some(&json!({ "name": "Administrator" })),
    );
    assert_eq!(renamed.status, 200, "{}", renamed.body);
    let audit = server.call(
        "GET",
        "/api/audit?action=login.succeeded",
        Some(&admin),
        None,
    );
    assert_eq!(audit.status, 200, "{}", audit.body);
    assert_eq!(audit.body["items"][0]["action"], "login.succeeded");
    let no_token = server.call("GET", "/api/users/me", None, None);
    assert_error(&no_token, 401, "Could not validate credentials");
    assert_eq!(no_token.header("www-authenticate"), Some("Bearer"));

    let ada = json!({ "name": "Ada", "cellnumber": "+15550000002", "password": "ada-password-1" });
    let created = server.call("POST", "/api/users", Some(&admin), Some(&ada));
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_u64().unwrap();
    let location = format!("/api/users/{id}");
    assert_eq!(created.header("location"), Some(location.as_str()));
    assert_eq!(created.body["roleId"], 2);
    assert!(created.body.get("password").is_none());
    let duplicate = server.call("POST", "/api/users", Some(&admin), Some(&ada));
    assert_eq!(duplicate.status, 409, "{}", duplicate.body);

    let page = server.call("GET", "/api/users?limit=1&offset=1", Some(&admin), None);
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(
        (
            &page.body["total"],
            &page.body["limit"],
            &page.body["offset"]
        ),
        (&json!(2), &json!(1), &json!(1))
    );
    assert_eq!(page.body["items"][0]["id"], id);
    let bad_limit = server.call("GET", "/api/users?limit=500", Some(&admin), None);
    assert_eq!(bad_limit.status, 422, "{}", bad_limit.body);

    let read = server.call("GET", &location, Some(&admin), None);
    assert_eq!(read.body, created.body);
    let patched = server.call(
        "PATCH",
        &location,
        Some(&admin),
        Some(&json!({ "name": "Ada King", "email": "ada@example.com" })),
    );
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(patched.body["name"], "Ada King");
    assert_eq!(patched.body["email"], "ada@example.com");

    let user_grant = server.login("+15550000002", "ada-password-1").body;
    // Sessions: refresh without a token, the list, ending one, and an admin's sign-out.
    let renewed = server.call(
        "POST",
        "/api/users/token/refresh",
        None,
        Some(&json!({ "refreshToken": user_grant["refreshToken"] })),
    );
    assert_eq!(renewed.status, 200, "{}", renewed.body);
    assert_eq!(renewed.body["sessionId"], user_grant["sessionId"]);
    let spent = server.call(
        "POST",
        "/api/users/token/refresh",
        None,
        Some(&json!({ "refreshToken": user_grant["refreshToken"] })),
    );
    assert_error(&spent, 401, "Could not validate credentials");
    let user = server.login("+15550000002", "ada-password-1").body["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let other = server.login("+15550000002", "ada-password-1").body;
    let sessions = server.call("GET", "/api/users/me/sessions", Some(&user), None);
    assert_eq!(sessions.status, 200, "{}", sessions.body);
    assert_eq!(sessions.body["items"].as_array().unwrap().len(), 2);
    let path = format!(
        "/api/users/me/sessions/{}",
        other["sessionId"].as_str().unwrap()
    );
    assert_eq!(server.call("DELETE", &path, Some(&user), None).status, 204);
    assert_error(
        &server.call("DELETE", &path, Some(&user), None),
        404,
        "Session not found",
    );
    let third = server.login("+15550000002", "ada-password-1").body;
    let signed_out = server.call(
        "DELETE",
        &format!("{location}/sessions"),
        Some(&admin),
        None,
    );
    assert_eq!(signed_out.status, 204, "{}", signed_out.body);
    let third_me = server.call("GET", "/api/users/me", third["token"].as_str(), None);
    assert_eq!(third_me.status, 401);
    let user = server.login("+15550000002", "ada-password-1").body["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_error(
        &server.call("GET", &format!("/api/users/{admin_id}"), Some(&user), None),
        403,
        "Not enough permissions",
    );
    let changed = server.call(
        "POST",
        "/api/users/me/password",
        Some(&user),
        Some(&json!({ "currentPassword": "ada-password-1", "newPassword": "ada-password-2" })),
    );
    assert_eq!(changed.status, 204, "{}", changed.body);
    let logout = server.call("POST", "/api/users/logout", Some(&user), None);
    assert_eq!(logout.status, 204, "{}", logout.body);
    assert_eq!(
        server
            .call("GET", "/api/users/me", Some(&user), None)
            .status,
        401
    );

    let deleted = server.call("DELETE", &location, Some(&admin), None);
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    assert_eq!(deleted.body["detail"], "User deleted successfully");
    assert_error(
        &server.call("GET", &location, Some(&admin), None),
        404,
        "User not found",
    );
    assert_eq!(
        server
            .call(
                "DELETE",
                &format!("/api/users/{admin_id}"),
                Some(&admin),
                None
            )
            .status,
        409
    );

    // Routes that do not exist, and methods a path does not serve, before any authentication.
    for path in ["/api/nothing-here", "/", "/api/users/1/extra"] {
        assert_error(&server.call("GET", path, None, None), 404, "Not Found");
    }
    for (method, path, allow) in [
        ("PUT", "/api/users/1", "GET, PATCH, DELETE"),
        ("DELETE", "/api/users/me", "GET, PATCH"),
        ("GET", "/api/users/login", "POST"),
        ("DELETE", "/api/users", "GET, POST"),
        ("DELETE", "/api/users/me/sessions", "GET"),
        ("GET", "/api/users/token/refresh", "POST"),
    ] {
        let answer = server.call(method, path, Some(&admin), None);
        assert_error(&answer, 405, "Method Not Allowed");
        assert_eq!(answer.header("allow"), Some(allow), "{method} {path}");
    }

    // The docs, with their assets.
    let document = server.call("GET", "/api/openapi.json", None, None);
    assert_eq!(document.status, 200);
    assert!(document.body["paths"]["/api/users/{id}"]["patch"].is_object());
    let docs = server.call("GET", "/docs", None, None);
    assert_eq!(docs.status, 200);
    assert!(docs
        .header("content-security-policy")
        .is_some_and(|csp| csp.contains("script-src 'self'")));
    let css = server.call("GET", "/docs/swagger-ui.css", None, None);
    assert_eq!(css.status, 200);
    assert!(css
        .body
        .as_str()
        .is_some_and(|css| css.contains(".swagger-ui")));

    // Warm latency through start-api (emulator, container and Flask included).
    let mut times: Vec<Duration> = (0..20)
        .map(|_| {
            let start = Instant::now();
            let answer = server.call("GET", "/api/users/me", Some(&admin), None);
            assert_eq!(answer.status, 200);
            start.elapsed()
        })
        .collect();
    times.sort();
    let logs = server.logs();
    assert!(
        !logs.contains("Traceback") && !logs.contains("Invalid lambda response"),
        "{logs}"
    );
    drop(server);
    let session = started.elapsed();
    eprintln!(
        "sam-test: start-api listening after {:.1} s; warm GET /api/users/me p50 {:.1} ms, max {:.1} ms; session done at {:.1} s",
        listening.as_secs_f64(),
        times[times.len() / 2].as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3,
        session.as_secs_f64()
    );

    // --- sam local invoke of every sample event, on a fresh database ---------------------------
    let db = rt.block_on(TestDb::new());
    let app = test_app(&db);
    rt.block_on(insert_user(&app, 1, ADMIN_CELL, ADMIN_PASS));
    let env = env_file(&db, "invoke");
    let mut events: Vec<String> = std::fs::read_dir(workspace_root().join("events"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter_map(|name| name.strip_suffix(".json").map(str::to_owned))
        // A Secrets Manager rotation step, not an HTTP event: it needs Secrets Manager, and
        // signing_key_rotation.rs runs it against moto.
        .filter(|name| name != "rotate-signing-key")
        .collect();
    events.sort();
    // In the order a newcomer would try them: sign in, use the token, sign out, change the password.
    let order = [
        ("login", 200),
        ("get-me", 200),
        ("update-me", 200),
        ("refresh-token", 200),
        ("list-sessions", 200),
        ("well-known", 200),
        // The second factor: enrolment starts; the sample's code is not the secret's (400); the
        // factor is off, so turning it off or renewing codes is 409; the sample's mfaToken is
        // no token (401).
        ("enrol-totp", 200),
        ("confirm-totp", 400),
        ("disable-totp", 409),
        ("renew-recovery-codes", 409),
        ("login-mfa", 401),
        // Recovery by SMS: no code was sent yet, so the sample's is wrong (400); then a code is
        // asked for (202, and the text fails to go out: SAM local reaches no SNS). Sign-up is
        // closed by default: both of its paths are 404.
        ("reset-password", 400),
        ("forgot-password", 202),
        ("signup", 404),
        ("verify-signup", 404),
        ("docs", 200),
        ("console", 200),
        ("list-users", 200),
        ("list-audit", 200),
        ("get-user", 200),
        ("create-user", 201),
        ("reset-user-mfa", 204),
        ("update-user", 200),
        ("revoke-user-sessions", 204),
        ("delete-user", 200),
        ("fallback", 405),
        ("logout", 204),
        ("change-password", 204),
        ("delete-session", 204),
    ];
    let mut ordered: Vec<&str> = order.iter().map(|(name, _)| *name).collect();
    ordered.sort();
    assert_eq!(ordered, events, "every event of events/ is invoked, once");

    let mut grant = Grant::default();
    for (function, status) in order {
        if function == "change-password" {
            // logout ended the session of the token the events used so far.
            grant = Grant::of(&invoke(&env, "login", &Grant::default()));
        }
        let started = Instant::now();
        let (answer, body) = invoke_answer(&env, function, &grant);
        assert_eq!(answer["statusCode"], status, "{function}: {answer}\n{body}");
        if ["login", "refresh-token"].contains(&function) {
            grant = Grant::of(&body);
        }
        eprintln!(
            "sam-test: sam local invoke {function}: {status} in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    eprintln!(
        "sam-test: {} events invoked; whole test {:.1} s",
        order.len(),
        started.elapsed().as_secs_f64()
    );
}

/// What the sample events' placeholders are filled with: the latest session grant.
#[derive(Default)]
struct Grant {
    token: String,
    refresh_token: String,
    session_id: String,
}

impl Grant {
    fn of(body: &Value) -> Self {
        let field = |name: &str| body[name].as_str().unwrap_or_default().to_owned();
        Self {
            token: field("token"),
            refresh_token: field("refreshToken"),
            session_id: field("sessionId"),
        }
    }
}

/// `sam local invoke` of `events/<function>.json` (its placeholders filled from `grant`): the
/// body of the function's answer, which must succeed.
fn invoke(env: &Path, function: &str, grant: &Grant) -> Value {
    let (answer, body) = invoke_answer(env, function, grant);
    assert_eq!(answer["statusCode"], 200, "{function}: {answer}");
    body
}

/// The function's answer as SAM prints it, and its body as JSON.
fn invoke_answer(env: &Path, function: &str, grant: &Grant) -> (Value, Value) {
    let root = workspace_root();
    let event = std::fs::read_to_string(root.join(format!("events/{function}.json")))
        .unwrap()
        .replace("REPLACE_WITH_A_TOKEN_FROM_LOGIN", &grant.token)
        .replace(
            "REPLACE_WITH_A_REFRESH_TOKEN_FROM_LOGIN",
            &grant.refresh_token,
        )
        .replace("REPLACE_WITH_A_SESSION_ID", &grant.session_id);
    let event_file = std::env::temp_dir().join(format!(
        "users-api-sam-event-{}-{function}.json",
        std::process::id()
    ));
    std::fs::write(&event_file, event).unwrap();
    let output = sam_local()
        .args(["invoke", &resource_of(function)])
        .arg("--env-vars")
        .arg(env)
        .arg("--event")
        .arg(&event_file)
        .output()
        .expect("scripts/sam-local");
    let _ = std::fs::remove_file(&event_file);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // SAM exits 0 even when the function failed: what counts is the answer it printed.
    let answer: Value = stdout
        .lines()
        .rev()
        .find_map(|line| serde_json::from_str(line).ok())
        .unwrap_or_else(|| {
            panic!("{function}: no answer from sam local invoke\n{stdout}\n{stderr}")
        });
    assert!(!stderr.contains("Traceback"), "{function}: {stderr}");
    let raw = answer["body"].as_str().unwrap_or_default();
    let bytes = if answer["isBase64Encoded"] == true {
        base64::engine::general_purpose::STANDARD
            .decode(raw)
            .unwrap()
    } else {
        raw.as_bytes().to_vec()
    };
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (answer, body)
}

/// The template's logical id of the function built from binary `function`.
fn resource_of(function: &str) -> String {
    let template = std::fs::read_to_string(workspace_root().join("template.yaml")).unwrap();
    let mut resource = None;
    for line in template.lines() {
        if line.starts_with("  ") && !line.starts_with("   ") && line.trim_end().ends_with(':') {
            resource = Some(line.trim().trim_end_matches(':').to_owned());
        }
        if line.trim() == format!("Binary: {function}") {
            return resource.expect("a resource before its Binary");
        }
    }
    panic!("no function with Binary: {function} in template.yaml");
}
