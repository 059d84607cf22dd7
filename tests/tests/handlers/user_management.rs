//! Admin user management, logout, password change, login throttling and clean-up, through the
//! handlers with API Gateway events, against a fresh MariaDB database per test.

use api_tests::admin_patch as patch;
use api_tests::{
    call, count, fixture, insert_user, jti_of, login, test_app_with, token, Answer, Event, TestDb,
    ADMIN_CELL, ADMIN_PASS, USER_CELL, USER_PASS,
};
use mysql_async::prelude::Queryable;
use serde_json::{json, Value};
use shared::App;

fn new_user(cellnumber: &str) -> Value {
    json!({
        "name": "  Ada Lovelace  ",
        "cellnumber": cellnumber,
        "password": "initial-password-1",
        "email": format!("ada{}@example.com", cellnumber.trim_start_matches('+')),
        "profilepic": "https://example.com/ada.png"
    })
}

async fn create(app: &App, token: &str, body: &Value) -> Answer {
    call!(
        create_user,
        app,
        Event::v2("create-user").bearer(token).json_body(body)
    )
}

async fn list(app: &App, token: &str, query: &str) -> Answer {
    call!(
        list_users,
        app,
        Event::v2("list-users").bearer(token).query(query)
    )
}

async fn delete(app: &App, token: &str, id: &str) -> Answer {
    call!(
        delete_user,
        app,
        Event::v2("delete-user").bearer(token).path_param("id", id)
    )
}

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

// --- create --------------------------------------------------------------------------------------

#[tokio::test]
async fn an_admin_creates_a_user_who_can_then_sign_in() {
    let f = fixture().await;
    let answer = create(&f.app, &f.admin, &new_user("+4915112345678")).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    let id = answer.body["id"].as_u64().unwrap();
    assert_eq!(
        answer.header("location"),
        Some(format!("/api/users/{id}").as_str())
    );
    assert_eq!(answer.body["name"], "Ada Lovelace", "the name is trimmed");
    assert_eq!(answer.body["roleId"], 2, "roleId defaults to 2");
    assert_eq!(answer.body["email"], "ada4915112345678@example.com");
    assert_eq!(answer.body["created"], answer.body["updated"]);
    assert!(answer.body.get("password").is_none() && !answer.body.to_string().contains("$2b$"));

    let read = call!(
        get_user,
        &f.app,
        Event::v2("get-user")
            .bearer(&f.admin)
            .path_param("id", &id.to_string())
    );
    assert_eq!(
        read.body, answer.body,
        "what create returns is what is stored"
    );
    let new_token = token(&f.app, "+4915112345678", "initial-password-1").await;
    assert_eq!(me(&f.app, &new_token).await.body["id"], id);
    let stored: String = f
        .app
        .pool
        .get_conn()
        .await
        .unwrap()
        .exec_first("SELECT password_hash FROM users WHERE id = ?", (id,))
        .await
        .unwrap()
        .unwrap();
    assert!(stored.starts_with("$2b$04$"), "hashed at BCRYPT_COST");
}

#[tokio::test]
async fn an_admin_may_create_an_admin() {
    let f = fixture().await;
    let mut body = new_user("5550001111");
    body["roleId"] = json!(1);
    let answer = create(&f.app, &f.admin, &body).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    assert_eq!(answer.body["roleId"], 1);
    body["email"] = Value::Null;
    body["profilepic"] = Value::Null;
    body["cellnumber"] = json!("5550001112");
    let answer = create(&f.app, &f.admin, &body).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    assert!(answer.body["email"].is_null() && answer.body["profilepic"].is_null());
}

