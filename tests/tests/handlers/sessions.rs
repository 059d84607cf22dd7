//! Sessions and refresh tokens: the grant, rotation, reuse detection, listing and ending
//! sessions, logout scopes, and everything else that ends them.

use api_tests::{
    admin_patch, app_for_url, call, count, fixture, login, login_from, Answer, Event, Fixture,
    ADMIN_CELL, ADMIN_PASS, USER_CELL, USER_PASS,
};
use chrono::{DateTime, Utc};
use mysql_async::prelude::Queryable;
use serde_json::{json, Value};
use shared::App;

async fn refresh(app: &App, refresh_token: &str) -> Answer {
    call!(
        refresh_token,
        app,
        Event::v2("refresh-token").json_body(&json!({ "refreshToken": refresh_token }))
    )
}

async fn me(app: &App, token: &str) -> u16 {
    call!(get_me, app, Event::v2("get-me").bearer(token)).status
}

async fn sessions_of(app: &App, token: &str) -> Answer {
    call!(list_sessions, app, Event::v2("list-sessions").bearer(token))
}

async fn end_session(app: &App, token: &str, id: &str) -> Answer {
    call!(
        delete_session,
        app,
        Event::v2("delete-session")
            .bearer(token)
            .path_param("sessionId", id)
    )
}

async fn logout(app: &App, token: &str, query: &str) -> Answer {
    call!(logout, app, Event::v2("logout").bearer(token).query(query))
}

/// A fresh login of the normal user: (access token, refresh token, session id).
async fn sign_in(f: &Fixture) -> (String, String, String) {
    let grant = login(&f.app, USER_CELL, USER_PASS).await;
    assert_eq!(grant.status, 200, "{}", grant.body);
    let field = |name: &str| grant.body[name].as_str().unwrap().to_owned();
    (field("token"), field("refreshToken"), field("sessionId"))
}

