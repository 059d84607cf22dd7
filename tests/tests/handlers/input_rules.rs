//! What the API refuses in a body, or takes as the same: null where the contract gives it no
//! meaning, names and passwords with control or format characters wherever they are set, and
//! emails that are one address after case and IDNA (accents still count), through the handlers
//! with API Gateway events, against a fresh MariaDB database per test.

use api_tests::admin_patch as patch;
use api_tests::{
    admin_patch, call, count, fixture, Answer, Event, Fixture, ADMIN_CELL, USER_CELL, USER_PASS,
};
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
    let request = shared::users::first_admin::AdminRequest {
        name: "Root\u{202E}",
        cellnumber: ADMIN_CELL,
        password: "admin-password-1",
        force: true,
    };
    match shared::users::first_admin::bootstrap_admin(&mut conn, &request, 4).await {
        Err(shared::ApiError::Validation(fields)) => assert_eq!(fields[0].loc, ["name"]),
        other => panic!("expected a refused name, got {other:?}"),
    }
}

async fn change_password(app: &App, token: &str, current: &str, new: &str) -> Answer {
    let body = json!({ "currentPassword": current, "newPassword": new });
    call!(
        change_password,
        app,
        Event::v2("change-password").bearer(token).json_body(&body)
    )
}

#[tokio::test]
async fn passwords_with_control_characters_are_refused_wherever_they_are_set() {
    let f = fixture().await;
    let hashes = "SELECT GROUP_CONCAT(password_hash ORDER BY id) FROM users";
    let mut conn = f.app.pool.get_conn().await.unwrap();
    let before: Option<String> = conn.query_first(hashes).await.unwrap();
    for bad in ["a\0a\0a\0a\0a", "password\u{1}", "pass\u{7f}word"] {
        let created = call!(
            create_user,
            &f.app,
            Event::v2("create-user").bearer(&f.admin).json_body(
                &json!({ "name": "Nul", "cellnumber": "+15550009999", "password": bad })
            )
        );
        created.assert_error(422);
        let patched = admin_patch(&f.app, &f.admin, f.user_id, &json!({ "password": bad })).await;
        patched.assert_error(422);
        change_password(&f.app, &f.user, USER_PASS, bad)
            .await
            .assert_error(422);
    }
    let after: Option<String> = conn.query_first(hashes).await.unwrap();
    assert_eq!(before, after, "nothing was written");
    assert_eq!(count(&f.app, "SELECT COUNT(*) FROM users").await, 2);
}

#[tokio::test]
async fn emails_are_one_address_after_case_and_idna_but_accents_count() {
    let f = fixture().await;
    let create = |cellnumber: &str, email: &str| {
        Event::v2("create-user").bearer(&f.admin).json_body(&json!({
            "name": "Mail", "cellnumber": cellnumber, "password": "mail-password-1", "email": email
        }))
    };
    let first = call!(create_user, &f.app, create("+15550001001", "a@bücher.de"));
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(first.body["email"], "a@bücher.de", "stored as given");
    for same in ["a@xn--bcher-kva.de", "A@BÜCHER.DE", "a@XN--BCHER-KVA.de"] {
        let answer = call!(create_user, &f.app, create("+15550001002", same));
        answer.assert_error(409);
        assert_eq!(answer.body["detail"], "Email already registered");
    }
    let other = call!(create_user, &f.app, create("+15550001003", "a@bucher.de"));
    assert_eq!(other.status, 201, "{}", other.body);
    let moved: Value = admin_patch(
        &f.app,
        &f.admin,
        f.user_id,
        &json!({ "email": "a@xn--bcher-kva.de" }),
    )
    .await
    .body;
    assert_eq!(moved["detail"], "Email already registered");
}
