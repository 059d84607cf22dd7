//! What a test starts from: users inserted straight into the database, a signed-in admin and
//! user, and the sign-in and admin calls most tests make on the way.

use mysql_async::prelude::Queryable;
use serde_json::{json, Value};
use shared::App;

use crate::{test_app, Answer, Event, TestDb};

/// Inserts a user straight into the database (the API under test is not needed for setup).
pub async fn insert_user(app: &App, role_id: u8, cellnumber: &str, password: &str) -> u64 {
    let hash = shared::auth::password::hash(password, 4).await.unwrap();
    let email = format!("u{}@example.com", cellnumber.trim_start_matches('+'));
    let mut conn = app.pool.get_conn().await.unwrap();
    conn.exec_drop(
        "INSERT INTO users (name, cellnumber, email, email_key, password_hash, role_id, created, updated) \
         VALUES (?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))",
        (
            format!("User {cellnumber}"),
            cellnumber,
            &email,
            shared::users::validation::email_key(&email),
            hash,
            role_id,
        ),
    )
    .await
    .unwrap();
    conn.last_insert_id().unwrap()
}

pub async fn count(app: &App, sql: &str) -> u64 {
    let mut conn = app.pool.get_conn().await.unwrap();
    conn.query_first::<u64, _>(sql).await.unwrap().unwrap_or(0)
}

pub const ADMIN_CELL: &str = "+15550000001";
pub const ADMIN_PASS: &str = "admin-password-1";
pub const USER_CELL: &str = "+15550000002";
pub const USER_PASS: &str = "user-password-2";

/// A migrated database of its own with an admin and a normal user, both signed in.
pub struct Fixture {
    pub db: TestDb,
    pub app: App,
    pub admin_id: u64,
    pub user_id: u64,
    /// The admin's token.
    pub admin: String,
    /// The normal user's token.
    pub user: String,
}

pub async fn fixture() -> Fixture {
    let db = TestDb::new().await;
    let app = test_app(&db);
    let admin_id = insert_user(&app, 1, ADMIN_CELL, ADMIN_PASS).await;
    let user_id = insert_user(&app, 2, USER_CELL, USER_PASS).await;
    let admin = token(&app, ADMIN_CELL, ADMIN_PASS).await;
    let user = token(&app, USER_CELL, USER_PASS).await;
    Fixture {
        db,
        app,
        admin_id,
        user_id,
        admin,
        user,
    }
}

/// `PATCH /api/users/{id}` through the update-user handler.
pub async fn admin_patch(app: &App, token: &str, id: u64, body: &Value) -> Answer {
    let event = Event::v2("update-user")
        .bearer(token)
        .path_param("id", &id.to_string())
        .json_body(body);
    Answer::from_response(update_user::handler(app, event.request()).await.unwrap())
}

/// Signs in through the login handler (from the address of `events/login.json`).
pub async fn login(app: &App, cellnumber: &str, password: &str) -> Answer {
    login_from(app, cellnumber, password, "203.0.113.10").await
}

/// Signs in through the login handler from the client address `ip`.
pub async fn login_from(app: &App, cellnumber: &str, password: &str, ip: &str) -> Answer {
    let event = Event::v2("login")
        .from_address(ip)
        .json_body(&json!({ "cellnumber": cellnumber, "password": password }));
    Answer::from_response(login::handler(app, event.request()).await.unwrap())
}

/// A token for a user that must be able to sign in.
pub async fn token(app: &App, cellnumber: &str, password: &str) -> String {
    let answer = login(app, cellnumber, password).await;
    assert_eq!(answer.status, 200, "login of {cellnumber}: {}", answer.body);
    answer.body["token"].as_str().unwrap().to_owned()
}

/// The `jti` claim of a token (no verification: tests only).
pub fn jti_of(token: &str) -> String {
    use base64::Engine;
    let claims = token.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(claims)
        .unwrap();
    let claims: Value = serde_json::from_slice(&bytes).unwrap();
    claims["jti"].as_str().unwrap().to_owned()
}
