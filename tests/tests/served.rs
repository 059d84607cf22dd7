//! The API as `make serve` serves it: every function under `cargo lambda watch`, over HTTP, on
//! the contract's paths.

use api_tests::serve::Served;
use api_tests::{insert_user, test_app, test_env, TestDb};
use mysql_async::prelude::Queryable;
use serde_json::json;

/// A runtime for the setup and checks beside the HTTP calls, and a database of its own with an app
/// on it.
fn database() -> (tokio::runtime::Runtime, TestDb, shared::App) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let db = runtime.block_on(TestDb::new());
    let app = test_app(&db);
    (runtime, db, app)
}

#[test]
fn sign_in_and_read_over_http_under_cargo_lambda_watch() {
    let (runtime, db, app) = database();
    let (admin_id, user_id) = runtime.block_on(async {
        (
            insert_user(&app, 1, "+15550000001", "admin-password-1").await,
            insert_user(&app, 2, "+15550000002", "user-password-2").await,
        )
    });
    let server = Served::start(&test_env(&db));

    let answer = server.login("+15550000001", "admin-password-1");
    assert_eq!(answer.status, 200, "{}\n{}", answer.body, server.logs());
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    let admin = answer.body["token"].as_str().unwrap().to_owned();

    let answer = server.call("GET", "/api/users/me", Some(&admin), None);
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["id"], admin_id);
    assert_eq!(answer.body["roleId"], 1);

    let answer = server.call("GET", &format!("/api/users/{user_id}"), Some(&admin), None);
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["cellnumber"], "+15550000002");

    let user = server.login("+15550000002", "user-password-2").body["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let answer = server.call("GET", &format!("/api/users/{admin_id}"), Some(&user), None);
    assert_eq!(answer.status, 403, "{}", answer.body);
    assert_eq!(answer.body["detail"], "Not enough permissions");

    let answer = server.login("+15550000002", "wrong-password");
    assert_eq!(answer.status, 401);
    assert_eq!(answer.header("www-authenticate"), Some("Bearer"));

    let answer = server.call("GET", "/api/users/me", None, None);
    assert_eq!(answer.status, 401);
    assert_eq!(answer.body["detail"], "Could not validate credentials");

    // Revoking the user's token rows makes its token fail at once.
    runtime.block_on(async {
        let mut conn = app.pool.get_conn().await.unwrap();
        conn.exec_drop("DELETE FROM access_token WHERE user_id = ?", (user_id,))
            .await
            .unwrap();
    });
    assert_eq!(
        server
            .call("GET", "/api/users/me", Some(&user), None)
            .status,
        401
    );
    assert_eq!(
        server
            .call("GET", "/api/users/me", Some(&admin), None)
            .status,
        200
    );

    // Paths outside the contract: its own 404, not the local emulator's page.
    let unknown = server.call("GET", "/api/nothing-here", Some(&admin), None);
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.body, json!({ "detail": "Not Found" }));
}

