//! Login, `GET /api/users/me` and `GET /api/users/{id}` through their handlers, fed real API
//! Gateway events, against a fresh MariaDB database per test.

use api_tests::{
    count, fixture, jti_of, login, token, Answer, Event, TestDb, ADMIN_CELL, ADMIN_PASS, USER_CELL,
    USER_PASS,
};
use mysql_async::prelude::Queryable;
use serde_json::json;
use shared::App;

async fn login_event(app: &App, event: Event) -> Answer {
    Answer::from_response(login::handler(app, event.request()).await.unwrap())
}

async fn me(app: &App, token: &str) -> Answer {
    Answer::from_response(
        get_me::handler(app, Event::v2("get-me").bearer(token).request())
            .await
            .unwrap(),
    )
}

async fn get_user(app: &App, token: &str, id: &str) -> Answer {
    let event = Event::v2("get-user").bearer(token).path_param("id", id);
    Answer::from_response(get_user::handler(app, event.request()).await.unwrap())
}

#[tokio::test]
async fn login_returns_a_recorded_token_in_the_contract_shape() {
    let f = fixture().await;
    let tokens_before = count(&f.app, "SELECT COUNT(*) FROM access_token").await;
    let answer = login(&f.app, ADMIN_CELL, ADMIN_PASS).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let body = &answer.body;
    assert_eq!(body["tokenType"], "bearer");
    assert_eq!(body["ttl"], 3600);
    assert_eq!(body["userId"], f.admin_id);
    assert_eq!(body["roleId"], 1);
    let created = chrono::DateTime::parse_from_rfc3339(body["created"].as_str().unwrap()).unwrap();
    let expires = chrono::DateTime::parse_from_rfc3339(body["expires"].as_str().unwrap()).unwrap();
    assert_eq!((expires - created).num_seconds(), 3600);
    assert!(body["created"].as_str().unwrap().ends_with('Z'));
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    assert_eq!(answer.header("x-content-type-options"), Some("nosniff"));
    // The store keeps the jti, never the token.
    let token = body["token"].as_str().unwrap();
    assert_eq!(
        count(&f.app, "SELECT COUNT(*) FROM access_token").await,
        tokens_before + 1
    );
    let mut conn = f.app.pool.get_conn().await.unwrap();
    let stored: Option<(String, u64)> = conn
        .exec_first(
            "SELECT jti, user_id FROM access_token WHERE jti = ?",
            (jti_of(token),),
        )
        .await
        .unwrap();
    let (jti, user_id) = stored.expect("the token's row, by jti");
    assert_eq!(user_id, f.admin_id);
    assert!(!jti.contains(token) && !token.is_empty());
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_cellnumber_look_the_same() {
    let f = fixture().await;
    let tokens_before = count(&f.app, "SELECT COUNT(*) FROM access_token").await;
    let wrong = login(&f.app, ADMIN_CELL, "not-the-password").await;
    let unknown = login(&f.app, "+19999999999", ADMIN_PASS).await;
    wrong.assert_error(401);
    unknown.assert_error(401);
    assert_eq!(wrong.body, unknown.body);
    assert_eq!(wrong.headers, unknown.headers);
    // Cellnumbers no user can have, non-ASCII ones included (found by the fuzzer: MySQL refused
    // to compare them with the ASCII column, a 500).
    for impossible in ["é", "+1555000000١", "not a number", ""] {
        let answer = login(&f.app, impossible, ADMIN_PASS).await;
        answer.assert_error(401);
        assert_eq!(answer.body, wrong.body);
    }
    assert_eq!(
        count(&f.app, "SELECT COUNT(*) FROM access_token").await,
        tokens_before
    );
}

#[tokio::test]
async fn login_refuses_bad_bodies_without_writing() {
    let f = fixture().await;
    let tokens_before = count(&f.app, "SELECT COUNT(*) FROM access_token").await;
    let cases: Vec<(Event, u16)> = vec![
        (
            Event::v2("login").raw_body("{not json", Some("application/json")),
            422,
        ),
        (
            Event::v2("login").raw_body("", Some("application/json")),
            422,
        ),
        (
            Event::v2("login").json_body(&json!({ "cellnumber": ADMIN_CELL })),
            422,
        ),
        (
            Event::v2("login")
                .json_body(&json!({ "cellnumber": 15550000001u64, "password": ADMIN_PASS })),
            422,
        ),
        (
            Event::v2("login")
                .json_body(&json!({ "cellnumber": ADMIN_CELL, "password": ADMIN_PASS, "role": 1 })),
            422,
        ),
        (
            Event::v2("login").json_body(&json!([ADMIN_CELL, ADMIN_PASS])),
            422,
        ),
        (
            Event::v2("login").raw_body(
                "cellnumber=1&password=2",
                Some("application/x-www-form-urlencoded"),
            ),
            415,
        ),
        (
            Event::v2("login").raw_body(
                &format!(
                    "{{\"cellnumber\":\"{}\",\"password\":\"x\"}}",
                    "1".repeat(70_000)
                ),
                Some("application/json"),
            ),
            413,
        ),
    ];
    for (event, status) in cases {
        login_event(&f.app, event).await.assert_error(status);
    }
    assert_eq!(
        count(&f.app, "SELECT COUNT(*) FROM access_token").await,
        tokens_before
    );
    assert_eq!(
        count(
            &f.app,
            "SELECT COALESCE(SUM(attempts), 0) FROM login_attempt"
        )
        .await,
        0,
        "refused bodies count no attempt"
    );
}

#[tokio::test]
async fn a_json_body_without_a_content_type_is_accepted() {
    let f = fixture().await;
    let body = json!({ "cellnumber": ADMIN_CELL, "password": ADMIN_PASS }).to_string();
    let answer = login_event(
        &f.app,
        Event::v2("login")
            .raw_body(&body, None)
            .without_header("content-type"),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

#[tokio::test]
async fn me_reads_the_signed_in_user_without_secrets() {
    let f = fixture().await;
    let token = token(&f.app, USER_CELL, USER_PASS).await;
    let answer = me(&f.app, &token).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let user = answer.body.as_object().unwrap();
    let mut keys: Vec<&str> = user.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "cellnumber",
            "created",
            "email",
            "id",
            "isActive",
            "mfaEnabled",
            "name",
            "profilepic",
            "roleId",
            "updated"
        ]
    );
    assert_eq!(user["id"], f.user_id);
    assert_eq!(user["cellnumber"], USER_CELL);
    assert_eq!(user["roleId"], 2);
    assert!(user["profilepic"].is_null());
    assert!(!answer.body.to_string().contains("$2b$"));
}

#[tokio::test]
async fn an_admin_reads_anyone_and_a_user_only_itself() {
    let f = fixture().await;
    let admin = token(&f.app, ADMIN_CELL, ADMIN_PASS).await;
    let user = token(&f.app, USER_CELL, USER_PASS).await;

    let answer = get_user(&f.app, &admin, &f.user_id.to_string()).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["cellnumber"], USER_CELL);
    assert_eq!(
        get_user(&f.app, &admin, &f.admin_id.to_string())
            .await
            .status,
        200
    );

    let own = get_user(&f.app, &user, &f.user_id.to_string()).await;
    assert_eq!(own.status, 200);
    assert_eq!(own.body, me(&f.app, &user).await.body);
    get_user(&f.app, &user, &f.admin_id.to_string())
        .await
        .assert_error(403);
    // A user gets 403, not 404, for ids that do not exist: it learns nothing about other ids.
    get_user(&f.app, &user, "999999").await.assert_error(403);
    get_user(&f.app, &admin, "999999").await.assert_error(404);
}

