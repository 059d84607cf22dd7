//! The second factor (TOTP) through the handlers, with real API Gateway events and a real
//! database: enrolment, the two steps of login, replays, recovery codes, the tries of an
//! `mfaToken` under concurrency, the throttle, turning it off, an admin's reset.
//!
//! Codes are computed here from the base32 secret the API answers, with an implementation of
//! RFC 6238 of this file's own (over ring's HMAC-SHA1), not the one under test.

use api_tests::{
    admin_patch, app_with, call, count, login, test_app_with, token, Answer, Event, TestDb,
    ADMIN_CELL, ADMIN_PASS, USER_CELL, USER_PASS,
};
use serde_json::{json, Value};
use shared::App;

/// Two keys, newest first, as an operator writes them.
const KEYS: &str = "k2:AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=,\
                    k1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";

fn overrides(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut all = vec![("MFA_KEYS", KEYS)];
    all.extend_from_slice(extra);
    all
}

/// A migrated database with an admin and a normal user, and an app that has the keys.
async fn setup(extra: &[(&'static str, &'static str)]) -> (TestDb, App, u64, u64) {
    let db = TestDb::new().await;
    let app = test_app_with(&db, &overrides(extra));
    let admin_id = api_tests::insert_user(&app, 1, ADMIN_CELL, ADMIN_PASS).await;
    let user_id = api_tests::insert_user(&app, 2, USER_CELL, USER_PASS).await;
    (db, app, admin_id, user_id)
}

fn base32_decode(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            other => panic!("not base32: {other}"),
        };
        buffer = (buffer << 5) | u32::from(value);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    out
}

/// The RFC 6238 code of `secret` (base32) at `step`.
fn code(secret: &str, step: u64) -> String {
    let key = ring::hmac::Key::new(
        ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        &base32_decode(secret),
    );
    let mac = ring::hmac::sign(&key, &step.to_be_bytes());
    let mac = mac.as_ref();
    let offset = (mac[19] & 0x0f) as usize;
    let number = u32::from_be_bytes([
        mac[offset] & 0x7f,
        mac[offset + 1],
        mac[offset + 2],
        mac[offset + 3],
    ]);
    format!("{:06}", number % 1_000_000)
}

fn now_step() -> u64 {
    (chrono::Utc::now().timestamp() as u64) / 30
}

async fn enrol(app: &App, token: &str, password: &str) -> Answer {
    call!(
        enrol_totp,
        app,
        Event::v2("enrol-totp")
            .bearer(token)
            .json_body(&json!({ "currentPassword": password }))
    )
}

async fn confirm(app: &App, token: &str, code: &str) -> Answer {
    call!(
        confirm_totp,
        app,
        Event::v2("confirm-totp")
            .bearer(token)
            .json_body(&json!({ "code": code }))
    )
}

async fn second_step(app: &App, body: Value) -> Answer {
    call!(login_mfa, app, Event::v2("login-mfa").json_body(&body))
}

/// Turns the user's factor on; answers the secret and the recovery codes. The confirming code
/// is of the step before the current one, so that the current and the next remain usable.
async fn turn_on(app: &App, token: &str) -> (String, Vec<String>) {
    let enrolment = enrol(app, token, USER_PASS).await;
    assert_eq!(enrolment.status, 200, "{}", enrolment.body);
    let secret = enrolment.body["secret"].as_str().unwrap().to_owned();
    let confirmed = confirm(app, token, &code(&secret, now_step() - 1)).await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    let codes = confirmed.body["recoveryCodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    (secret, codes)
}

/// The first step of a login of a user with the factor on: its `mfaToken`.
async fn mfa_token(app: &App) -> String {
    let first = login(app, USER_CELL, USER_PASS).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.body["mfaRequired"], true, "{}", first.body);
    assert!(first.body.get("token").is_none(), "{}", first.body);
    first.body["mfaToken"].as_str().unwrap().to_owned()
}

async fn actions(app: &App) -> Vec<(String, String)> {
    let mut conn = app.pool.get_conn().await.unwrap();
    use mysql_async::prelude::Queryable;
    conn.query("SELECT action, CAST(detail AS CHAR) FROM audit_event ORDER BY id")
        .await
        .unwrap()
}