#[tokio::test]
async fn every_validation_rule_refuses_with_422_and_writes_nothing() {
    let f = fixture().await;
    let users_before = count(&f.app, "SELECT COUNT(*) FROM users").await;
    let cases: Vec<(&str, Value)> = vec![
        ("cellnumber", json!("123456")),
        ("cellnumber", json!("1234567890123456")),
        ("cellnumber", json!("+12345a78")),
        ("cellnumber", json!("++1234567")),
        ("password", json!("short")),
        ("password", json!("x".repeat(73))),
        ("password", json!("€".repeat(25))),
        ("name", json!("   ")),
        ("name", json!("n".repeat(101))),
        ("email", json!("not-an-email")),
        ("email", json!(format!("{}@example.com", "a".repeat(250)))),
        ("profilepic", json!("ftp://example.com/a.png")),
        ("profilepic", json!("not a url")),
        (
            "profilepic",
            json!(format!("https://example.com/{}", "a".repeat(2040))),
        ),
        ("roleId", json!(3)),
        ("roleId", json!(0)),
        ("roleId", json!("1")),
        ("name", json!(42)),
    ];
    for (field, value) in cases {
        let mut body = new_user("+15559990000");
        body[field] = value.clone();
        let answer = create(&f.app, &f.admin, &body).await;
        answer.assert_error(422);
        let detail = answer.body["detail"].to_string();
        assert!(
            detail.contains(field) || detail.contains("invalid"),
            "{field}={value}: {detail}"
        );
    }
    for unknown in ["id", "created", "updated", "password_hash", "role_id"] {
        let mut body = new_user("+15559990000");
        body[unknown] = json!(1);
        create(&f.app, &f.admin, &body).await.assert_error(422);
    }
    let mut missing = new_user("+15559990000");
    missing.as_object_mut().unwrap().remove("password");
    create(&f.app, &f.admin, &missing).await.assert_error(422);
    assert_eq!(
        count(&f.app, "SELECT COUNT(*) FROM users").await,
        users_before
    );
}

#[tokio::test]
async fn duplicate_cellnumbers_and_emails_are_409() {
    let f = fixture().await;
    let mut body = new_user(USER_CELL);
    let answer = create(&f.app, &f.admin, &body).await;
    answer.assert_error(409);
    assert_eq!(answer.body["detail"], "Cellnumber already registered");
    body["cellnumber"] = json!("+15550009999");
    body["email"] = json!("U15550000002@EXAMPLE.COM");
    let answer = create(&f.app, &f.admin, &body).await;
    answer.assert_error(409);
    assert_eq!(answer.body["detail"], "Email already registered");
}

// --- list ----------------------------------------------------------------------------------------

#[tokio::test]
async fn users_are_listed_by_id_a_page_at_a_time() {
    let f = fixture().await;
    for n in 0..5 {
        assert_eq!(
            create(&f.app, &f.admin, &new_user(&format!("+1555123000{n}")))
                .await
                .status,
            201
        );
    }
    let all = list(&f.app, &f.admin, "").await;
    assert_eq!(all.status, 200, "{}", all.body);
    assert_eq!(all.body["total"], 7);
    assert_eq!(all.body["limit"], 50);
    assert_eq!(all.body["offset"], 0);
    let ids: Vec<u64> = all.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_u64().unwrap())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted);
    assert_eq!(ids.len(), 7);

    let page = list(&f.app, &f.admin, "limit=2&offset=3").await;
    assert_eq!(page.body["total"], 7);
    assert_eq!(page.body["limit"], 2);
    assert_eq!(page.body["offset"], 3);
    let page_ids: Vec<u64> = page.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_u64().unwrap())
        .collect();
    assert_eq!(page_ids, ids[3..5]);

    let past_the_end = list(&f.app, &f.admin, "offset=100").await;
    assert_eq!(past_the_end.status, 200);
    assert_eq!(past_the_end.body["items"], json!([]));
    assert_eq!(past_the_end.body["total"], 7);
}

#[tokio::test]
async fn out_of_range_pagination_is_422() {
    let f = fixture().await;
    for query in [
        "limit=0",
        "limit=101",
        "limit=-1",
        "limit=abc",
        "limit=1.5",
        "offset=-1",
        "offset=x",
        "limit=",
    ] {
        list(&f.app, &f.admin, query).await.assert_error(422);
    }
    assert_eq!(
        list(&f.app, &f.admin, "limit=100&offset=0").await.status,
        200
    );
    list(&f.app, &f.admin, "limit=1&unknown=1")
        .await
        .assert_error(422);
}

// --- who may do what ------------------------------------------------------------------------------