#[tokio::test]
async fn ids_that_are_not_positive_whole_numbers_are_refused() {
    let f = fixture().await;
    let admin = token(&f.app, ADMIN_CELL, ADMIN_PASS).await;
    for id in [
        "abc",
        "0",
        "-1",
        "1.5",
        "99999999999999999999999",
        "1 OR 1=1",
        "%27",
    ] {
        get_user(&f.app, &admin, id).await.assert_error(422);
    }
}

#[tokio::test]
async fn missing_malformed_and_forged_tokens_get_401_with_a_bearer_challenge() {
    let f = fixture().await;
    let valid = token(&f.app, USER_CELL, USER_PASS).await;
    let no_header = Answer::from_response(
        get_me::handler(&f.app, Event::v2("get-me").request())
            .await
            .unwrap(),
    );
    no_header.assert_error(401);
    // The valid token's header and claims, signed with a key that is not the deployment's.
    let forged = {
        use api_tests::tokens::{rs256_signed_with, token_part};
        let another =
            shared::auth::signing_key::RsaKey::from_pem(&api_tests::tls::rsa_private_key_pem())
                .unwrap();
        rs256_signed_with(&another, &token_part(&valid, 0), &token_part(&valid, 1))
    };
    let mut tampered = valid.clone();
    tampered.insert(valid.len() / 2, 'x');
    for bad in [
        "",
        "garbage",
        "a.b.c",
        forged.as_str(),
        tampered.as_str(),
        &"x".repeat(9000),
    ] {
        me(&f.app, bad).await.assert_error(401);
    }
    let basic = Event::v2("get-me").header("authorization", "Basic dXNlcjpwYXNz");
    Answer::from_response(get_me::handler(&f.app, basic.request()).await.unwrap())
        .assert_error(401);
}