#[tokio::test]
async fn enrol_then_log_in_in_two_steps_and_a_replayed_code_is_refused() {
    let (_db, app, _, user_id) = setup(&[]).await;
    let user = token(&app, USER_CELL, USER_PASS).await;

    enrol(&app, &user, "wrong-password").await.assert_error(403);
    let enrolment = enrol(&app, &user, USER_PASS).await;
    assert_eq!(enrolment.status, 200, "{}", enrolment.body);
    let secret = enrolment.body["secret"].as_str().unwrap().to_owned();
    assert_eq!(secret.len(), 32, "160 bits in base32");
    let uri = enrolment.body["otpauthUri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    for part in [
        &format!("secret={secret}")[..],
        "issuer=",
        "algorithm=SHA1",
        "digits=6",
        "period=30",
    ] {
        assert!(uri.contains(part), "{uri} lacks {part}");
    }
    // The secret is stored sealed, never as it was shown.
    let raw = base32_decode(&secret);
    let mut conn = app.pool.get_conn().await.unwrap();
    use mysql_async::prelude::Queryable;
    let sealed: Vec<u8> = conn
        .exec_first("SELECT sealed FROM mfa_totp WHERE user_id = ?", (user_id,))
        .await
        .unwrap()
        .unwrap();
    assert!(!sealed.windows(8).any(|w| raw.windows(8).any(|r| r == w)));
    drop(conn);

    // Nothing changed yet: login still answers a session.
    assert_eq!(
        login(&app, USER_CELL, USER_PASS).await.body["tokenType"],
        "bearer"
    );

    let step = now_step();
    let wrong = format!(
        "{:06}",
        (code(&secret, step).parse::<u32>().unwrap() + 1) % 1_000_000
    );
    confirm(&app, &user, &wrong).await.assert_error(400);
    confirm(&app, &user, "12345").await.assert_error(422);
    let confirmed = confirm(&app, &user, &code(&secret, step - 1)).await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    let codes = confirmed.body["recoveryCodes"].as_array().unwrap();
    assert_eq!(codes.len(), 10);
    enrol(&app, &user, USER_PASS).await.assert_error(409);
    let me = call!(get_me, &app, Event::v2("get-me").bearer(&user));
    assert_eq!(me.body["mfaEnabled"], true, "{}", me.body);

    // The right password starts no session now.
    let sessions_before = count(&app, "SELECT COUNT(*) FROM session").await;
    let token_1 = mfa_token(&app).await;
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM session").await,
        sessions_before
    );

    // The code that confirmed is of a step already used: refused.
    let replay = json!({ "mfaToken": token_1, "code": code(&secret, step - 1) });
    second_step(&app, replay).await.assert_error(401);
    let grant = second_step(
        &app,
        json!({ "mfaToken": token_1, "code": code(&secret, step) }),
    )
    .await;
    assert_eq!(grant.status, 200, "{}", grant.body);
    assert_eq!(grant.body["tokenType"], "bearer");
    assert_eq!(grant.body["userId"], user_id);
    // The token is spent by its success, and the step's code by its use.
    let again = json!({ "mfaToken": token_1, "code": code(&secret, step + 1) });
    second_step(&app, again).await.assert_error(401);
    let token_2 = mfa_token(&app).await;
    let replay = json!({ "mfaToken": token_2, "code": code(&secret, step) });
    let refused = second_step(&app, replay).await;
    refused.assert_error(401);
    assert_eq!(refused.body["detail"], "Invalid code");
    let next = json!({ "mfaToken": token_2, "code": code(&secret, step + 1) });
    assert_eq!(second_step(&app, next).await.status, 200);

    let actions = actions(&app).await;
    let names: Vec<&str> = actions.iter().map(|(a, _)| a.as_str()).collect();
    assert!(names.contains(&"mfa.enabled"), "{names:?}");
    assert!(actions
        .iter()
        .any(|(a, d)| a == "login.failed" && d.contains("\"mfa\"")));
    assert_eq!(names.iter().filter(|a| **a == "login.succeeded").count(), 4);
    for (_, detail) in &actions {
        assert!(!detail.contains(&secret), "{detail}");
    }
}

#[tokio::test]
async fn a_recovery_code_works_once_and_only_once() {
    let (_db, app, _, _) = setup(&[]).await;
    let user = token(&app, USER_CELL, USER_PASS).await;
    let (_, codes) = turn_on(&app, &user).await;
    let stored = count(&app, "SELECT COUNT(*) FROM mfa_recovery_code").await;
    assert_eq!(stored, 10);

    // Typed with spaces for dashes and in capitals: the same code.
    let typed = codes[3].replace('-', " ").to_uppercase();
    let first = second_step(
        &app,
        json!({ "mfaToken": mfa_token(&app).await, "recoveryCode": typed }),
    )
    .await;
    assert_eq!(first.status, 200, "{}", first.body);
    let again = json!({ "mfaToken": mfa_token(&app).await, "recoveryCode": codes[3] });
    second_step(&app, again).await.assert_error(401);
    let used: Vec<Value> = actions(&app)
        .await
        .into_iter()
        .filter(|(action, _)| action == "mfa.recovery_code.used")
        .map(|(_, detail)| serde_json::from_str(&detail).unwrap())
        .collect();
    assert_eq!(used, [json!({ "remaining": 9 })]);

    // Neither or both of code and recoveryCode: 422.
    let token = mfa_token(&app).await;
    second_step(&app, json!({ "mfaToken": token }))
        .await
        .assert_error(422);
    let both = json!({ "mfaToken": token, "code": "123456", "recoveryCode": codes[0] });
    second_step(&app, both).await.assert_error(422);
}