#[tokio::test]
async fn a_normal_user_may_not_manage_users() {
    let f = fixture().await;
    let before = count(&f.app, "SELECT COUNT(*) FROM users").await;
    create(&f.app, &f.user, &new_user("+15558880000"))
        .await
        .assert_error(403);
    list(&f.app, &f.user, "").await.assert_error(403);
    patch(&f.app, &f.user, f.user_id, &json!({ "roleId": 1 }))
        .await
        .assert_error(403);
    delete(&f.app, &f.user, &f.admin_id.to_string())
        .await
        .assert_error(403);
    delete(&f.app, &f.user, &f.user_id.to_string())
        .await
        .assert_error(403);
    assert_eq!(count(&f.app, "SELECT COUNT(*) FROM users").await, before);
    assert_eq!(me(&f.app, &f.user).await.body["roleId"], 2);
}

#[tokio::test]
async fn management_without_a_token_is_401() {
    let f = fixture().await;
    let no_token = Event::v2("create-user").json_body(&new_user("+15558880000"));
    call!(create_user, &f.app, no_token).assert_error(401);
    call!(list_users, &f.app, Event::v2("list-users")).assert_error(401);
    call!(
        update_user,
        &f.app,
        Event::v2("update-user")
            .path_param("id", "1")
            .json_body(&json!({}))
    )
    .assert_error(401);
    call!(
        delete_user,
        &f.app,
        Event::v2("delete-user").path_param("id", "1")
    )
    .assert_error(401);
    call!(logout, &f.app, Event::v2("logout")).assert_error(401);
    call!(
        change_password,
        &f.app,
        Event::v2("change-password").json_body(&json!({}))
    )
    .assert_error(401);
}

// --- update ----------------------------------------------------------------------------------------

#[tokio::test]
async fn a_patch_changes_only_what_it_names_and_moves_updated_forward() {
    let f = fixture().await;
    let before = me(&f.app, &f.user).await.body;
    let answer = patch(
        &f.app,
        &f.admin,
        f.user_id,
        &json!({ "name": " Grace ", "profilepic": "http://example.com/g.png" }),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["name"], "Grace");
    assert_eq!(answer.body["profilepic"], "http://example.com/g.png");
    assert_eq!(answer.body["cellnumber"], before["cellnumber"]);
    assert_eq!(answer.body["email"], before["email"]);
    assert_eq!(answer.body["created"], before["created"]);
    assert!(answer.body["updated"].as_str() > before["updated"].as_str());

    let cleared = patch(&f.app, &f.admin, f.user_id, &json!({ "email": null })).await;
    assert!(cleared.body["email"].is_null());
    assert_eq!(cleared.body["profilepic"], "http://example.com/g.png");
    assert!(cleared.body["updated"].as_str() > answer.body["updated"].as_str());

    let unchanged = patch(&f.app, &f.admin, f.user_id, &json!({})).await;
    assert_eq!(unchanged.status, 200);
    assert_eq!(unchanged.body, cleared.body);
    assert_eq!(
        me(&f.app, &f.user).await.body,
        cleared.body,
        "the user's token survives a name change"
    );
}

#[tokio::test]
async fn a_patch_is_validated_and_refuses_duplicates_and_unknown_fields() {
    let f = fixture().await;
    for body in [
        json!({ "cellnumber": "12" }),
        json!({ "password": "short" }),
        json!({ "email": "nope" }),
        json!({ "roleId": 7 }),
        json!({ "name": "" }),
        json!({ "id": 99 }),
        json!({ "password_hash": "$2b$04$abc" }),
        json!({ "created": "2020-01-01T00:00:00Z" }),
    ] {
        patch(&f.app, &f.admin, f.user_id, &body)
            .await
            .assert_error(422);
    }
    let answer = patch(
        &f.app,
        &f.admin,
        f.user_id,
        &json!({ "cellnumber": ADMIN_CELL }),
    )
    .await;
    answer.assert_error(409);
    patch(&f.app, &f.admin, 987654, &json!({ "name": "Nobody" }))
        .await
        .assert_error(404);
    let bad_id = Event::v2("update-user")
        .bearer(&f.admin)
        .path_param("id", "abc")
        .json_body(&json!({}));
    call!(update_user, &f.app, bad_id).assert_error(422);
    assert_eq!(me(&f.app, &f.user).await.body["cellnumber"], USER_CELL);
}