#[test]
fn the_whole_contract_over_http_under_cargo_lambda_watch() {
    let (runtime, db, app) = database();
    let admin_id = runtime.block_on(insert_user(&app, 1, "+15550000001", "admin-password-1"));
    let server = Served::start(&test_env(&db));
    let admin = server.login("+15550000001", "admin-password-1").body["token"]
        .as_str()
        .unwrap()
        .to_owned();

    // Create, then read it back where Location says.
    let created = server.call(
        "POST",
        "/api/users",
        Some(&admin),
        Some(&json!({ "name": "Ada", "cellnumber": "+15550000002", "password": "ada-password-1", "email": "ada@example.com" })),
    );
    assert_eq!(created.status, 201, "{}\n{}", created.body, server.logs());
    let location = created.header("location").unwrap().to_owned();
    let id = created.body["id"].as_u64().unwrap();
    assert_eq!(location, format!("/api/users/{id}"));
    assert_eq!(
        server.call("GET", &location, Some(&admin), None).body,
        created.body
    );
    let duplicate = server.call(
        "POST",
        "/api/users",
        Some(&admin),
        Some(
            &json!({ "name": "Ada 2", "cellnumber": "+15550000002", "password": "ada-password-1" }),
        ),
    );
    assert_eq!(duplicate.status, 409);

    // List, paginated.
    let page = server.call("GET", "/api/users?limit=1&offset=1", Some(&admin), None);
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.body["total"], 2);
    assert_eq!(page.body["items"][0]["id"], id);
    assert_eq!(
        server
            .call("GET", "/api/users?limit=500", Some(&admin), None)
            .status,
        422
    );

    // Update.
    let patched = server.call(
        "PATCH",
        &location,
        Some(&admin),
        Some(&json!({ "name": "Ada King", "email": null })),
    );
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(patched.body["name"], "Ada King");
    assert!(patched.body["email"].is_null());

    // The user changes its password; its other token stops working, the one used does not.
    let ada = server.login("+15550000002", "ada-password-1").body["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let ada_elsewhere = server.login("+15550000002", "ada-password-1").body["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let changed = server.call(
        "POST",
        "/api/users/me/password",
        Some(&ada),
        Some(&json!({ "currentPassword": "ada-password-1", "newPassword": "ada-password-2" })),
    );
    assert_eq!(changed.status, 204, "{}", changed.body);
    assert_eq!(
        server.call("GET", "/api/users/me", Some(&ada), None).status,
        200
    );
    assert_eq!(
        server
            .call("GET", "/api/users/me", Some(&ada_elsewhere), None)
            .status,
        401
    );

    // Logout revokes the token it was called with.
    assert_eq!(
        server
            .call("POST", "/api/users/logout", Some(&ada), None)
            .status,
        204
    );
    assert_eq!(
        server.call("GET", "/api/users/me", Some(&ada), None).status,
        401
    );

    // Bad input over the wire: each gets its status and a JSON detail.
    let bad_bodies: [(&str, Vec<u8>, u16); 3] = [
        ("text/plain", b"hello".to_vec(), 415),
        ("application/json", b"{\"name\":".to_vec(), 422),
        ("application/json", vec![b' '; 70 * 1024], 413),
    ];
    for (content_type, body, status) in bad_bodies {
        let answer = server.call_raw(
            "POST",
            "/api/users",
            Some(&admin),
            Some((content_type, body)),
        );
        assert_eq!(answer.status, status, "{}", answer.body);
        assert!(answer.body.get("detail").is_some(), "{}", answer.body);
    }

    // Delete; the last admin stays.
    let deleted = server.call("DELETE", &location, Some(&admin), None);
    assert_eq!(deleted.status, 200);
    assert_eq!(deleted.body["detail"], "User deleted successfully");
    assert_eq!(
        server.call("GET", &location, Some(&admin), None).status,
        404
    );
    let last = server.call(
        "DELETE",
        &format!("/api/users/{admin_id}"),
        Some(&admin),
        None,
    );
    assert_eq!(last.status, 409);

    // Over the wire too: search with an escaped q, PATCH /me, disabling, the audit log.
    let created = server.call(
        "POST",
        "/api/users",
        Some(&admin),
        Some(&json!({ "name": "Grace", "cellnumber": "+15550000003", "password": "user-password-2" })),
    );
    let user_id = created.body["id"].as_u64().unwrap();
    let found = server.call(
        "GET",
        "/api/users?q=%2B1555000000&sort=-id&isActive=true",
        Some(&admin),
        None,
    );
    assert_eq!(found.status, 200, "{}", found.body);
    assert_eq!(found.body["total"], 2);
    assert_eq!(found.body["items"][0]["id"], user_id);
    assert_eq!(
        server
            .call("GET", "/api/users?q=50%25", Some(&admin), None)
            .body["total"],
        0
    );
    assert_eq!(
        server
            .call("GET", "/api/users?nope=1", Some(&admin), None)
            .status,
        422
    );
    let user = server.login("+15550000003", "user-password-2").body["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let renamed = server.call(
        "PATCH",
        "/api/users/me",
        Some(&user),
        Some(&json!({ "name": "Self Named" })),
    );
    assert_eq!(renamed.status, 200, "{}", renamed.body);
    assert_eq!(renamed.body["name"], "Self Named");
    let disabled = server.call(
        "PATCH",
        &format!("/api/users/{user_id}"),
        Some(&admin),
        Some(&json!({ "isActive": false })),
    );
    assert_eq!(disabled.body["isActive"], false);
    assert_eq!(
        server
            .call("GET", "/api/users/me", Some(&user), None)
            .status,
        401
    );
    let refused = server.login("+15550000003", "user-password-2");
    assert_eq!(refused.status, 403);
    assert_eq!(refused.body["detail"], "Account disabled");
    let events = server.call(
        "GET",
        &format!("/api/audit?targetId={user_id}&limit=3"),
        Some(&admin),
        None,
    );
    assert_eq!(events.status, 200, "{}", events.body);
    let actions: Vec<&str> = events.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["login.failed", "user.updated", "user.updated"]);
    // cargo lambda watch puts 127.0.0.1 in every event (see the README).
    assert_eq!(events.body["items"][0]["sourceIp"], "127.0.0.1");
    assert_eq!(
        server.call("GET", "/api/audit", Some(&user), None).status,
        401
    );

    // Throttling over HTTP.
    for _ in 0..5 {
        assert_eq!(server.login("+15550000009", "wrong-password").status, 401);
    }
    let throttled = server.login("+15550000009", "wrong-password");
    assert_eq!(throttled.status, 429);
    assert!(throttled.header("retry-after").is_some());

    // The docs.
    let document = server.call("GET", "/api/openapi.json", None, None);
    assert_eq!(document.status, 200);
    assert!(document.body["paths"]["/api/users/{id}"]["patch"].is_object());
    let page = server.call("GET", "/docs", None, None);
    assert_eq!(page.status, 200);
    assert!(page.body.as_str().unwrap().contains("swagger-ui"));

    // The logs of the whole run (cargo lambda watch and every function) hold one line per
    // request and none of the secrets that went through it.
    let logs = server.logs();
    assert!(
        logs.contains("\"route\":\"PATCH /api/users/{id}\""),
        "{logs}"
    );
    // Each request's JSON line carries what Lambda's JSON log format reads: an RFC 3339
    // timestamp and a level.
    let handled: Vec<serde_json::Value> = logs
        .lines()
        .filter(|line| line.contains("\"request handled\""))
        .filter_map(|line| serde_json::from_str(&line[line.find('{')?..]).ok())
        .collect();
    assert!(!handled.is_empty(), "{logs}");
    for line in &handled {
        let timestamp = line["timestamp"].as_str().unwrap_or_default();
        assert!(
            chrono::DateTime::parse_from_rfc3339(timestamp).is_ok(),
            "{line}"
        );
        assert_eq!(line["level"], "INFO", "{line}");
    }
    for secret in [
        api_tests::TEST_SECRET,
        api_tests::signing_key_fragment(),
        "admin-password-1",
        "ada-password-1",
        "ada-password-2",
        admin.as_str(),
        ada.as_str(),
        "$2b$",
    ] {
        assert!(!logs.contains(secret), "the logs contain {secret}");
    }
}