#[tokio::test]
async fn twelve_parallel_wrong_codes_leave_the_token_dead_for_the_right_code() {
    // Throttle limits high enough that only the token's own tries are at work.
    let extra = [
        ("LOGIN_MAX_FAILURES", "100"),
        ("LOGIN_MAX_FAILURES_TOTAL", "100"),
    ];
    let (db, app, _, _) = setup(&extra).await;
    let user = token(&app, USER_CELL, USER_PASS).await;
    let (secret, _) = turn_on(&app, &user).await;
    let token = mfa_token(&app).await;
    let right = code(&secret, now_step());
    let wrong = format!(
        "{:06}",
        (right.parse::<u32>().unwrap() + 500_000) % 1_000_000
    );

    let mut tasks = Vec::new();
    for _ in 0..12 {
        // Each from an instance of its own, as Lambda runs them.
        let (url, token, wrong) = (db.url.clone(), token.clone(), wrong.clone());
        let overrides = overrides(&extra);
        tasks.push(tokio::spawn(async move {
            let app = app_with(&url, &overrides);
            second_step(&app, json!({ "mfaToken": token, "code": wrong }))
                .await
                .status
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 401);
    }
    let tries = count(&app, "SELECT tries FROM mfa_challenge").await;
    assert_eq!(tries, 5, "five tries in all, however many arrived at once");
    second_step(&app, json!({ "mfaToken": token, "code": right }))
        .await
        .assert_error(401);
    let failed = count(
        &app,
        "SELECT COUNT(*) FROM audit_event WHERE action = 'login.failed'",
    )
    .await;
    assert!(failed >= 5, "{failed}");
}

#[tokio::test]
async fn wrong_codes_count_toward_the_login_throttle() {
    let (_db, app, _, _) = setup(&[("LOGIN_MAX_FAILURES", "3")]).await;
    let user = token(&app, USER_CELL, USER_PASS).await;
    let (secret, _) = turn_on(&app, &user).await;
    let token = mfa_token(&app).await;
    let right = code(&secret, now_step());
    let wrong = format!("{:06}", (right.parse::<u32>().unwrap() + 1) % 1_000_000);
    // The password's attempt stays counted until the second step succeeds: 1 + 2 wrong codes.
    for _ in 0..2 {
        let body = json!({ "mfaToken": token, "code": wrong });
        second_step(&app, body).await.assert_error(401);
    }
    let throttled = second_step(&app, json!({ "mfaToken": token, "code": right })).await;
    throttled.assert_error(429);
    assert!(throttled.header("retry-after").is_some());
}

#[tokio::test]
async fn the_token_is_bound_to_the_password_that_was_proven() {
    let (_db, app, admin_id, user_id) = setup(&[]).await;
    let _ = admin_id;
    let user = token(&app, USER_CELL, USER_PASS).await;
    let (secret, _) = turn_on(&app, &user).await;
    let token = mfa_token(&app).await;
    let admin = api_tests::token(&app, ADMIN_CELL, ADMIN_PASS).await;
    let changed = admin_patch(
        &app,
        &admin,
        user_id,
        &json!({ "password": "another-pass-1" }),
    )
    .await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    let body = json!({ "mfaToken": token, "code": code(&secret, now_step()) });
    second_step(&app, body).await.assert_error(401);
    // A new password leaves the factor on.
    let first = login(&app, USER_CELL, "another-pass-1").await;
    assert_eq!(first.body["mfaRequired"], true, "{}", first.body);
}

async fn prove(app: &App, function: &str, token: &str, password: &str, code: &str) -> Answer {
    let event = Event::v2(function)
        .bearer(token)
        .json_body(&json!({ "currentPassword": password, "code": code }));
    match function {
        "disable-totp" => call!(disable_totp, app, event),
        _ => call!(renew_recovery_codes, app, event),
    }
}

#[tokio::test]
async fn a_stolen_access_token_alone_cannot_turn_it_off_or_read_new_codes() {
    let (_db, app, _, _) = setup(&[]).await;
    let user = token(&app, USER_CELL, USER_PASS).await;
    let (secret, codes) = turn_on(&app, &user).await;
    let step = now_step();
    for function in ["disable-totp", "renew-recovery-codes"] {
        let without_password = call!(
            disable_totp,
            &app,
            Event::v2(function)
                .bearer(&user)
                .json_body(&json!({ "code": code(&secret, step) }))
        );
        without_password.assert_error(422);
        prove(
            &app,
            function,
            &user,
            "wrong-password",
            &code(&secret, step),
        )
        .await
        .assert_error(403);
        prove(&app, function, &user, USER_PASS, "000000x")
            .await
            .assert_error(403);
    }
    // New codes: the old ones die.
    let renewed = prove(&app, "renew-recovery-codes", &user, USER_PASS, &codes[0]).await;
    assert_eq!(renewed.status, 200, "{}", renewed.body);
    let new_codes = renewed.body["recoveryCodes"].as_array().unwrap().clone();
    assert_eq!(new_codes.len(), 10);
    prove(&app, "disable-totp", &user, USER_PASS, &codes[1])
        .await
        .assert_error(403);
    // Off with the password and a TOTP code.
    let off = prove(&app, "disable-totp", &user, USER_PASS, &code(&secret, step)).await;
    assert_eq!(off.status, 204, "{}", off.body);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM mfa_totp").await, 0);
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM mfa_recovery_code").await,
        0
    );
    assert_eq!(
        login(&app, USER_CELL, USER_PASS).await.body["tokenType"],
        "bearer"
    );
    let names: Vec<String> = actions(&app).await.into_iter().map(|(a, _)| a).collect();
    assert!(names.contains(&"mfa.recovery_codes.renewed".to_owned()));
    assert!(names.contains(&"mfa.disabled".to_owned()));
}

#[tokio::test]
async fn an_admin_turns_a_lost_device_off_and_it_is_audited() {
    let (_db, app, admin_id, user_id) = setup(&[]).await;
    let user = token(&app, USER_CELL, USER_PASS).await;
    turn_on(&app, &user).await;
    let admin = token(&app, ADMIN_CELL, ADMIN_PASS).await;
    let reset = |token: String, id: String| {
        let app = &app;
        async move {
            call!(
                reset_user_mfa,
                app,
                Event::v2("reset-user-mfa")
                    .bearer(&token)
                    .path_param("id", &id)
            )
        }
    };
    reset(user.clone(), user_id.to_string())
        .await
        .assert_error(403);
    reset(admin.clone(), "999999".into())
        .await
        .assert_error(404);
    reset(admin.clone(), "abc".into()).await.assert_error(422);
    let done = reset(admin.clone(), user_id.to_string()).await;
    assert_eq!(done.status, 204, "{}", done.body);
    assert_eq!(
        login(&app, USER_CELL, USER_PASS).await.body["tokenType"],
        "bearer"
    );
    let me = call!(get_me, &app, Event::v2("get-me").bearer(&user));
    assert_eq!(me.body["mfaEnabled"], false);
    let by_admin = count(
        &app,
        &format!(
            "SELECT COUNT(*) FROM audit_event WHERE action = 'mfa.disabled' \
             AND actor_id = {admin_id} AND target_id = {user_id}"
        ),
    )
    .await;
    assert_eq!(by_admin, 1);
}

/// Lets the pool take back the connection the last request dropped (it does so on its own task).
async fn settle() {
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
}

#[tokio::test]
async fn the_round_trips_of_both_steps() {
    let (db, app, _, _) = setup(&[]).await;
    let user = token(&app, USER_CELL, USER_PASS).await;
    let (secret, _) = turn_on(&app, &user).await;
    let server = api_tests::server_url();
    let upstream = server.rsplit('@').next().unwrap().to_owned();
    let proxy = api_tests::round_trips::RoundTripProxy::start(upstream).await;
    let url = format!("mysql://root@127.0.0.1:{}/{}", proxy.port, db.name);
    let counted = test_app_with(&db, &[("MFA_KEYS", KEYS), ("DATABASE_URL", &url)]);

    // The first of each prepares the connection's statements, as in a warm instance; the
    // address is a known one of the user by then.
    let warm = json!({ "mfaToken": mfa_token(&counted).await, "code": code(&secret, now_step()) });
    assert_eq!(second_step(&counted, warm).await.status, 200);
    settle().await;
    proxy.reset();
    let token = mfa_token(&counted).await;
    let first_step = proxy.round_trips();
    // At most a login's 5 and the challenge's INSERT: the attempt counted, the user read, the
    // challenge, the clean-up (no session batch, no throttle reset). A CI run under load counted
    // 4 where this machine counts 6; why is not settled (see the session note), so the bound is
    // asserted, not the exact count.
    assert!(
        (4..=6).contains(&first_step),
        "the password step of a user with the factor on took {first_step} round trips"
    );
    settle().await;
    proxy.reset();
    let body = json!({ "mfaToken": token, "code": code(&secret, now_step() + 1) });
    let answer = second_step(&counted, body).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        proxy.round_trips(),
        5,
        "the second step: a try taken with the challenge read, attempt counted for the known \
         address, token spent with the step taken, the session batch, throttle reset"
    );
}