#[tokio::test]
async fn a_new_password_from_an_admin_revokes_the_users_tokens() {
    let f = fixture().await;
    let second = token(&f.app, USER_CELL, USER_PASS).await;
    let answer = patch(
        &f.app,
        &f.admin,
        f.user_id,
        &json!({ "password": "reset-by-admin-1" }),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    me(&f.app, &f.user).await.assert_error(401);
    me(&f.app, &second).await.assert_error(401);
    login(&f.app, USER_CELL, USER_PASS).await.assert_error(401);
    token(&f.app, USER_CELL, "reset-by-admin-1").await;
}

#[tokio::test]
async fn a_role_change_applies_to_the_users_existing_token() {
    let f = fixture().await;
    list(&f.app, &f.user, "").await.assert_error(403);
    assert_eq!(
        patch(&f.app, &f.admin, f.user_id, &json!({ "roleId": 1 }))
            .await
            .status,
        200
    );
    assert_eq!(list(&f.app, &f.user, "").await.status, 200);
    assert_eq!(
        patch(&f.app, &f.admin, f.user_id, &json!({ "roleId": 2 }))
            .await
            .status,
        200
    );
    list(&f.app, &f.user, "").await.assert_error(403);
}

#[tokio::test]
async fn the_last_admin_cannot_be_demoted_or_deleted() {
    let f = fixture().await;
    let answer = patch(&f.app, &f.admin, f.admin_id, &json!({ "roleId": 2 })).await;
    answer.assert_error(409);
    let answer = delete(&f.app, &f.admin, &f.admin_id.to_string()).await;
    answer.assert_error(409);
    assert_eq!(answer.body["detail"], "Cannot remove the last admin");
    assert_eq!(me(&f.app, &f.admin).await.body["roleId"], 1);

    // With a second admin, the first may go.
    assert_eq!(
        patch(&f.app, &f.admin, f.user_id, &json!({ "roleId": 1 }))
            .await
            .status,
        200
    );
    assert_eq!(
        delete(&f.app, &f.user, &f.admin_id.to_string())
            .await
            .status,
        200
    );
    delete(&f.app, &f.user, &f.user_id.to_string())
        .await
        .assert_error(409);
}

// --- delete ----------------------------------------------------------------------------------------

#[tokio::test]
async fn deleting_a_user_removes_it_and_its_tokens() {
    let f = fixture().await;
    let answer = delete(&f.app, &f.admin, &f.user_id.to_string()).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.body,
        json!({ "detail": "User deleted successfully" })
    );
    me(&f.app, &f.user).await.assert_error(401);
    let leftover = format!(
        "SELECT COUNT(*) FROM access_token WHERE user_id = {}",
        f.user_id
    );
    assert_eq!(count(&f.app, &leftover).await, 0);
    delete(&f.app, &f.admin, &f.user_id.to_string())
        .await
        .assert_error(404);
    for bad in ["0", "abc", "-3"] {
        delete(&f.app, &f.admin, bad).await.assert_error(422);
    }
}

// --- logout and password change ------------------------------------------------------------------------

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

// --- login throttling and clean-up ---------------------------------------------------------------