/// The parallel-guess attack on `make serve`'s setup: `CONCURRENCY=16` instances of login, 40 wrong
/// passwords for one cellnumber at once. Each instance is a process with a pool of its own, so
/// only the database can keep the count.
#[test]
fn forty_parallel_wrong_logins_over_http_reach_bcrypt_at_most_the_limit() {
    let (runtime, db, app) = database();
    runtime.block_on(insert_user(&app, 2, "+15550000002", "user-password-2"));
    let server = std::sync::Arc::new(Served::start_with_instances(&test_env(&db), 16));
    // One request first, so the function is built before the burst (watch builds lazily).
    assert_eq!(server.login("+15550000099", "warm-up-password").status, 401);

    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..40)
            .map(|_| {
                let server = &server;
                scope.spawn(move || {
                    let answer = server.login("+15550000002", "wrong-password");
                    if answer.status == 429 {
                        assert!(answer.header("retry-after").is_some());
                    }
                    answer.status
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let rejected = statuses.iter().filter(|s| **s == 401).count();
    let throttled = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(
        (rejected, throttled),
        (5, 35),
        "{statuses:?}\n{}",
        server.logs()
    );
    // The right password is refused too until the window passes.
    assert_eq!(server.login("+15550000002", "user-password-2").status, 429);
    let handled = server.logs().matches("request handled").count();
    assert!(handled >= 42, "every request reached a function: {handled}");
    let addresses: Vec<String> = runtime.block_on(async {
        let mut conn = app.pool.get_conn().await.unwrap();
        conn.query("SELECT DISTINCT source_ip FROM login_attempt WHERE source_ip <> '*'")
            .await
            .unwrap()
    });
    // watch names every client 127.0.0.1 (it ignores the peer and X-Forwarded-For alike).
    assert_eq!(addresses, ["127.0.0.1"]);
}

/// The session routes behind watch's router: `/api/users/me/sessions/{sessionId}` and
/// `/api/users/{id}/sessions` beside `/api/users/{id}`, and refresh without a token.
#[test]
fn sessions_over_http_under_cargo_lambda_watch() {
    let (runtime, db, app) = database();
    let user_id = runtime.block_on(async {
        insert_user(&app, 1, "+15550000001", "admin-password-1").await;
        insert_user(&app, 2, "+15550000002", "user-password-2").await
    });
    let server = Served::start(&test_env(&db));
    let admin = server.login("+15550000001", "admin-password-1").body["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let first = server.login("+15550000002", "user-password-2").body;
    let second = server.login("+15550000002", "user-password-2").body;
    let token = |grant: &serde_json::Value| grant["token"].as_str().unwrap().to_owned();

    let renewed = server.call(
        "POST",
        "/api/users/token/refresh",
        None,
        Some(&json!({ "refreshToken": first["refreshToken"] })),
    );
    assert_eq!(renewed.status, 200, "{}\n{}", renewed.body, server.logs());
    assert_eq!(renewed.body["sessionId"], first["sessionId"]);

    let listed = server.call("GET", "/api/users/me/sessions", Some(&token(&second)), None);
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 2);
    assert_eq!(listed.body["items"][0]["current"], true);

    let path = format!(
        "/api/users/me/sessions/{}",
        first["sessionId"].as_str().unwrap()
    );
    let ended = server.call("DELETE", &path, Some(&token(&second)), None);
    assert_eq!(ended.status, 204, "{}", ended.body);
    let me = server.call("GET", "/api/users/me", Some(&token(&renewed.body)), None);
    assert_eq!(me.status, 401);
    let again = server.call("DELETE", &path, Some(&token(&second)), None);
    assert_eq!(again.status, 404);
    assert_eq!(again.body["detail"], "Session not found");

    let bad_scope = server.call(
        "POST",
        "/api/users/logout?scope=all",
        Some(&token(&second)),
        None,
    );
    assert_eq!(bad_scope.status, 422, "{}", bad_scope.body);
    let path = format!("/api/users/{user_id}/sessions");
    let revoked = server.call("DELETE", &path, Some(&admin), None);
    assert_eq!(revoked.status, 204, "{}", revoked.body);
    let me = server.call("GET", "/api/users/me", Some(&token(&second)), None);
    assert_eq!(me.status, 401);
    let global = server.call("POST", "/api/users/logout?scope=global", Some(&admin), None);
    assert_eq!(global.status, 204);
    assert_eq!(
        server
            .call("GET", "/api/users/me", Some(&admin), None)
            .status,
        401
    );
}
