//! Account recovery: forgot, the text, reset; what a reset ends and keeps; codes that no longer
//! work; the answer that is the same for every cellnumber.

use super::*;
use api_tests::{admin_patch, login, login_from, token};

#[tokio::test]
async fn a_full_recovery_ends_the_old_sessions_and_the_new_password_signs_in() {
    let sms = Sms::new(&[]).await;
    let app = &sms.app;
    let grant = login(app, USER_CELL, USER_PASS).await.body;
    let old_token = grant["token"].as_str().unwrap().to_owned();
    // Failed logins of the number, which the reset clears.
    for _ in 0..3 {
        let refused = login_from(app, USER_CELL, "not-the-password", "198.51.100.7").await;
        refused.assert_error(401);
    }

    assert_accepted(&forgot(app, USER_CELL).await);
    let texts = sms.texts_to(USER_CELL);
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(texts[0].contains("password reset code"), "{}", texts[0]);
    let code = sms.last_code(USER_CELL);
    assert_eq!(sms.count("SELECT COUNT(*) FROM sms_code").await, 1);

    // A bad new password changes nothing and takes no try.
    reset(app, USER_CELL, &code, "short")
        .await
        .assert_error(422);
    assert_eq!(sms.count("SELECT attempts FROM sms_code").await, 0);
    let answer = reset(app, USER_CELL, &code, "a-brand-new-password").await;
    assert_eq!(answer.status, 204, "{}", answer.body);

    let me = call!(get_me, app, Event::v2("get-me").bearer(&old_token));
    me.assert_error(401);
    let refresh = json!({ "refreshToken": grant["refreshToken"] });
    let refreshed = call!(
        refresh_token,
        app,
        Event::v2("refresh-token").json_body(&refresh)
    );
    refreshed.assert_error(401);
    login(app, USER_CELL, USER_PASS).await.assert_error(401);
    let new_token = token(app, USER_CELL, "a-brand-new-password").await;
    let me = call!(get_me, app, Event::v2("get-me").bearer(&new_token));
    assert_eq!(me.status, 200, "{}", me.body);

    // The code is spent, the counters of the number are gone (the login above made its own).
    reset(app, USER_CELL, &code, "yet-another-password")
        .await
        .assert_error(400);
    assert_eq!(sms.count("SELECT COUNT(*) FROM sms_code").await, 0);
    let failures = sms
        .count(
            "SELECT COALESCE(SUM(attempts), 0) FROM login_attempt \
             WHERE source_ip = '198.51.100.7'",
        )
        .await;
    assert_eq!(failures, 0);

    let events: Vec<_> = sms
        .events()
        .await
        .into_iter()
        .filter(|(action, ..)| action.starts_with("password."))
        .collect();
    assert_eq!(
        events,
        [
            (
                "password.reset.requested".to_owned(),
                None,
                Some(sms.user_id),
                json!({ "sent": true })
            ),
            (
                "password.reset".to_owned(),
                None,
                Some(sms.user_id),
                json!({})
            ),
        ]
    );
}

#[tokio::test]
async fn unknown_disabled_and_held_back_numbers_answer_as_a_known_one() {
    let sms = Sms::new(&[]).await;
    let app = &sms.app;
    let disabled = insert_user(app, 2, "+15550000077", "disabled-password").await;
    let admin = token(app, ADMIN_CELL, ADMIN_PASS).await;
    let patched = admin_patch(app, &admin, disabled, &json!({ "isActive": false })).await;
    assert_eq!(patched.status, 200, "{}", patched.body);

    let known = forgot(app, USER_CELL).await;
    assert_accepted(&known);
    // Within SMS_RESEND_SECONDS of the first: held back.
    let held_back = forgot(app, USER_CELL).await;
    let unknown = forgot(app, "+15559999999").await;
    let off = forgot(app, "+15550000077").await;
    for answer in [&held_back, &unknown, &off] {
        assert_accepted(answer);
        assert_eq!(answer.headers, known.headers);
    }
    assert_eq!(sms.texts_to(USER_CELL).len(), 1);
    assert!(sms.texts_to("+15559999999").is_empty());
    assert!(sms.texts_to("+15550000077").is_empty(), "disabled: no text");

    let requested: Vec<_> = sms
        .events()
        .await
        .into_iter()
        .filter(|(action, ..)| action == "password.reset.requested")
        .map(|(_, actor, target, detail)| (actor, target, detail))
        .collect();
    assert_eq!(
        requested,
        [
            (None, Some(sms.user_id), json!({ "sent": true })),
            (None, Some(sms.user_id), json!({ "sent": false })),
            (None, Some(disabled), json!({ "sent": false })),
        ],
        "events for known numbers only"
    );
    // Nothing kept of the unknown number.
    let rows = sms
        .count(
            "SELECT (SELECT COUNT(*) FROM sms_code WHERE cellnumber = '+15559999999') \
                  + (SELECT COUNT(*) FROM sms_number_count WHERE cellnumber = '+15559999999')",
        )
        .await;
    assert_eq!(rows, 0);
}

