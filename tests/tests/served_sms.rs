//! Recovery and sign-up by SMS as `make serve` serves them, over HTTP under `cargo lambda watch`,
//! with the texts in the outbox file a developer reads: forgot, the code from the outbox, reset,
//! the old session dead and the new password signing in; then a sign-up verified with its code.

use api_tests::serve::Served;
use api_tests::texts::{last_code, outbox_for};
use api_tests::{insert_user, test_app, test_env, TestDb};
use serde_json::json;

const CELL: &str = "+15550000002";
const PASSWORD: &str = "user-password-2";
const KEYS: &str = "local1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";

#[test]
fn a_full_recovery_and_a_sign_up_over_http() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let db = runtime.block_on(TestDb::new());
    let app = test_app(&db);
    runtime.block_on(insert_user(&app, 2, CELL, PASSWORD));
    let outbox = outbox_for(&db);
    let _ = std::fs::remove_file(&outbox);
    let mut env = test_env(&db);
    env.extend([
        ("MFA_KEYS", KEYS.to_owned()),
        ("SMS_OUTBOX", outbox.to_str().unwrap().to_owned()),
        ("SIGNUP", "open".to_owned()),
    ]);
    let server = Served::start(&env);

    let old = server.login(CELL, PASSWORD);
    assert_eq!(old.status, 200, "{}\n{}", old.body, server.logs());
    let old_token = old.body["token"].as_str().unwrap().to_owned();
    let unknown = server.call(
        "POST",
        "/api/users/password/forgot",
        None,
        Some(&json!({ "cellnumber": "+15559999999" })),
    );
    let asked = server.call(
        "POST",
        "/api/users/password/forgot",
        None,
        Some(&json!({ "cellnumber": CELL })),
    );
    assert_eq!(asked.status, 202, "{}\n{}", asked.body, server.logs());
    assert_eq!((unknown.status, &unknown.body), (asked.status, &asked.body));
    let code = last_code(&outbox, CELL);
    let reset = server.call(
        "POST",
        "/api/users/password/reset",
        None,
        Some(&json!({ "cellnumber": CELL, "code": code, "newPassword": "a-new-password-9" })),
    );
    assert_eq!(reset.status, 204, "{}", reset.body);
    let me = server.call("GET", "/api/users/me", Some(&old_token), None);
    assert_eq!(me.status, 401, "{}", me.body);
    assert_eq!(server.login(CELL, PASSWORD).status, 401);
    assert_eq!(server.login(CELL, "a-new-password-9").status, 200);

    let grace = json!({
        "name": "Grace Hopper",
        "cellnumber": "+15550000003",
        "password": "grace-password-1",
    });
    let accepted = server.call("POST", "/api/users/signup", None, Some(&grace));
    assert_eq!(accepted.status, 202, "{}", accepted.body);
    let code = last_code(&outbox, "+15550000003");
    let created = server.call(
        "POST",
        "/api/users/signup/verify",
        None,
        Some(&json!({ "cellnumber": "+15550000003", "code": code })),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["userId"].as_u64().unwrap();
    let location = format!("/api/users/{id}");
    assert_eq!(created.header("location"), Some(location.as_str()));
    let token = created.body["token"].as_str().unwrap();
    let me = server.call("GET", "/api/users/me", Some(token), None);
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.body["name"], "Grace Hopper");
}
