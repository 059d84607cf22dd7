//! The bounds of guessing and of the SMS bill, under concurrency and across instances: the tries
//! of a code, the texts per number, per address and per deployment, the allowed prefixes.

use super::*;

#[tokio::test]
async fn a_hundred_parallel_wrong_codes_check_at_most_the_attempts_and_kill_the_code() {
    let sms = Sms::new(&[]).await;
    assert_accepted(&forgot(&sms.app, USER_CELL).await);
    let right = sms.last_code(USER_CELL);
    let wrong = wrong(&right);

    // Half from instances of their own (each with its own pool), half from one instance.
    let shared: &'static App = Box::leak(Box::new(sms.another_app(&[])));
    let mut tasks = Vec::new();
    for n in 0..100 {
        let own = (n % 2 == 0).then(|| sms.another_app(&[]));
        let wrong = wrong.clone();
        tasks.push(tokio::spawn(async move {
            let app = own.as_ref().unwrap_or(shared);
            reset(app, USER_CELL, &wrong, "guessed-password-1")
                .await
                .status
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 400);
    }
    let checked = sms.count("SELECT attempts FROM sms_code").await;
    assert_eq!(checked, 5, "RESET_CODE_MAX_ATTEMPTS tries in all");
    reset(&sms.app, USER_CELL, &right, "right-but-too-late")
        .await
        .assert_error(400);
    api_tests::token(&sms.app, USER_CELL, USER_PASS).await;
}

#[tokio::test]
async fn thirty_forgot_requests_for_one_number_send_at_most_the_daily_cap() {
    let extra = [
        ("SMS_RESEND_SECONDS", "0"),
        ("SMS_MAX_PER_ADDRESS_PER_HOUR", "1000"),
    ];
    let sms = Sms::new(&extra).await;
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let app: &'static App = Box::leak(Box::new(sms.another_app(&extra)));
        for _ in 0..3 {
            tasks.push(tokio::spawn(async move {
                let answer = forgot(app, USER_CELL).await;
                (answer.status, answer.body)
            }));
        }
    }
    for task in tasks {
        let (status, body) = task.await.unwrap();
        assert_eq!(status, 202, "{body}");
    }
    assert_eq!(
        sms.texts_to(USER_CELL).len(),
        5,
        "SMS_MAX_PER_NUMBER_PER_DAY texts, no more"
    );
    assert_eq!(sms.count("SELECT day_texts FROM sms_number_count").await, 5);
    let sent = sms
        .count(
            "SELECT COUNT(*) FROM audit_event WHERE action = 'password.reset.requested' \
             AND JSON_EXTRACT(detail, '$.sent') = TRUE",
        )
        .await;
    assert_eq!(sent, 5);
    // The code of the last request that took a text is the live one. Parallel sends may reach
    // the outbox in another order than their commits, so one of the five texts holds it, and the
    // five tries of a code are enough to find it.
    let mut statuses = Vec::new();
    for text in sms.texts_to(USER_CELL).iter().rev() {
        let code = api_tests::texts::code_in(text);
        let answer = reset(&sms.app, USER_CELL, &code, "after-thirty-asks").await;
        statuses.push(answer.status);
        if answer.status == 204 {
            break;
        }
    }
    assert_eq!(statuses.last(), Some(&204), "{statuses:?}");
}

#[tokio::test]
async fn an_address_beyond_its_hourly_requests_gets_429_with_retry_after() {
    let sms = Sms::new(&[("SMS_MAX_PER_ADDRESS_PER_HOUR", "3")]).await;
    let app = &sms.app;
    for n in 0..3 {
        let answer = forgot_from(app, &format!("+1555888000{n}"), "192.0.2.50").await;
        assert_accepted(&answer);
    }
    let refused = forgot_from(app, USER_CELL, "192.0.2.50").await;
    refused.assert_error(429);
    assert_eq!(
        refused.body,
        json!({ "detail": "Too many requests for a code; try again later" })
    );
    let retry: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((3500..=3600).contains(&retry), "{retry}");
    assert!(sms.texts_to(USER_CELL).is_empty());
    assert_eq!(
        sms.count("SELECT COUNT(*) FROM audit_event WHERE action LIKE 'password.%'")
            .await,
        0,
        "a refused request records nothing"
    );
    // Another address is not held back by that one.
    assert_accepted(&forgot_from(app, USER_CELL, "192.0.2.51").await);
    assert_eq!(sms.texts_to(USER_CELL).len(), 1);
}

#[tokio::test]
async fn the_deployment_beyond_its_hourly_texts_gets_429_for_every_number() {
    let extra = [("SMS_MAX_PER_HOUR", "2"), ("SMS_RESEND_SECONDS", "0")];
    let sms = Sms::new(&extra).await;
    assert_accepted(&forgot(&sms.app, USER_CELL).await);
    let other = sms.another_app(&extra);
    assert_accepted(&forgot_from(&other, USER_CELL, "192.0.2.60").await);
    assert_eq!(sms.texts_to(USER_CELL).len(), 2);
    for (app, cellnumber) in [(&sms.app, ADMIN_CELL), (&other, "+15559999999")] {
        let refused = forgot(app, cellnumber).await;
        refused.assert_error(429);
        let retry: u64 = refused.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=3600).contains(&retry), "{retry}");
    }
    assert!(sms.texts_to(ADMIN_CELL).is_empty());
    assert_eq!(
        sms.count("SELECT COUNT(*) FROM audit_event WHERE action LIKE 'password.%'")
            .await,
        2,
        "the two texts sent; nothing for the refused"
    );
    // The deployment's hour starts again once it has passed.
    sms.run("UPDATE sms_deployment_count SET window_start = window_start - INTERVAL 1 HOUR")
        .await;
    assert_accepted(&forgot(&sms.app, ADMIN_CELL).await);
    assert_eq!(sms.texts_to(ADMIN_CELL).len(), 1);
}

#[tokio::test]
async fn only_numbers_within_the_allowed_prefixes_get_texts() {
    let sms = Sms::new(&[("SMS_ALLOWED_PREFIXES", "+44,+33")]).await;
    let app = &sms.app;
    let british = insert_user(app, 2, "+447700900123", "british-password").await;
    assert_accepted(&forgot(app, USER_CELL).await);
    assert!(sms.texts_to(USER_CELL).is_empty(), "+1 is not allowed");
    assert_accepted(&forgot(app, "+447700900123").await);
    assert_eq!(sms.texts_to("+447700900123").len(), 1);
    assert_accepted(&forgot(app, "+33612345678").await);
    assert!(sms.texts_to("+33612345678").is_empty(), "no account");
    let requested: Vec<_> = sms
        .events()
        .await
        .into_iter()
        .filter(|(action, ..)| action == "password.reset.requested")
        .map(|(_, _, target, detail)| (target, detail))
        .collect();
    assert_eq!(
        requested,
        [
            (Some(sms.user_id), json!({ "sent": false })),
            (Some(british), json!({ "sent": true })),
        ]
    );
}
