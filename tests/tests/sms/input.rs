//! Hostile input to the four routes: each is a clear 4xx that changes nothing (no text, no try of
//! the live code, no user, no event) and leaks nothing.

use super::*;

/// `(function, body, content type)` of a request to one of the four routes.
async fn send(app: &App, function: &str, body: &str, content_type: &str) -> Answer {
    let event = Event::v2(function).raw_body(body, Some(content_type));
    match function {
        "forgot-password" => call!(forgot_password, app, event),
        "reset-password" => call!(reset_password, app, event),
        "signup" => call!(signup, app, event),
        "verify-signup" => call!(verify_signup, app, event),
        other => panic!("{other}"),
    }
}

#[tokio::test]
async fn hostile_bodies_are_4xx_and_change_nothing() {
    let sms = Sms::new(&[("SIGNUP", "open")]).await;
    let app = &sms.app;
    assert_accepted(&forgot(app, USER_CELL).await);
    let code = sms.last_code(USER_CELL);
    let events_before = sms.events().await.len();

    let huge = json!({ "cellnumber": USER_CELL, "padding": "x".repeat(70 * 1024) }).to_string();
    let good_reset =
        json!({ "cellnumber": USER_CELL, "code": code, "newPassword": "hostile-pass-1" });
    let with = |field: &str, value: Value| {
        let mut body = good_reset.clone();
        body[field] = value;
        body.to_string()
    };
    let json = "application/json";
    let mut cases: Vec<(&str, String, &str, u16)> = vec![
        ("reset-password", huge.clone(), json, 413),
        ("forgot-password", huge.clone(), json, 413),
        ("signup", huge.clone(), json, 413),
        ("verify-signup", huge, json, 413),
        ("forgot-password", "cellnumber=+15550000002".into(), "text/plain", 415),
        ("forgot-password", "{\"cellnumber\":".into(), json, 422),
        ("forgot-password", "{\"cellnumber\": null}".into(), json, 422),
        ("forgot-password", "{}".into(), json, 422),
        ("forgot-password", "[]".into(), json, 422),
        ("forgot-password", "{\"cellnumber\": 15550000002}".into(), json, 422),
        ("forgot-password", json!({ "cellnumber": USER_CELL, "extra": 1 }).to_string(), json, 422),
        ("forgot-password", json!({ "cellnumber": "+1555' OR 1=1 --" }).to_string(), json, 422),
        ("forgot-password", json!({ "cellnumber": "＋１５５５００００００２" }).to_string(), json, 422),
        ("forgot-password", json!({ "cellnumber": format!("+{}", "9".repeat(5000)) }).to_string(), json, 422),
        ("verify-signup", json!({ "cellnumber": USER_CELL, "code": "١٢٣٤٥٦" }).to_string(), json, 422),
        ("verify-signup", json!({ "cellnumber": USER_CELL }).to_string(), json, 422),
        ("signup", json!({ "name": "X", "cellnumber": "+15550000009", "password": "long-enough-1", "roleId": 1 }).to_string(), json, 422),
        ("signup", json!({ "name": "\u{202e}evil", "cellnumber": "+15550000009", "password": "long-enough-1" }).to_string(), json, 422),
        ("signup", json!({ "name": "X", "cellnumber": "+15550000009", "password": "short" }).to_string(), json, 422),
    ];
    for code_value in [
        json!("١٢٣٤٥٦"),
        json!("１２３４５６"),
        json!("123 456"),
        json!(" 123456"),
        json!("12345"),
        json!(123456),
        json!(null),
        json!(["123456"]),
        json!(format!("{code}\u{0}")),
    ] {
        cases.push(("reset-password", with("code", code_value), json, 422));
    }
    for password in [json!("pass\u{0}word-1"), json!("x".repeat(73)), json!(null)] {
        cases.push(("reset-password", with("newPassword", password), json, 422));
    }
    cases.push(("reset-password", with("extra", json!(true)), json, 422));
    for (function, body, content_type, status) in cases {
        let answer = send(app, function, &body, content_type).await;
        assert_eq!(
            answer.status,
            status,
            "{function} {}: {}",
            &body[..body.len().min(80)],
            answer.body
        );
        answer.assert_error(status);
    }

    assert_eq!(sms.texts_to(USER_CELL).len(), 1, "no text more");
    assert!(sms.texts_to("+15550000009").is_empty());
    assert_eq!(
        sms.count("SELECT attempts FROM sms_code").await,
        0,
        "no try taken"
    );
    assert_eq!(sms.count("SELECT COUNT(*) FROM users").await, 2);
    assert_eq!(sms.events().await.len(), events_before);
    // The code still works, and the password was the old one until then.
    api_tests::token(app, USER_CELL, USER_PASS).await;
    let answer = reset(app, USER_CELL, &code, "after-the-hostile-ones").await;
    assert_eq!(answer.status, 204, "{}", answer.body);
}