fn time(value: &Value) -> DateTime<Utc> {
    value.as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn login_answers_a_session_grant_and_old_clients_keep_their_fields() {
    let f = fixture().await;
    let grant = login(&f.app, USER_CELL, USER_PASS).await.body;
    for field in [
        "token",
        "tokenType",
        "ttl",
        "userId",
        "roleId",
        "created",
        "expires",
    ] {
        assert!(grant.get(field).is_some(), "{field} in {grant}");
    }
    assert_eq!(grant["tokenType"], "bearer");
    let refresh_token = grant["refreshToken"].as_str().unwrap();
    assert!(refresh_token.len() >= 43, "at least 256 bits");
    let session_id = grant["sessionId"].as_str().unwrap();
    assert_eq!(session_id.len(), 22);
    assert!(session_id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    let lifetime = time(&grant["refreshExpires"]) - time(&grant["created"]);
    assert!(
        (lifetime.num_seconds() - 30 * 24 * 3600).abs() <= 2,
        "{lifetime}"
    );
    // Only a hash of the refresh token is stored.
    let mut conn = f.app.pool.get_conn().await.unwrap();
    let stored: Vec<Vec<u8>> = conn
        .query("SELECT refresh_hash FROM session")
        .await
        .unwrap();
    let digest = shared::auth::random::sha256(refresh_token.as_bytes()).to_vec();
    assert!(stored.contains(&digest));
    assert!(!stored.iter().any(|hash| hash == refresh_token.as_bytes()));
}

#[tokio::test]
async fn a_refresh_rotates_and_a_spent_token_presented_again_ends_the_session() {
    let f = fixture().await;
    let (access, first_refresh, session_id) = sign_in(&f).await;
    let renewed = refresh(&f.app, &first_refresh).await;
    assert_eq!(renewed.status, 200, "{}", renewed.body);
    assert_eq!(renewed.body["sessionId"], session_id.as_str());
    assert_eq!(renewed.body["userId"], f.user_id);
    let new_access = renewed.body["token"].as_str().unwrap().to_owned();
    let second_refresh = renewed.body["refreshToken"].as_str().unwrap().to_owned();
    assert_ne!(new_access, access);
    assert_ne!(second_refresh, first_refresh);
    assert_eq!(me(&f.app, &new_access).await, 200);
    assert_eq!(me(&f.app, &access).await, 200, "the session is the same");
    // It can be spent again, and again.
    let third = refresh(&f.app, &second_refresh).await;
    assert_eq!(third.status, 200, "{}", third.body);
    let third_refresh = third.body["refreshToken"].as_str().unwrap().to_owned();

    // The spent one again: theft. The whole session ends.
    refresh(&f.app, &second_refresh).await.assert_error(401);
    for token in [&access, &new_access, third.body["token"].as_str().unwrap()] {
        assert_eq!(me(&f.app, token).await, 401);
    }
    refresh(&f.app, &third_refresh).await.assert_error(401);
    // Other sessions of the user are untouched.
    assert_eq!(me(&f.app, &f.user).await, 200);
}

#[tokio::test]
async fn bad_refresh_requests_are_422_and_garbage_is_401() {
    let f = fixture().await;
    let sessions_before = count(&f.app, "SELECT COUNT(*) FROM session WHERE ended IS NULL").await;
    for body in [
        json!({}),
        json!({ "refreshToken": "" }),
        json!({ "refreshToken": "a".repeat(513) }),
        json!({ "refreshToken": 12345 }),
        json!({ "refreshToken": null }),
        json!({ "refreshToken": ["x"] }),
        json!({ "refreshToken": "x", "userId": 1 }),
    ] {
        let answer = call!(
            refresh_token,
            &f.app,
            Event::v2("refresh-token").json_body(&body)
        );
        answer.assert_error(422);
    }
    for garbage in ["garbage", "a", &"z".repeat(512), "' OR 1=1 --", "😀😀😀"] {
        refresh(&f.app, garbage).await.assert_error(401);
    }
    let not_json = call!(
        refresh_token,
        &f.app,
        Event::v2("refresh-token").raw_body("refreshToken=x", Some("text/plain"))
    );
    assert!([415, 422].contains(&not_json.status));
    assert_eq!(
        count(&f.app, "SELECT COUNT(*) FROM session WHERE ended IS NULL").await,
        sessions_before
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_refreshes_of_one_token_at_once_one_wins_and_the_session_ends() {
    let f = fixture().await;
    for _ in 0..5 {
        let (_, refresh_token, session_id) = sign_in(&f).await;
        let mut tasks = Vec::new();
        for _ in 0..2 {
            let (url, token) = (f.db.url.clone(), refresh_token.clone());
            tasks.push(tokio::spawn(async move {
                refresh(&app_for_url(&url), &token).await
            }));
        }
        let mut answers = Vec::new();
        for task in tasks {
            answers.push(task.await.unwrap());
        }
        let won: Vec<&Answer> = answers.iter().filter(|a| a.status == 200).collect();
        assert_eq!(won.len(), 1, "exactly one succeeds");
        answers
            .iter()
            .find(|a| a.status != 200)
            .unwrap()
            .assert_error(401);
        // The loser was treated as a replay: the winner's tokens are ended with the session.
        assert_eq!(
            me(&f.app, won[0].body["token"].as_str().unwrap()).await,
            401
        );
        refresh(&f.app, won[0].body["refreshToken"].as_str().unwrap())
            .await
            .assert_error(401);
        let sql =
            format!("SELECT COUNT(*) FROM session WHERE id = '{session_id}' AND ended IS NOT NULL");
        assert_eq!(count(&f.app, &sql).await, 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_session_survives_its_ending_while_a_refresh_is_in_flight() {
    let f = fixture().await;
    for _ in 0..10 {
        let (access, refresh_token, session_id) = sign_in(&f).await;
        let url = f.db.url.clone();
        let refreshing =
            tokio::spawn(async move { refresh(&app_for_url(&url), &refresh_token).await });
        let ended = end_session(&f.app, &access, &session_id).await;
        assert!([204, 401].contains(&ended.status), "{}", ended.body);
        let renewed = refreshing.await.unwrap();
        if renewed.status == 200 {
            assert_eq!(
                me(&f.app, renewed.body["token"].as_str().unwrap()).await,
                401
            );
            refresh(&f.app, renewed.body["refreshToken"].as_str().unwrap())
                .await
                .assert_error(401);
        } else {
            renewed.assert_error(401);
        }
        assert_eq!(me(&f.app, &access).await, 401);
    }
}

#[tokio::test]
async fn a_user_lists_its_live_sessions_newest_first_and_ends_one() {
    let f = fixture().await;
    let (first_access, first_refresh, first_id) = sign_in(&f).await;
    let (second_access, _, second_id) = sign_in(&f).await;
    refresh(&f.app, &first_refresh).await;

    let listed = sessions_of(&f.app, &second_access).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    let items = listed.body["items"].as_array().unwrap();
    assert_eq!(
        items.len(),
        3,
        "the fixture's session and these two: {items:?}"
    );
    assert_eq!(items[0]["id"], second_id.as_str());
    assert_eq!(items[0]["current"], true);
    assert!(items[0]["refreshed"].is_null());
    assert_eq!(items[1]["id"], first_id.as_str());
    assert_eq!(items[1]["current"], false);
    assert!(!items[1]["refreshed"].is_null());
    assert!(items
        .iter()
        .all(|s| s.get("expires").is_some() && s.get("created").is_some()));
    assert!(time(&items[0]["created"]) >= time(&items[1]["created"]));

    let ended = end_session(&f.app, &second_access, &first_id).await;
    assert_eq!(ended.status, 204, "{}", ended.body);
    assert_eq!(me(&f.app, &first_access).await, 401);
    refresh(&f.app, &first_refresh).await.assert_error(401);
    let items = sessions_of(&f.app, &second_access).await.body["items"].clone();
    assert_eq!(items.as_array().unwrap().len(), 2);

    // Ended, unknown, malformed, and another user's: 404 alike.
    let admin_session = login(&f.app, ADMIN_CELL, ADMIN_PASS).await.body["sessionId"]
        .as_str()
        .unwrap()
        .to_owned();
    for id in [
        first_id.as_str(),
        "AAAAAAAAAAAAAAAAAAAAAA",
        "nope",
        &admin_session,
    ] {
        let answer = end_session(&f.app, &second_access, id).await;
        answer.assert_error(404);
        assert_eq!(answer.body["detail"], "Session not found");
    }
    // Ending one's current session is a logout.
    assert_eq!(
        end_session(&f.app, &second_access, &second_id).await.status,
        204
    );
    assert_eq!(me(&f.app, &second_access).await, 401);
    // Without a token: 401.
    call!(list_sessions, &f.app, Event::v2("list-sessions")).assert_error(401);
}

#[tokio::test]
async fn logout_scopes_end_this_the_others_or_every_session() {
    let f = fixture().await;
    let (a, _, _) = sign_in(&f).await;
    let (b, b_refresh, _) = sign_in(&f).await;

    logout(&f.app, &a, "scope=bogus").await.assert_error(422);
    logout(&f.app, &a, "scope=").await.assert_error(422);
    assert_eq!(me(&f.app, &a).await, 200, "a refused scope ends nothing");

    assert_eq!(logout(&f.app, &a, "scope=others").await.status, 204);
    assert_eq!(me(&f.app, &a).await, 200);
    assert_eq!(me(&f.app, &b).await, 401);
    assert_eq!(me(&f.app, &f.user).await, 401);
    refresh(&f.app, &b_refresh).await.assert_error(401);

    let (c, _, _) = sign_in(&f).await;
    assert_eq!(logout(&f.app, &a, "scope=local").await.status, 204);
    assert_eq!(me(&f.app, &a).await, 401);
    assert_eq!(me(&f.app, &c).await, 200);

    let (d, _, _) = sign_in(&f).await;
    assert_eq!(
        logout(&f.app, &d, "").await.status,
        204,
        "local is the default"
    );
    assert_eq!(me(&f.app, &c).await, 200);

    let (e, _, _) = sign_in(&f).await;
    assert_eq!(logout(&f.app, &e, "scope=global").await.status, 204);
    assert_eq!(me(&f.app, &c).await, 401);
    assert_eq!(me(&f.app, &e).await, 401);
    assert_eq!(
        me(&f.app, &f.admin).await,
        200,
        "another user's sessions stay"
    );
}

#[tokio::test]
async fn an_admin_signs_a_user_out_everywhere() {
    let f = fixture().await;
    let (a, a_refresh, _) = sign_in(&f).await;
    let revoke = |token: &str, id: &str| {
        Event::v2("revoke-user-sessions")
            .bearer(token)
            .path_param("id", id)
    };
    let user_id = f.user_id.to_string();
    call!(revoke_user_sessions, &f.app, revoke(&f.user, &user_id)).assert_error(403);
    assert_eq!(me(&f.app, &a).await, 200);
    let done = call!(revoke_user_sessions, &f.app, revoke(&f.admin, &user_id));
    assert_eq!(done.status, 204, "{}", done.body);
    assert_eq!(me(&f.app, &a).await, 401);
    assert_eq!(me(&f.app, &f.user).await, 401);
    refresh(&f.app, &a_refresh).await.assert_error(401);
    assert_eq!(me(&f.app, &f.admin).await, 200);
    call!(revoke_user_sessions, &f.app, revoke(&f.admin, "999999")).assert_error(404);
    call!(revoke_user_sessions, &f.app, revoke(&f.admin, "x")).assert_error(422);
    // Signing in again works.
    sign_in(&f).await;
}

#[tokio::test]
async fn password_changes_and_deletion_end_sessions_through_the_same_mechanism() {
    let f = fixture().await;
    let (a, a_refresh, _) = sign_in(&f).await;
    let (b, b_refresh, _) = sign_in(&f).await;
    let own = call!(
        change_password,
        &f.app,
        Event::v2("change-password")
            .bearer(&a)
            .json_body(&json!({ "currentPassword": USER_PASS, "newPassword": "brand-new-pass-1" }))
    );
    assert_eq!(own.status, 204, "{}", own.body);
    assert_eq!(me(&f.app, &a).await, 200, "the session used stays");
    assert_eq!(me(&f.app, &b).await, 401);
    refresh(&f.app, &b_refresh).await.assert_error(401);
    let renewed = refresh(&f.app, &a_refresh).await;
    assert_eq!(renewed.status, 200, "{}", renewed.body);
    let a_refresh = renewed.body["refreshToken"].as_str().unwrap().to_owned();

    let reset = admin_patch(
        &f.app,
        &f.admin,
        f.user_id,
        &json!({ "password": "admin-chosen-pass-1" }),
    )
    .await;
    assert_eq!(reset.status, 200, "{}", reset.body);
    assert_eq!(
        me(&f.app, &a).await,
        401,
        "an admin reset ends every session"
    );
    refresh(&f.app, &a_refresh).await.assert_error(401);

    let grant = login_from(&f.app, USER_CELL, "admin-chosen-pass-1", "198.51.100.1").await;
    let refresh_token = grant.body["refreshToken"].as_str().unwrap().to_owned();
    let deleted = call!(
        delete_user,
        &f.app,
        Event::v2("delete-user")
            .bearer(&f.admin)
            .path_param("id", &f.user_id.to_string())
    );
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    refresh(&f.app, &refresh_token).await.assert_error(401);
    let sql = format!("SELECT COUNT(*) FROM session WHERE user_id = {}", f.user_id);
    assert_eq!(
        count(&f.app, &sql).await,
        0,
        "a deleted user's sessions go with it"
    );
}

#[tokio::test]
async fn expired_sessions_refuse_refresh_and_are_cleaned_up_in_batches() {
    let f = fixture().await;
    let (access, refresh_token, session_id) = sign_in(&f).await;
    let mut conn = f.app.pool.get_conn().await.unwrap();
    conn.exec_drop(
        "UPDATE session SET expires = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND WHERE id = ?",
        (&session_id,),
    )
    .await
    .unwrap();
    refresh(&f.app, &refresh_token).await.assert_error(401);
    assert_eq!(
        me(&f.app, &access).await,
        401,
        "its access tokens end with it"
    );
    login(&f.app, ADMIN_CELL, ADMIN_PASS).await;
    let sql = format!("SELECT COUNT(*) FROM session WHERE id = '{session_id}'");
    assert_eq!(count(&f.app, &sql).await, 0);
}

/// `(action, actorId, targetId, detail)` of every event after `after`, oldest first.
async fn events_since(app: &App, after: u64) -> Vec<(String, Option<u64>, Option<u64>, Value)> {
    let mut conn = app.pool.get_conn().await.unwrap();
    let rows: Vec<(String, Option<u64>, Option<u64>, String)> = conn
        .exec(
            "SELECT action, actor_id, target_id, detail FROM audit_event WHERE id > ? ORDER BY id",
            (after,),
        )
        .await
        .unwrap();
    rows.into_iter()
        .map(|(action, actor, target, detail)| {
            (
                action,
                actor,
                target,
                serde_json::from_str(&detail).unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn every_ending_of_a_session_is_in_the_audit_log_and_no_token_is() {
    let f = fixture().await;
    let start = count(&f.app, "SELECT COALESCE(MAX(id), 0) FROM audit_event").await;
    let (a, a_refresh, a_id) = sign_in(&f).await;
    let (b, _, b_id) = sign_in(&f).await;
    let renewed = refresh(&f.app, &a_refresh).await;
    refresh(&f.app, &a_refresh).await.assert_error(401); // the replay ends session a
    assert_eq!(end_session(&f.app, &b, &b_id).await.status, 204);
    let (c, _, _) = sign_in(&f).await;
    assert_eq!(logout(&f.app, &c, "scope=others").await.status, 204);
    let revoke = Event::v2("revoke-user-sessions")
        .bearer(&f.admin)
        .path_param("id", &f.user_id.to_string());
    assert_eq!(call!(revoke_user_sessions, &f.app, revoke).status, 204);

    let user = Some(f.user_id);
    let expected = [
        (
            "login.succeeded".to_owned(),
            None,
            user,
            json!({ "sessionId": a_id }),
        ),
        (
            "login.succeeded".to_owned(),
            None,
            user,
            json!({ "sessionId": b_id }),
        ),
        (
            "refresh.reused".to_owned(),
            None,
            user,
            json!({ "sessionId": a_id }),
        ),
        (
            "session.revoked".to_owned(),
            user,
            user,
            json!({ "sessionId": b_id }),
        ),
    ];
    let events = events_since(&f.app, start).await;
    assert_eq!(events[..4], expected[..], "{events:?}");
    let tail: Vec<(&str, Option<u64>, Value)> = events[4..]
        .iter()
        .map(|(action, actor, _, detail)| (action.as_str(), *actor, detail.clone()))
        .collect();
    assert_eq!(tail[0].0, "login.succeeded");
    assert_eq!(tail[1], ("logout", user, json!({ "scope": "others" })));
    assert_eq!(tail[2], ("sessions.revoked", Some(f.admin_id), json!({})));
    assert_eq!(tail.len(), 3, "{events:?}");
    // A refresh is not an event, and no event holds a token or refresh token.
    let text = format!("{events:?}");
    let renewed_refresh = renewed.body["refreshToken"].as_str().unwrap();
    for secret in [a.as_str(), &b, &c, &a_refresh, renewed_refresh] {
        assert!(!text.contains(secret), "a token in the audit log");
    }
}