#[tokio::test]
async fn a_token_whose_row_is_gone_or_whose_user_is_gone_stops_working() {
    let f = fixture().await;
    let first = token(&f.app, USER_CELL, USER_PASS).await;
    let second = token(&f.app, USER_CELL, USER_PASS).await;
    assert_eq!(me(&f.app, &first).await.status, 200);

    let jti_of_first = jti_of(&first);
    let mut conn = f.app.pool.get_conn().await.unwrap();
    conn.exec_drop("DELETE FROM access_token WHERE jti = ?", (&jti_of_first,))
        .await
        .unwrap();
    me(&f.app, &first).await.assert_error(401);
    assert_eq!(me(&f.app, &second).await.status, 200);

    conn.exec_drop("DELETE FROM users WHERE id = ?", (f.user_id,))
        .await
        .unwrap();
    me(&f.app, &second).await.assert_error(401);
    let left = format!(
        "SELECT COUNT(*) FROM access_token WHERE user_id = {}",
        f.user_id
    );
    assert_eq!(
        count(&f.app, &left).await,
        0,
        "tokens cascade with their user"
    );
}

#[tokio::test]
async fn an_expired_token_row_is_refused_even_with_a_valid_signature() {
    let f = fixture().await;
    let token = token(&f.app, USER_CELL, USER_PASS).await;
    let mut conn = f.app.pool.get_conn().await.unwrap();
    conn.query_drop("UPDATE access_token SET expires = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND")
        .await
        .unwrap();
    me(&f.app, &token).await.assert_error(401);
}

#[tokio::test]
async fn the_role_comes_from_the_database_not_from_the_token() {
    let f = fixture().await;
    let admin = token(&f.app, ADMIN_CELL, ADMIN_PASS).await;
    assert_eq!(
        get_user(&f.app, &admin, &f.user_id.to_string())
            .await
            .status,
        200
    );
    let mut conn = f.app.pool.get_conn().await.unwrap();
    conn.exec_drop("UPDATE users SET role_id = 2 WHERE id = ?", (f.admin_id,))
        .await
        .unwrap();
    get_user(&f.app, &admin, &f.user_id.to_string())
        .await
        .assert_error(403);
}

#[tokio::test]
async fn rest_api_v1_events_with_a_stage_in_the_path_are_served_too() {
    let f = fixture().await;
    let body = json!({ "cellnumber": ADMIN_CELL, "password": ADMIN_PASS });
    let login_v1 = Event::v1("POST", "/api/users/login", "/api/users/login").json_body(&body);
    let answer = login_event(&f.app, login_v1).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let token = answer.body["token"].as_str().unwrap();

    let me_v1 = Event::v1("GET", "/api/users/me", "/api/users/me").bearer(token);
    let answer = Answer::from_response(get_me::handler(&f.app, me_v1.request()).await.unwrap());
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["id"], f.admin_id);

    let path = format!("/api/users/{}", f.user_id);
    let user_v1 = Event::v1("GET", "/api/users/{id}", &path)
        .bearer(token)
        .path_param("id", &f.user_id.to_string());
    let answer = Answer::from_response(get_user::handler(&f.app, user_v1.request()).await.unwrap());
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["id"], f.user_id);
}

#[tokio::test]
async fn an_unreachable_database_gives_503_with_a_json_detail() {
    let db = TestDb::new().await;
    let app = api_tests::test_app_with(
        &db,
        &[
            ("DATABASE_URL", "mysql://root@127.0.0.1:1/nowhere"),
            ("REQUEST_TIMEOUT_MS", "2000"),
        ],
    );
    let answer = login(&app, ADMIN_CELL, ADMIN_PASS).await;
    answer.assert_error(503);
    assert!(!answer.body.to_string().contains("127.0.0.1"));
}

#[tokio::test]
async fn a_login_upgrades_a_hash_of_another_cost() {
    let f = fixture().await;
    let mut conn = f.app.pool.get_conn().await.unwrap();
    let cost_5 = shared::auth::password::hash(USER_PASS, 5).await.unwrap();
    conn.exec_drop(
        "UPDATE users SET password_hash = ? WHERE id = ?",
        (cost_5, f.user_id),
    )
    .await
    .unwrap();
    let updated_before: Option<String> = conn
        .exec_first(
            "SELECT CAST(updated AS CHAR) FROM users WHERE id = ?",
            (f.user_id,),
        )
        .await
        .unwrap();
    token(&f.app, USER_CELL, USER_PASS).await;
    let (hash, updated_after): (String, String) = conn
        .exec_first(
            "SELECT password_hash, CAST(updated AS CHAR) FROM users WHERE id = ?",
            (f.user_id,),
        )
        .await
        .unwrap()
        .unwrap();
    assert!(hash.starts_with("$2b$04$"), "{hash}");
    assert_eq!(
        Some(updated_after),
        updated_before,
        "not a change of the user"
    );
    token(&f.app, USER_CELL, USER_PASS).await;
}