#[tokio::test]
async fn expired_replaced_and_disabled_codes_are_refused() {
    let sms = Sms::new(&[("SMS_RESEND_SECONDS", "0")]).await;
    let app = &sms.app;

    // Replaced: a new code kills the old one.
    assert_accepted(&forgot(app, USER_CELL).await);
    let first = sms.last_code(USER_CELL);
    assert_accepted(&forgot(app, USER_CELL).await);
    let second = sms.last_code(USER_CELL);
    assert_ne!(
        first, second,
        "two codes in a row were equal (1 in a million)"
    );
    let refused = reset(app, USER_CELL, &first, "replaced-password").await;
    refused.assert_error(400);
    assert_eq!(refused.body, json!({ "detail": "Invalid or expired code" }));

    // Expired: the row's expiry moved into the past.
    sms.run("UPDATE sms_code SET expires = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND")
        .await;
    reset(app, USER_CELL, &second, "expired-password")
        .await
        .assert_error(400);

    // Disabled after the code was sent.
    assert_accepted(&forgot(app, USER_CELL).await);
    let third = sms.last_code(USER_CELL);
    sms.run(&format!(
        "UPDATE users SET is_active = FALSE WHERE id = {}",
        sms.user_id
    ))
    .await;
    reset(app, USER_CELL, &third, "disabled-password")
        .await
        .assert_error(400);
    sms.run(&format!(
        "UPDATE users SET is_active = TRUE WHERE id = {}",
        sms.user_id
    ))
    .await;
    // That refusal took one try; the code still works.
    let answer = reset(app, USER_CELL, &third, "enabled-again-password").await;
    assert_eq!(answer.status, 204, "{}", answer.body);

    // An unknown number, and a code of another number.
    reset(app, "+15559999999", &third, "unknown-password")
        .await
        .assert_error(400);
    assert_accepted(&forgot(app, ADMIN_CELL).await);
    let admins = sms.last_code(ADMIN_CELL);
    reset(app, USER_CELL, &admins, "someone-elses-code")
        .await
        .assert_error(400);
    token(app, USER_CELL, "enabled-again-password").await;
}

#[tokio::test]
async fn a_second_factor_stays_on_through_a_reset() {
    let sms = Sms::new(&[]).await;
    let app = &sms.app;
    // Login asks for the second step on the flag alone; no code is needed to see that.
    sms.run(&format!(
        "UPDATE users SET mfa_enabled = TRUE WHERE id = {}",
        sms.user_id
    ))
    .await;
    assert_accepted(&forgot(app, USER_CELL).await);
    let code = sms.last_code(USER_CELL);
    let answer = reset(app, USER_CELL, &code, "a-password-after-reset").await;
    assert_eq!(answer.status, 204, "{}", answer.body);
    let first_step = login(app, USER_CELL, "a-password-after-reset").await;
    assert_eq!(first_step.status, 200, "{}", first_step.body);
    assert_eq!(first_step.body["mfaRequired"], true, "{}", first_step.body);
    assert!(first_step.body.get("token").is_none());
}

#[tokio::test]
async fn without_mfa_keys_the_sms_routes_fail_closed() {
    let db = TestDb::new().await;
    let outbox = outbox_for(&db);
    let app = test_app_with(&db, &[("SMS_OUTBOX", outbox.to_str().unwrap())]);
    insert_user(&app, 2, USER_CELL, USER_PASS).await;
    let answer = forgot(&app, USER_CELL).await;
    answer.assert_error(503);
    assert!(answer.header("retry-after").is_some());
    reset(&app, USER_CELL, "123456", "some-new-password")
        .await
        .assert_error(503);
    assert!(api_tests::texts::texts_to(&outbox, USER_CELL).is_empty());
}

/// Lets the pool take back the connection the last request dropped (it does so on its own task).
async fn settle() {
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
}

#[tokio::test]
async fn every_kind_of_number_costs_the_same_round_trips() {
    let extra = [
        ("SMS_RESEND_SECONDS", "0"),
        ("SMS_MAX_PER_NUMBER_PER_DAY", "100"),
        ("SMS_MAX_PER_ADDRESS_PER_HOUR", "1000"),
    ];
    let sms = Sms::new(&extra).await;
    insert_user(&sms.app, 2, "+15550000077", "disabled-password").await;
    sms.run("UPDATE users SET is_active = FALSE WHERE cellnumber = '+15550000077'")
        .await;
    // A number that has had its texts of the day.
    insert_user(&sms.app, 2, "+15550000088", "held-back-password").await;
    sms.run(
        "INSERT INTO sms_number_count (cellnumber, last_sent, day_start, day_texts) \
         VALUES ('+15550000088', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6), 100)",
    )
    .await;
    let server = api_tests::server_url();
    let upstream = server.rsplit('@').next().unwrap().to_owned();
    let proxy = api_tests::round_trips::RoundTripProxy::start(upstream).await;
    let url = format!("mysql://root@127.0.0.1:{}/{}", proxy.port, sms.db.name);
    let counted = sms.another_app(&[extra.as_slice(), &[("DATABASE_URL", &url)]].concat());

    // The first request opens the connection, as the first of a warm instance did long ago.
    assert_accepted(&forgot(&counted, USER_CELL).await);
    let mut answers = Vec::new();
    for cellnumber in [USER_CELL, "+15559999999", "+15550000077", "+15550000088"] {
        settle().await;
        proxy.reset();
        let answer = forgot(&counted, cellnumber).await;
        answers.push((cellnumber, proxy.round_trips(), answer));
    }
    assert_eq!(
        sms.texts_to(USER_CELL).len(),
        2,
        "the known number got its texts"
    );
    let (_, known_trips, known) = &answers[0];
    for (cellnumber, trips, answer) in &answers {
        assert_eq!(answer.status, known.status, "{cellnumber}");
        assert_eq!(answer.headers, known.headers, "{cellnumber}");
        assert_eq!(answer.body, known.body, "{cellnumber}");
        assert_eq!(trips, known_trips, "{cellnumber}");
    }
    assert_eq!(
        *known_trips, 2,
        "the counted request in one transaction, then the clean-up"
    );
}
