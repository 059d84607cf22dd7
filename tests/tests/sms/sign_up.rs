//! Sign-up by SMS: closed by default, then open: a free number, a taken one, codes that no
//! longer work, and a number or e-mail address taken between the sign-up and its code.

use super::*;

const OPEN: [(&str, &str); 1] = [("SIGNUP", "open")];
const FREE_CELL: &str = "+15550000003";

fn grace() -> Value {
    json!({
        "name": "  Grace Hopper ",
        "cellnumber": FREE_CELL,
        "password": "grace-password-1",
        "email": "grace@example.com",
    })
}

fn assert_signup_accepted(answer: &Answer) {
    assert_eq!(answer.status, 202, "{}", answer.body);
    assert_eq!(answer.body, json!({ "detail": shared::sms::SIGNUP_ANSWER }));
}

#[tokio::test]
async fn closed_sign_up_answers_404_on_both_paths_whatever_the_body() {
    let sms = Sms::new(&[]).await;
    let not_found = json!({ "detail": "Not Found" });
    for answer in [
        signup(&sms.app, &grace()).await,
        signup(&sms.app, &json!({ "unknown": true })).await,
        verify(&sms.app, FREE_CELL, "123456").await,
        call!(
            verify_signup,
            &sms.app,
            Event::v2("verify-signup").raw_body("not json", Some("text/plain"))
        ),
    ] {
        answer.assert_error(404);
        assert_eq!(answer.body, not_found);
    }
    assert!(sms.texts_to(FREE_CELL).is_empty());
    assert_eq!(sms.count("SELECT COUNT(*) FROM sms_code").await, 0);
}

#[tokio::test]
async fn a_free_number_signs_up_with_its_code_and_is_signed_in() {
    let sms = Sms::new(&OPEN).await;
    let app = &sms.app;
    assert_signup_accepted(&signup(app, &grace()).await);
    let texts = sms.texts_to(FREE_CELL);
    assert_eq!(texts.len(), 1);
    assert!(texts[0].contains("sign-up code"), "{}", texts[0]);
    let code = sms.last_code(FREE_CELL);
    assert_eq!(
        sms.count("SELECT COUNT(*) FROM users WHERE cellnumber = '+15550000003'")
            .await,
        0,
        "no user before its code is verified"
    );

    verify(app, FREE_CELL, &wrong(&code))
        .await
        .assert_error(400);
    let created = verify(app, FREE_CELL, &code).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["userId"].as_u64().unwrap();
    let location = format!("/api/users/{id}");
    assert_eq!(created.header("location"), Some(location.as_str()));
    assert_eq!(created.body["roleId"], 2);
    assert_eq!(created.body["tokenType"], "bearer");
    let token = created.body["token"].as_str().unwrap();
    let me = call!(get_me, app, Event::v2("get-me").bearer(token));
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.body["name"], "Grace Hopper");
    assert_eq!(me.body["email"], "grace@example.com");
    assert_eq!(me.body["cellnumber"], FREE_CELL);
    assert_eq!(me.body["isActive"], true);
    api_tests::token(app, FREE_CELL, "grace-password-1").await;

    verify(app, FREE_CELL, &code).await.assert_error(400);
    let events: Vec<_> = sms
        .events()
        .await
        .into_iter()
        .filter(|(action, ..)| action == "signup.completed")
        .collect();
    assert_eq!(
        events,
        [("signup.completed".to_owned(), Some(id), Some(id), json!({}))]
    );
}

#[tokio::test]
async fn a_taken_number_is_told_so_by_text_and_nothing_is_created() {
    let sms = Sms::new(&OPEN).await;
    let app = &sms.app;
    let free = signup(app, &grace()).await;
    let mut taken_body = grace();
    taken_body["cellnumber"] = json!(USER_CELL);
    let taken = signup(app, &taken_body).await;
    assert_signup_accepted(&taken);
    assert_eq!(taken.headers, free.headers);
    let texts = sms.texts_to(USER_CELL);
    assert_eq!(texts.len(), 1);
    assert!(texts[0].contains("already has an account"), "{}", texts[0]);
    assert!(
        !texts[0].chars().any(|c| c.is_ascii_digit()),
        "{}",
        texts[0]
    );
    assert_eq!(
        sms.count("SELECT COUNT(*) FROM sms_code WHERE cellnumber <> '+15550000003'")
            .await,
        0
    );
    assert_eq!(sms.count("SELECT COUNT(*) FROM users").await, 2);
    // No code a guess could find.
    verify(app, USER_CELL, "123456").await.assert_error(400);
}