#[tokio::test]
async fn repeated_failures_throttle_one_cellnumber_until_the_window_passes() {
    let f = fixture().await;
    for _ in 0..5 {
        login(&f.app, USER_CELL, "wrong-password")
            .await
            .assert_error(401);
    }
    let throttled = login(&f.app, USER_CELL, USER_PASS).await;
    throttled.assert_error(429);
    let retry_after: u64 = throttled.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=901).contains(&retry_after), "{retry_after}");
    // Other cellnumbers are unaffected.
    token(&f.app, ADMIN_CELL, ADMIN_PASS).await;
    // Once the window has passed, the right password works and resets the counter.
    let mut conn = f.app.pool.get_conn().await.unwrap();
    conn.query_drop("UPDATE login_attempt SET window_start = window_start - INTERVAL 901 SECOND")
        .await
        .unwrap();
    token(&f.app, USER_CELL, USER_PASS).await;
    assert_eq!(
        count(
            &f.app,
            "SELECT COALESCE(SUM(attempts), 0) FROM login_attempt"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn a_success_resets_the_failure_count() {
    let f = fixture().await;
    for _ in 0..4 {
        login(&f.app, USER_CELL, "wrong-password")
            .await
            .assert_error(401);
    }
    token(&f.app, USER_CELL, USER_PASS).await;
    for _ in 0..4 {
        login(&f.app, USER_CELL, "wrong-password")
            .await
            .assert_error(401);
    }
    token(&f.app, USER_CELL, USER_PASS).await;
}

#[tokio::test]
async fn unknown_cellnumbers_are_throttled_like_known_ones() {
    let f = fixture().await;
    for _ in 0..5 {
        login(&f.app, "+19998887777", "whatever-password")
            .await
            .assert_error(401);
    }
    login(&f.app, "+19998887777", "whatever-password")
        .await
        .assert_error(429);
}

#[tokio::test]
async fn the_throttle_follows_its_configuration() {
    let db = TestDb::new().await;
    let app = test_app_with(&db, &[("LOGIN_MAX_FAILURES", "2")]);
    insert_user(&app, 2, USER_CELL, USER_PASS).await;
    login(&app, USER_CELL, "wrong-password")
        .await
        .assert_error(401);
    login(&app, USER_CELL, "wrong-password")
        .await
        .assert_error(401);
    login(&app, USER_CELL, USER_PASS).await.assert_error(429);
}

#[tokio::test]
async fn login_removes_expired_tokens_and_stale_failures() {
    let f = fixture().await;
    let mut conn = f.app.pool.get_conn().await.unwrap();
    conn.exec_drop(
        "INSERT INTO access_token (jti, user_id, session_id, created, expires) \
         SELECT REPEAT('a', 32), user_id, id, UTC_TIMESTAMP(6) - INTERVAL 2 DAY, \
                UTC_TIMESTAMP(6) - INTERVAL 1 DAY FROM session WHERE user_id = ? \
         UNION ALL \
         SELECT REPEAT('b', 32), user_id, id, UTC_TIMESTAMP(6) - INTERVAL 2 HOUR, \
                UTC_TIMESTAMP(6) - INTERVAL 1 HOUR FROM session WHERE user_id = ?",
        (f.user_id, f.admin_id),
    )
    .await
    .unwrap();
    conn.query_drop(
        "INSERT INTO login_attempt VALUES \
         ('+15550123456', '203.0.113.10', 3, UTC_TIMESTAMP(6) - INTERVAL 1 DAY), \
         ('+15550123456', '*', 3, UTC_TIMESTAMP(6) - INTERVAL 1 DAY)",
    )
    .await
    .unwrap();
    assert_eq!(count(&f.app, "SELECT COUNT(*) FROM access_token").await, 4);
    token(&f.app, ADMIN_CELL, ADMIN_PASS).await;
    assert_eq!(
        count(
            &f.app,
            "SELECT COUNT(*) FROM access_token WHERE expires < UTC_TIMESTAMP(6)"
        )
        .await,
        0
    );
    assert_eq!(count(&f.app, "SELECT COUNT(*) FROM access_token").await, 3);
    assert_eq!(
        count(
            &f.app,
            "SELECT COUNT(*) FROM login_attempt WHERE cellnumber = '+15550123456'"
        )
        .await,
        0
    );
}

// --- docs ------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_openapi_document_lists_exactly_the_served_routes() {
    let answer = Answer::from_response(docs::handler(Event::v2("docs").request()).await.unwrap());
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["openapi"].as_str().map(|v| &v[..2]), Some("3."));
    let mut documented: Vec<(String, String)> = Vec::new();
    for (path, item) in answer.body["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.push((method.to_uppercase(), path.clone()));
        }
    }
    documented.sort();
    let served: Vec<(String, String)> = api_tests::watch_routes()
        .into_iter()
        .filter(|(_, path)| {
            !path.starts_with("/docs")
                && !path.starts_with("/console")
                && path != "/api/openapi.json"
        })
        .collect();
    assert_eq!(documented, served);
    assert_eq!(shared::openapi::routes(), served);

    let html = Answer::from_response(
        docs::handler(Event::v2("docs").at("GET", "/docs").request())
            .await
            .unwrap(),
    );
    assert_eq!(html.status, 200);
    assert_eq!(
        html.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let page = html.body["raw"].as_str().unwrap();
    assert!(page.contains("swagger-ui") && page.contains("api/openapi.json"));
}
