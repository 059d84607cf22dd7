//! What the API refuses in a body (null where the contract gives it no meaning, names with
//! control or format characters) and what its logs keep of a database error, through the
//! handlers with API Gateway events, against a fresh MariaDB database per test.

use std::io::Write;
use std::sync::{Arc, Mutex};

use api_tests::admin_patch as patch;
use api_tests::{call, count, fixture, Answer, Event, Fixture, ADMIN_CELL, USER_CELL, USER_PASS};
use mysql_async::prelude::Queryable;
use serde_json::{json, Value};
use shared::App;

async fn create(app: &App, token: &str, body: &Value) -> Answer {
    call!(
        create_user,
        app,
        Event::v2("create-user").bearer(token).json_body(body)
    )
}

async fn patch_me(app: &App, token: &str, body: &Value) -> Answer {
    call!(
        update_me,
        app,
        Event::v2("update-me").bearer(token).json_body(body)
    )
}

async fn user_row(f: &Fixture, id: u64) -> Value {
    call!(
        get_user,
        &f.app,
        Event::v2("get-user")
            .bearer(&f.admin)
            .path_param("id", &id.to_string())
    )
    .body
}

fn new_user(cellnumber: &str) -> Value {
    json!({ "name": "Ada Lovelace", "cellnumber": cellnumber, "password": "initial-password-1" })
}

/// A 422 whose single `{loc, msg}` names `field` of the body.
fn assert_field_refused(answer: &Answer, field: &str) {
    answer.assert_error(422);
    let detail = answer.body["detail"]
        .as_array()
        .expect("a list of {loc, msg}");
    assert!(
        detail
            .iter()
            .any(|item| item["loc"] == json!(["body", field])),
        "{field}: {}",
        answer.body
    );
}

async fn users_with_cellnumber(app: &App, cellnumber: &str) -> u64 {
    count(
        app,
        &format!("SELECT COUNT(*) FROM users WHERE cellnumber = '{cellnumber}'"),
    )
    .await
}

#[tokio::test]
async fn null_is_refused_for_every_field_that_cannot_be_null() {
    let f = fixture().await;
    // POST /api/users: only email and profilepic may be null.
    for field in ["isActive", "roleId", "name", "cellnumber", "password"] {
        let mut body = new_user("+15557770001");
        body[field] = Value::Null;
        assert_field_refused(&create(&f.app, &f.admin, &body).await, field);
    }
    assert_eq!(users_with_cellnumber(&f.app, "+15557770001").await, 0);
    let mut nullable = new_user("+15557770002");
    nullable["email"] = Value::Null;
    nullable["profilepic"] = Value::Null;
    assert_eq!(create(&f.app, &f.admin, &nullable).await.status, 201);

    // PATCH /api/users/{id}: the same, and nothing changes.
    let before = user_row(&f, f.user_id).await;
    for field in ["isActive", "roleId", "name", "cellnumber", "password"] {
        let answer = patch(&f.app, &f.admin, f.user_id, &json!({ field: null })).await;
        assert_field_refused(&answer, field);
    }
    // A null beside a valid change refuses the whole patch.
    let mixed = patch(
        &f.app,
        &f.admin,
        f.user_id,
        &json!({ "name": "Renamed", "isActive": null }),
    )
    .await;
    assert_field_refused(&mixed, "isActive");
    assert_eq!(user_row(&f, f.user_id).await, before, "nothing written");

    // PATCH /api/users/me.
    assert_field_refused(
        &patch_me(&f.app, &f.user, &json!({ "name": null })).await,
        "name",
    );
    assert_eq!(user_row(&f, f.user_id).await, before, "nothing written");

    // Login, refresh and the password change have no optional field at all.
    for body in [
        json!({ "cellnumber": null, "password": USER_PASS }),
        json!({ "cellnumber": USER_CELL, "password": null }),
    ] {
        call!(login, &f.app, Event::v2("login").json_body(&body)).assert_error(422);
    }
    call!(
        refresh_token,
        &f.app,
        Event::v2("refresh-token").json_body(&json!({ "refreshToken": null }))
    )
    .assert_error(422);
    for body in [
        json!({ "currentPassword": null, "newPassword": "brand-new-pass-1" }),
        json!({ "currentPassword": USER_PASS, "newPassword": null }),
    ] {
        call!(
            change_password,
            &f.app,
            Event::v2("change-password")
                .bearer(&f.user)
                .json_body(&body)
        )
        .assert_error(422);
    }
    api_tests::token(&f.app, USER_CELL, USER_PASS).await;
}