#[tokio::test]
async fn a_number_or_address_taken_meanwhile_is_409_and_old_codes_die() {
    let sms = Sms::new(&[("SIGNUP", "open"), ("SMS_RESEND_SECONDS", "0")]).await;
    let app = &sms.app;
    assert_signup_accepted(&signup(app, &grace()).await);
    let code = sms.last_code(FREE_CELL);
    insert_user(app, 2, FREE_CELL, "someone-elses-password").await;
    let conflict = verify(app, FREE_CELL, &code).await;
    conflict.assert_error(409);
    assert_eq!(conflict.body["detail"], "Cellnumber already registered");

    // The e-mail address of a user that exists (insert_user's), in another case.
    let mut body = grace();
    body["cellnumber"] = json!("+15550000004");
    body["email"] = json!("U15550000002@Example.com");
    assert_signup_accepted(&signup(app, &body).await);
    let code = sms.last_code("+15550000004");
    let conflict = verify(app, "+15550000004", &code).await;
    conflict.assert_error(409);
    assert_eq!(conflict.body["detail"], "Email already registered");
    assert_eq!(sms.count("SELECT COUNT(*) FROM users").await, 3);

    // Replaced: a second sign-up's code is the live one, with its data.
    body["email"] = json!("first@example.com");
    body["cellnumber"] = json!("+15550000005");
    assert_signup_accepted(&signup(app, &body).await);
    let first = sms.last_code("+15550000005");
    body["name"] = json!("Second Try");
    body["email"] = json!("second@example.com");
    assert_signup_accepted(&signup(app, &body).await);
    let second = sms.last_code("+15550000005");
    verify(app, "+15550000005", &first).await.assert_error(400);
    // Expired.
    sms.run("UPDATE sms_code SET expires = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND")
        .await;
    verify(app, "+15550000005", &second).await.assert_error(400);
    assert_signup_accepted(&signup(app, &body).await);
    let third = sms.last_code("+15550000005");
    let created = verify(app, "+15550000005", &third).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let name = sms
        .count("SELECT name = 'Second Try' FROM users WHERE cellnumber = '+15550000005'")
        .await;
    assert_eq!(name, 1);
}

#[tokio::test]
async fn sign_up_and_recovery_share_the_limits_of_texts() {
    let extra = [("SIGNUP", "open"), ("SMS_MAX_PER_ADDRESS_PER_HOUR", "1")];
    let sms = Sms::new(&extra).await;
    assert_signup_accepted(&signup(&sms.app, &grace()).await);
    let refused = forgot(&sms.app, USER_CELL).await;
    refused.assert_error(429);
    assert!(refused.header("retry-after").is_some());
    signup(&sms.app, &grace()).await.assert_error(429);
    assert_eq!(sms.texts_to(FREE_CELL).len(), 1);
}

#[tokio::test]
async fn sign_up_and_its_verification_cost_a_bounded_number_of_round_trips() {
    let extra = [("SIGNUP", "open"), ("SMS_RESEND_SECONDS", "0")];
    let sms = Sms::new(&extra).await;
    let server = api_tests::server_url();
    let upstream = server.rsplit('@').next().unwrap().to_owned();
    let proxy = api_tests::round_trips::RoundTripProxy::start(upstream).await;
    let url = format!("mysql://root@127.0.0.1:{}/{}", proxy.port, sms.db.name);
    let counted = sms.another_app(&[extra.as_slice(), &[("DATABASE_URL", &url)]].concat());
    // A first sign-up and verification open the connection and prepare its statements.
    let mut trips = Vec::new();
    for cellnumber in ["+15550000031", "+15550000032"] {
        let mut body = grace();
        body["cellnumber"] = json!(cellnumber);
        body["email"] = json!(null);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        proxy.reset();
        assert_signup_accepted(&signup(&counted, &body).await);
        let asked = proxy.round_trips();
        let code = sms.last_code(cellnumber);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        proxy.reset();
        assert_eq!(verify(&counted, cellnumber, &code).await.status, 201);
        trips.push((asked, proxy.round_trips()));
    }
    assert_eq!(
        trips[1],
        (2, 7),
        "sign-up: the counted request with the pending user, the clean-up; verification: the \
         try taken with the code read, then begin, the user, the code spent, the event, commit, \
         and the session batch"
    );
}
