//! What a session's tokens can never do: be spent again (any refresh token a session has spent,
//! not only the last, ends the session when presented), or outlive their session (no access
//! token expires after the session's end).

use api_tests::{
    app_for_url, call, count, fixture, login, Answer, Event, Fixture, USER_CELL, USER_PASS,
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

fn text(answer: &Answer, name: &str) -> String {
    answer.body[name].as_str().unwrap().to_owned()
}

fn time(answer: &Answer, name: &str) -> DateTime<Utc> {
    answer.body[name].as_str().unwrap().parse().unwrap()
}

/// The claims of a JWT (no verification: tests only).
fn claims_of(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// Every access and refresh token one session had, oldest first.
struct Chain {
    session_id: String,
    access: Vec<String>,
    refresh: Vec<String>,
}

/// A fresh session of the normal user, refreshed `times` times.
async fn refreshed_session(f: &Fixture, times: usize) -> Chain {
    let grant = login(&f.app, USER_CELL, USER_PASS).await;
    assert_eq!(grant.status, 200, "{}", grant.body);
    let mut chain = Chain {
        session_id: text(&grant, "sessionId"),
        access: vec![text(&grant, "token")],
        refresh: vec![text(&grant, "refreshToken")],
    };
    for _ in 0..times {
        let renewed = refresh(&f.app, chain.refresh.last().unwrap()).await;
        assert_eq!(renewed.status, 200, "{}", renewed.body);
        chain.access.push(text(&renewed, "token"));
        chain.refresh.push(text(&renewed, "refreshToken"));
    }
    chain
}

async fn ended(app: &App, session_id: &str) -> bool {
    let sql =
        format!("SELECT COUNT(*) FROM session WHERE id = '{session_id}' AND ended IS NOT NULL");
    count(app, &sql).await == 1
}

async fn reuse_events(app: &App, session_id: &str) -> u64 {
    let sql = format!(
        "SELECT COUNT(*) FROM audit_event WHERE action = 'refresh.reused' \
         AND detail LIKE '%{session_id}%'"
    );
    count(app, &sql).await
}

/// Nothing of the session works any more: no access token, no refresh token.
async fn assert_dead(app: &App, chain: &Chain) {
    assert!(ended(app, &chain.session_id).await);
    for access in &chain.access {
        assert_eq!(me(app, access).await, 401);
    }
    refresh(app, chain.refresh.last().unwrap())
        .await
        .assert_error(401);
}

#[tokio::test]
async fn a_stolen_refresh_token_used_twice_then_the_victims_copy_ends_the_session() {
    let f = fixture().await;
    // The thief spends the stolen R1 (R1 → R2 → R3) before the victim uses its copy.
    let chain = refreshed_session(&f, 2).await;
    refresh(&f.app, &chain.refresh[0]).await.assert_error(401);
    assert_dead(&f.app, &chain).await;
    assert_eq!(reuse_events(&f.app, &chain.session_id).await, 1);
    // Other sessions of the user are untouched.
    assert_eq!(me(&f.app, &f.user).await, 200);
}

#[tokio::test]
async fn every_spent_refresh_token_of_a_session_ends_it_not_only_the_last() {
    let f = fixture().await;
    for spent in 0..4 {
        let chain = refreshed_session(&f, 4).await;
        refresh(&f.app, &chain.refresh[spent])
            .await
            .assert_error(401);
        assert_dead(&f.app, &chain).await;
        assert_eq!(reuse_events(&f.app, &chain.session_id).await, 1, "{spent}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_spent_token_presented_twice_at_once_ends_the_session_once() {
    let f = fixture().await;
    for _ in 0..5 {
        let chain = refreshed_session(&f, 2).await;
        let mut tasks = Vec::new();
        for _ in 0..2 {
            let (url, token) = (f.db.url.clone(), chain.refresh[0].clone());
            tasks.push(tokio::spawn(async move {
                refresh(&app_for_url(&url), &token).await
            }));
        }
        for task in tasks {
            task.await.unwrap().assert_error(401);
        }
        assert_dead(&f.app, &chain).await;
        assert_eq!(reuse_events(&f.app, &chain.session_id).await, 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_spent_token_racing_the_current_one_leaves_no_live_token() {
    let f = fixture().await;
    for _ in 0..8 {
        let mut chain = refreshed_session(&f, 2).await;
        let url = f.db.url.clone();
        let stolen = chain.refresh[0].clone();
        let replay = tokio::spawn(async move { refresh(&app_for_url(&url), &stolen).await });
        let url = f.db.url.clone();
        let current = chain.refresh[2].clone();
        let legit = tokio::spawn(async move { refresh(&app_for_url(&url), &current).await });
        replay.await.unwrap().assert_error(401);
        let legit = legit.await.unwrap();
        if legit.status == 200 {
            // It won the race, but the session it renewed is ended all the same.
            chain.access.push(text(&legit, "token"));
            chain.refresh.push(text(&legit, "refreshToken"));
        } else {
            legit.assert_error(401);
        }
        assert_dead(&f.app, &chain).await;
    }
}

#[tokio::test]
async fn spent_hashes_go_with_their_session() {
    let f = fixture().await;
    let spent_of =
        |id: &str| format!("SELECT COUNT(*) FROM spent_refresh WHERE session_id = '{id}'");
    let chain = refreshed_session(&f, 3).await;
    assert_eq!(count(&f.app, &spent_of(&chain.session_id)).await, 3);
    // Only hashes are kept, never a token.
    let mut conn = f.app.pool.get_conn().await.unwrap();
    let stored: Vec<Vec<u8>> = conn.query("SELECT hash FROM spent_refresh").await.unwrap();
    let digest = shared::auth::random::sha256(chain.refresh[0].as_bytes()).to_vec();
    assert!(stored.contains(&digest));
    assert!(!stored
        .iter()
        .any(|hash| hash == chain.refresh[0].as_bytes()));
    // An expired session is cleaned up with its spent hashes.
    conn.exec_drop(
        "UPDATE session SET expires = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND WHERE id = ?",
        (&chain.session_id,),
    )
    .await
    .unwrap();
    login(&f.app, USER_CELL, USER_PASS).await;
    assert_eq!(count(&f.app, &spent_of(&chain.session_id)).await, 0);
    // A deleted user's sessions take theirs.
    let chain = refreshed_session(&f, 2).await;
    let delete = Event::v2("delete-user")
        .bearer(&f.admin)
        .path_param("id", &f.user_id.to_string());
    assert_eq!(call!(delete_user, &f.app, delete).status, 200);
    assert_eq!(count(&f.app, &spent_of(&chain.session_id)).await, 0);
}

#[tokio::test]
async fn a_session_refreshed_too_often_signs_in_again_and_is_not_ended() {
    let f = fixture().await;
    let chain = refreshed_session(&f, 1).await;
    let mut conn = f.app.pool.get_conn().await.unwrap();
    let set_refreshes = "UPDATE session SET refreshes = ? WHERE id = ?";
    conn.exec_drop(set_refreshes, (10_000, &chain.session_id))
        .await
        .unwrap();
    refresh(&f.app, &chain.refresh[1]).await.assert_error(401);
    // Not a theft: the session and its access tokens live on, and the token was not spent.
    assert!(!ended(&f.app, &chain.session_id).await);
    assert_eq!(me(&f.app, &chain.access[1]).await, 200);
    conn.exec_drop(set_refreshes, (9_999, &chain.session_id))
        .await
        .unwrap();
    let renewed = refresh(&f.app, &chain.refresh[1]).await;
    assert_eq!(renewed.status, 200, "{}", renewed.body);
}

/// The grant's `expires`, the JWT's `exp` and the token's record all end at or before the
/// session's end, and `ttl` is what is left of the token's life.
async fn assert_within_session(app: &App, grant: &Answer) {
    assert_eq!(grant.status, 200, "{}", grant.body);
    let (created, expires) = (time(grant, "created"), time(grant, "expires"));
    let session_end = time(grant, "refreshExpires");
    assert!(expires <= session_end, "{}", grant.body);
    let ttl = grant.body["ttl"].as_i64().unwrap();
    assert_eq!(ttl, (expires - created).num_seconds(), "{}", grant.body);
    let claims = claims_of(&text(grant, "token"));
    assert_eq!(claims["exp"].as_i64().unwrap(), expires.timestamp());
    assert!(claims["exp"].as_i64().unwrap() <= session_end.timestamp());
    let sql = format!(
        "SELECT COUNT(*) FROM access_token WHERE jti = '{}' AND expires = '{}'",
        claims["jti"].as_str().unwrap(),
        expires.naive_utc()
    );
    assert_eq!(count(app, &sql).await, 1, "the record ends with the token");
}

#[tokio::test]
async fn no_access_token_outlives_its_session() {
    let f = fixture().await;
    let grant = login(&f.app, USER_CELL, USER_PASS).await;
    assert_within_session(&f.app, &grant).await;
    assert_eq!(
        grant.body["ttl"], 3600,
        "far from the end: the configured lifetime"
    );

    // 100 seconds before the session's end, a refresh answers a token of 100 seconds at most.
    let mut conn = f.app.pool.get_conn().await.unwrap();
    conn.exec_drop(
        "UPDATE session SET expires = UTC_TIMESTAMP(6) + INTERVAL 100 SECOND WHERE id = ?",
        (text(&grant, "sessionId"),),
    )
    .await
    .unwrap();
    let renewed = refresh(&f.app, &text(&grant, "refreshToken")).await;
    assert_within_session(&f.app, &renewed).await;
    let ttl = renewed.body["ttl"].as_u64().unwrap();
    assert!((95..=100).contains(&ttl), "{ttl}");
    assert_eq!(me(&f.app, &text(&renewed, "token")).await, 200);
}

#[tokio::test]
async fn a_session_as_long_as_a_token_gets_a_token_no_longer_than_itself() {
    let db = api_tests::TestDb::new().await;
    let app = api_tests::test_app_with(
        &db,
        &[("SESSION_TTL_SECONDS", "300"), ("TOKEN_TTL_SECONDS", "300")],
    );
    api_tests::insert_user(&app, 2, USER_CELL, USER_PASS).await;
    for _ in 0..3 {
        let grant = login(&app, USER_CELL, USER_PASS).await;
        assert_within_session(&app, &grant).await;
        let renewed = refresh(&app, &text(&grant, "refreshToken")).await;
        assert_within_session(&app, &renewed).await;
    }
}