/// Bidi overrides and isolates, zero-width characters, a byte-order mark, a soft hyphen, a
/// language tag, line breaks and other controls.
const SPOOFING_NAMES: &[&str] = &[
    "Ada\u{202E}ecalevoL",
    "\u{2066}Admin\u{2069}",
    "Ad\u{200B}min",
    "Ad\u{200D}min",
    "\u{FEFF}Admin",
    "Ad\u{00AD}min",
    "Admin\u{E0001}",
    "Ada\nLovelace",
    "Ada\u{0}",
    "Ada\u{85}",
];

#[tokio::test]
async fn names_with_control_or_format_characters_are_refused_everywhere() {
    let f = fixture().await;
    let before = user_row(&f, f.user_id).await;
    for name in SPOOFING_NAMES {
        let mut body = new_user("+15557770003");
        body["name"] = json!(name);
        assert_field_refused(&create(&f.app, &f.admin, &body).await, "name");
        let answer = patch(&f.app, &f.admin, f.user_id, &json!({ "name": name })).await;
        assert_field_refused(&answer, "name");
        assert_field_refused(
            &patch_me(&f.app, &f.user, &json!({ "name": name })).await,
            "name",
        );
    }
    assert_eq!(users_with_cellnumber(&f.app, "+15557770003").await, 0);
    assert_eq!(user_row(&f, f.user_id).await, before, "nothing written");
    // Letters of every script, marks and emoji stay welcome.
    let renamed = patch_me(&f.app, &f.user, &json!({ "name": "Zoë 李 محمد 🚀" })).await;
    assert_eq!(renamed.status, 200, "{}", renamed.body);

    // The operator's bootstrap of the first admin takes a name too.
    let mut conn = f.app.conn().await.unwrap();
    let request = shared::admin::AdminRequest {
        name: "Root\u{202E}",
        cellnumber: ADMIN_CELL,
        password: "admin-password-1",
        force: true,
    };
    match shared::admin::bootstrap_admin(&mut conn, &request, 4).await {
        Err(shared::ApiError::Validation(fields)) => assert_eq!(fields[0].loc, ["name"]),
        other => panic!("expected a refused name, got {other:?}"),
    }
}

/// Log output, as the functions write it in Lambda (one JSON object per line).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_database_error_is_logged_as_its_code_and_sqlstate_without_values_or_sql() {
    let f = fixture().await;
    const CANARY: &str = "leak.canary.7731@example.com";
    // A server error whose text quotes the value and SQL, as a syntax error near a literal of a
    // text statement or a duplicate entry does.
    let mut conn = f.app.pool.get_conn().await.unwrap();
    conn.query_drop(
        "CREATE TRIGGER quote_the_value BEFORE UPDATE ON users FOR EACH ROW BEGIN \
           DECLARE quoted VARCHAR(255); \
           IF NOT (NEW.email <=> OLD.email) THEN \
             SET quoted = CONCAT('near ''UPDATE users SET email = ''', NEW.email, ''''' at line 1'); \
             SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = quoted; \
           END IF; \
         END",
    )
    .await
    .unwrap();
    drop(conn);

    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber =
        shared::logging::json_subscriber(tracing_subscriber::EnvFilter::new("info"), move || {
            writer.clone()
        });
    let answer = {
        let _default = tracing::subscriber::set_default(subscriber);
        patch(&f.app, &f.admin, f.user_id, &json!({ "email": CANARY })).await
    };
    answer.assert_error(500);
    let logged = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let failure = logged
        .lines()
        .find(|line| line.contains("request failed"))
        .unwrap_or_else(|| panic!("no failure logged: {logged}"));
    assert!(
        failure.contains("1644") && failure.contains("45000"),
        "{failure}"
    );
    for leak in [CANARY, "canary", "UPDATE", "near"] {
        assert!(!logged.contains(leak), "{leak} logged: {logged}");
    }
}
