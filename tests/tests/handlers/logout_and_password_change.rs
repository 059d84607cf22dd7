//! Logout and a user's own password change, through the handlers with API Gateway events:
//! logout ends only the token it was called with; a change needs the current password, is
//! validated, and revokes the user's other tokens.

use api_tests::{call, fixture, jti_of, login, token, Answer, Event, USER_CELL, USER_PASS};
use serde_json::{json, Value};
use shared::App;

async fn me(app: &App, token: &str) -> Answer {
    call!(get_me, app, Event::v2("get-me").bearer(token))
}

async fn change_password(app: &App, token: &str, body: &Value) -> Answer {
    call!(
        change_password,
        app,
        Event::v2("change-password").bearer(token).json_body(body)
    )
}

#[tokio::test]
async fn logout_revokes_only_the_token_it_was_called_with() {
    let f = fixture().await;
    let second = token(&f.app, USER_CELL, USER_PASS).await;
    let answer = call!(logout, &f.app, Event::v2("logout").bearer(&f.user));
    assert_eq!(answer.status, 204, "{}", answer.body);
    assert!(answer.body.is_null());
    me(&f.app, &f.user).await.assert_error(401);
    call!(logout, &f.app, Event::v2("logout").bearer(&f.user)).assert_error(401);
    assert_eq!(me(&f.app, &second).await.status, 200);
}

#[tokio::test]
async fn a_password_change_needs_the_current_password_and_revokes_other_tokens() {
    let f = fixture().await;
    let other = token(&f.app, USER_CELL, USER_PASS).await;
    let wrong = change_password(
        &f.app,
        &f.user,
        &json!({ "currentPassword": "not-it-at-all", "newPassword": "brand-new-pass-1" }),
    )
    .await;
    wrong.assert_error(403);
    let weak = change_password(
        &f.app,
        &f.user,
        &json!({ "currentPassword": USER_PASS, "newPassword": "short" }),
    )
    .await;
    weak.assert_error(422);
    let extra = change_password(
        &f.app,
        &f.user,
        &json!({ "currentPassword": USER_PASS, "newPassword": "brand-new-pass-1", "userId": 1 }),
    )
    .await;
    extra.assert_error(422);
    assert_eq!(
        me(&f.app, &other).await.status,
        200,
        "failed changes revoke nothing"
    );

    let before = me(&f.app, &f.user).await.body;
    let answer = change_password(
        &f.app,
        &f.user,
        &json!({ "currentPassword": USER_PASS, "newPassword": "brand-new-pass-1" }),
    )
    .await;
    assert_eq!(answer.status, 204, "{}", answer.body);
    let after = me(&f.app, &f.user).await;
    assert_eq!(after.status, 200, "the token used stays valid");
    assert!(after.body["updated"].as_str() > before["updated"].as_str());
    me(&f.app, &other).await.assert_error(401);
    login(&f.app, USER_CELL, USER_PASS).await.assert_error(401);
    token(&f.app, USER_CELL, "brand-new-pass-1").await;
    assert_eq!(jti_of(&f.user).len(), 32);
}
