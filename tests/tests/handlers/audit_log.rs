//! The audit log: every change writes its event with it, refused requests write none (but every
//! refused login writes one), `GET /api/audit` filters and pages, no event holds a secret, and
//! old events are removed.

use api_tests::{
    call, count, fixture, insert_user, login, login_from, test_app_with, token, Answer, Event,
    TestDb, ADMIN_CELL, ADMIN_PASS, TEST_SECRET, USER_CELL, USER_PASS,
};
use mysql_async::prelude::Queryable;
use serde_json::{json, Value};
use shared::App;

async fn audit(app: &App, token: &str, query: &str) -> Answer {
    call!(
        list_audit,
        app,
        Event::v2("list-audit").bearer(token).query(query)
    )
}

/// Every event, oldest first, straight from the table.
async fn events(app: &App) -> Vec<Value> {
    let mut conn = app.pool.get_conn().await.unwrap();
    type EventRow = (String, Option<u64>, Option<u64>, Option<String>, String);
    let rows: Vec<EventRow> = conn
        .query("SELECT action, actor_id, target_id, source_ip, detail FROM audit_event ORDER BY id")
        .await
        .unwrap();
    rows.into_iter()
        .map(|(action, actor, target, ip, detail)| {
            json!({ "action": action, "actorId": actor, "targetId": target, "sourceIp": ip,
                    "detail": serde_json::from_str::<Value>(&detail).unwrap() })
        })
        .collect()
}

async fn last_event(app: &App) -> Value {
    events(app).await.pop().expect("an event")
}

async fn clear(app: &App) {
    let mut conn = app.pool.get_conn().await.unwrap();
    conn.query_drop("DELETE FROM audit_event").await.unwrap();
}

#[tokio::test]
async fn logins_succeeded_and_failed_are_recorded_with_the_address_api_gateway_saw() {
    let f = fixture().await;
    let all = events(&f.app).await;
    assert_eq!(all.len(), 2, "the fixture's two logins: {all:?}");
    assert_eq!(all[0]["action"], "login.succeeded");
    assert_eq!(all[0]["actorId"], Value::Null);
    assert_eq!(all[0]["targetId"], f.admin_id);
    assert_eq!(all[0]["sourceIp"], "203.0.113.10");
    assert_eq!(
        all[0]["detail"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["sessionId"]
    );
    clear(&f.app).await;

    // A spoofed X-Forwarded-For changes nothing: the address is the request context's.
    let event = Event::v2("login")
        .from_address("198.51.100.7")
        .header("x-forwarded-for", "10.9.8.7")
        .json_body(&json!({ "cellnumber": USER_CELL, "password": "wrong-password" }));
    call!(login, &f.app, event).assert_error(401);
    let failed = last_event(&f.app).await;
    assert_eq!(
        failed,
        json!({ "action": "login.failed", "actorId": null, "targetId": f.user_id,
                "sourceIp": "198.51.100.7",
                "detail": { "cellnumber": USER_CELL, "reason": "credentials" } })
    );
    // Unknown cellnumber: no target.
    login(&f.app, "+19990001111", "whatever-pass")
        .await
        .assert_error(401);
    let unknown = last_event(&f.app).await;
    assert_eq!(unknown["targetId"], Value::Null);
    assert_eq!(unknown["detail"]["cellnumber"], "+19990001111");
    // A cellnumber no user can have, refused before any query, still writes its event, with
    // a null cellnumber: what was typed there is often a password in the wrong field.
    for typed in [
        "not a number",
        "hunter2-secret",
        "+1555",
        "+1555000000000000",
    ] {
        login(&f.app, typed, "whatever-pass")
            .await
            .assert_error(401);
        assert_eq!(
            last_event(&f.app).await["detail"],
            json!({ "cellnumber": null, "reason": "credentials" }),
            "{typed}"
        );
    }
    // Throttled.
    for _ in 0..6 {
        login_from(&f.app, USER_CELL, "wrong-password", "192.0.2.1").await;
    }
    let throttled = last_event(&f.app).await;
    assert_eq!(throttled["detail"]["reason"], "throttled");
    assert_eq!(throttled["targetId"], f.user_id);
    // Disabled.
    let event = Event::v2("update-user")
        .bearer(&f.admin)
        .path_param("id", &f.user_id.to_string())
        .json_body(&json!({ "isActive": false }));
    assert_eq!(call!(update_user, &f.app, event).status, 200);
    login(&f.app, USER_CELL, USER_PASS).await.assert_error(403);
    assert_eq!(last_event(&f.app).await["detail"]["reason"], "disabled");
    // One event per refused login: 1 + 1 + 4 + 6 + 1, and the update.
    assert_eq!(
        count(
            &f.app,
            "SELECT COUNT(*) FROM audit_event WHERE action = 'login.failed'"
        )
        .await,
        13
    );
}

#[tokio::test]
async fn every_change_writes_its_event_and_refused_requests_none() {
    let f = fixture().await;
    clear(&f.app).await;
    let admin = f.admin_id;
    let at = |e: Event| e.from_address("203.0.113.99");

    // user.created
    let body = json!({ "name": "Ada", "cellnumber": "+15550600000", "password": "ada-password-1", "roleId": 2 });
    let created = call!(
        create_user,
        &f.app,
        at(Event::v2("create-user").bearer(&f.admin).json_body(&body))
    );
    assert_eq!(created.status, 201);
    let ada = created.body["id"].as_u64().unwrap();
    assert_eq!(
        last_event(&f.app).await,
        json!({ "action": "user.created", "actorId": admin, "targetId": ada,
                "sourceIp": "203.0.113.99", "detail": { "roleId": 2 } })
    );
    // user.updated by an admin: the changed fields only, a password by name only.
    let patch =
        json!({ "name": "Ada King", "email": null, "password": "ada-password-2", "roleId": 2 });
    let event = at(Event::v2("update-user")
        .bearer(&f.admin)
        .path_param("id", &ada.to_string())
        .json_body(&patch));
    assert_eq!(call!(update_user, &f.app, event).status, 200);
    assert_eq!(
        last_event(&f.app).await,
        json!({ "action": "user.updated", "actorId": admin, "targetId": ada,
                "sourceIp": "203.0.113.99", "detail": { "fields": ["name", "password"] } })
    );
    // user.updated by the user itself.
    let ada_token = token(&f.app, "+15550600000", "ada-password-2").await;
    let event = at(Event::v2("update-me")
        .bearer(&ada_token)
        .json_body(&json!({ "email": "ada@example.com" })));
    assert_eq!(call!(update_me, &f.app, event).status, 200);
    let own = last_event(&f.app).await;
    assert_eq!(own["actorId"], ada);
    assert_eq!(own["targetId"], ada);
    assert_eq!(own["detail"], json!({ "fields": ["email"] }));
    // password.changed
    let event = at(Event::v2("change-password").bearer(&ada_token).json_body(
        &json!({ "currentPassword": "ada-password-2", "newPassword": "ada-password-3" }),
    ));
    assert_eq!(call!(change_password, &f.app, event).status, 204);
    assert_eq!(
        last_event(&f.app).await,
        json!({ "action": "password.changed", "actorId": ada, "targetId": ada,
                "sourceIp": "203.0.113.99", "detail": {} })
    );
    // logout
    let event = at(Event::v2("logout").bearer(&ada_token));
    assert_eq!(call!(logout, &f.app, event).status, 204);
    assert_eq!(
        last_event(&f.app).await,
        json!({ "action": "logout", "actorId": ada, "targetId": ada,
                "sourceIp": "203.0.113.99", "detail": { "scope": "local" } })
    );
    // user.deleted
    let event = at(Event::v2("delete-user")
        .bearer(&f.admin)
        .path_param("id", &ada.to_string()));
    assert_eq!(call!(delete_user, &f.app, event).status, 200);
    assert_eq!(
        last_event(&f.app).await,
        json!({ "action": "user.deleted", "actorId": admin, "targetId": ada,
                "sourceIp": "203.0.113.99", "detail": { "cellnumber": "+15550600000" } })
    );
    // An admin deleted through the locking path is recorded too.
    let other_admin = insert_user(&f.app, 1, "+15550600001", "other-admin-1").await;
    let event = Event::v2("delete-user")
        .bearer(&f.admin)
        .path_param("id", &other_admin.to_string());
    assert_eq!(call!(delete_user, &f.app, event).status, 200);
    assert_eq!(
        last_event(&f.app).await["detail"]["cellnumber"],
        "+15550600001"
    );
    let written = count(&f.app, "SELECT COUNT(*) FROM audit_event").await;

    // Refused requests write nothing.
    let refused = [
        call!(create_user, &f.app, Event::v2("create-user").bearer(&f.user).json_body(&body)),
        call!(create_user, &f.app, Event::v2("create-user").bearer(&f.admin).json_body(&json!({ "name": "x" }))),
        call!(create_user, &f.app, Event::v2("create-user").bearer(&f.admin).json_body(&json!({ "name": "Dup", "cellnumber": USER_CELL, "password": "dup-password-1" }))),
        call!(update_user, &f.app, Event::v2("update-user").bearer(&f.admin).path_param("id", &admin.to_string()).json_body(&json!({ "isActive": false }))),
        call!(update_user, &f.app, Event::v2("update-user").bearer(&f.admin).path_param("id", "999999").json_body(&json!({ "name": "x" }))),
        call!(update_user, &f.app, Event::v2("update-user").bearer(&f.admin).path_param("id", &f.user_id.to_string()).json_body(&json!({ "email": format!("u{}@example.com", ADMIN_CELL.trim_start_matches('+')) }))),
        call!(update_me, &f.app, Event::v2("update-me").bearer(&f.user).json_body(&json!({ "roleId": 1 }))),
        call!(delete_user, &f.app, Event::v2("delete-user").bearer(&f.admin).path_param("id", &admin.to_string())),
        call!(delete_user, &f.app, Event::v2("delete-user").bearer(&f.user).path_param("id", &admin.to_string())),
        call!(change_password, &f.app, Event::v2("change-password").bearer(&f.user).json_body(&json!({ "currentPassword": USER_PASS, "newPassword": "x" }))),
        call!(logout, &f.app, Event::v2("logout").bearer("not-a-token")),
    ];
    for answer in &refused {
        assert!(answer.status >= 400, "{}", answer.body);
    }
    assert_eq!(
        count(&f.app, "SELECT COUNT(*) FROM audit_event").await,
        written,
        "{:?}",
        events(&f.app).await
    );
}

#[tokio::test]
async fn no_event_holds_a_password_a_hash_or_a_token() {
    let f = fixture().await;
    let mut secrets: Vec<String> = vec![
        ADMIN_PASS.into(),
        USER_PASS.into(),
        TEST_SECRET.into(),
        api_tests::signing_key_fragment().into(),
        f.admin.clone(),
        f.user.clone(),
    ];
    let new_password = "brand-new-secret-1";
    let body = json!({ "name": "S", "cellnumber": "+15550700000", "password": "created-secret-1" });
    secrets.push("created-secret-1".into());
    let created = call!(
        create_user,
        &f.app,
        Event::v2("create-user").bearer(&f.admin).json_body(&body)
    );
    let id = created.body["id"].as_u64().unwrap().to_string();
    let patch = json!({ "password": "patched-secret-1" });
    secrets.push("patched-secret-1".into());
    call!(
        update_user,
        &f.app,
        Event::v2("update-user")
            .bearer(&f.admin)
            .path_param("id", &id)
            .json_body(&patch)
    );
    let s_token = token(&f.app, "+15550700000", "patched-secret-1").await;
    secrets.push(s_token.clone());
    let change = json!({ "currentPassword": "patched-secret-1", "newPassword": new_password });
    secrets.push(new_password.into());
    call!(
        change_password,
        &f.app,
        Event::v2("change-password")
            .bearer(&s_token)
            .json_body(&change)
    );
    // A password typed where the cellnumber goes is not kept, not even in part.
    login(&f.app, "my-password-is-very-long-and-secret", "x").await;
    secrets.push("my-password".into());
    login(&f.app, "hunter2", "x").await;
    secrets.push("hunter2".into());
    login(&f.app, "+15550700000", "a-wrong-secret-1").await;
    secrets.push("a-wrong-secret-1".into());
    call!(logout, &f.app, Event::v2("logout").bearer(&s_token));
    call!(
        delete_user,
        &f.app,
        Event::v2("delete-user")
            .bearer(&f.admin)
            .path_param("id", &id)
    );
    // Every hash the database ever held for these users.
    let mut conn = f.app.pool.get_conn().await.unwrap();
    let hashes: Vec<String> = conn.query("SELECT password_hash FROM users").await.unwrap();
    secrets.extend(hashes);

    let mut stored: Vec<String> = conn
        .query("SELECT CONCAT_WS(' ', action, source_ip, detail) FROM audit_event")
        .await
        .unwrap();
    let page = audit(&f.app, &f.admin, "limit=100").await;
    stored.push(page.body.to_string());
    assert!(stored.len() > 8, "{stored:?}");
    for text in &stored {
        assert!(
            !text.contains("$2b$") && !text.contains("$2y$"),
            "a hash in {text}"
        );
        for secret in &secrets {
            assert!(!text.contains(secret.as_str()), "{secret} in {text}");
        }
        // No JWT (three base64url parts) of any kind.
        assert!(!text.contains("eyJ"), "a token in {text}");
    }
}

#[tokio::test]
async fn the_audit_log_is_paged_newest_first_and_filtered() {
    let f = fixture().await;
    for n in 0..3 {
        login(&f.app, USER_CELL, &format!("wrong-password-{n}")).await;
    }
    let page = audit(&f.app, &f.admin, "").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.body["total"], 5);
    assert_eq!(page.body["limit"], 50);
    assert_eq!(page.body["offset"], 0);
    let items = page.body["items"].as_array().unwrap();
    let ids: Vec<u64> = items.iter().map(|e| e["id"].as_u64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    let first = items[0].as_object().unwrap();
    let mut keys: Vec<&str> = first.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["action", "actorId", "at", "detail", "id", "sourceIp", "targetId"]
    );
    assert!(first["at"].as_str().unwrap().ends_with('Z'));

    let failed = audit(&f.app, &f.admin, "action=login.failed&limit=2&offset=1").await;
    assert_eq!(failed.body["total"], 3);
    assert_eq!(failed.body["items"].as_array().unwrap().len(), 2);
    let about_user = audit(&f.app, &f.admin, &format!("targetId={}", f.user_id)).await;
    assert_eq!(about_user.body["total"], 4);
    let past = audit(
        &f.app,
        &f.admin,
        &format!("targetId={}&offset=10", f.user_id),
    )
    .await;
    assert_eq!(past.body["items"], json!([]));
    assert_eq!(past.body["total"], 4);
    let by_admin = audit(&f.app, &f.admin, &format!("actorId={}", f.admin_id)).await;
    assert_eq!(by_admin.body["total"], 0);
    let patch = Event::v2("update-user")
        .bearer(&f.admin)
        .path_param("id", &f.user_id.to_string())
        .json_body(&json!({ "name": "Renamed" }));
    call!(update_user, &f.app, patch);
    let by_admin = audit(
        &f.app,
        &f.admin,
        &format!(
            "actorId={}&action=user.updated&targetId={}",
            f.admin_id, f.user_id
        ),
    )
    .await;
    assert_eq!(by_admin.body["total"], 1);

    for query in [
        "action=nope",
        "action=",
        "actorId=0",
        "actorId=x",
        "targetId=-1",
        "limit=0",
        "limit=101",
        "offset=-1",
        "since=2020",
    ] {
        audit(&f.app, &f.admin, query).await.assert_error(422);
    }
    audit(&f.app, &f.user, "").await.assert_error(403);
    call!(list_audit, &f.app, Event::v2("list-audit")).assert_error(401);
}

/// Retention is the migrate function's scheduled purge (tests/tests/migrate_function.rs): a
/// login, which once removed a batch of old events, leaves the audit trail alone.
#[tokio::test]
async fn a_login_leaves_old_events_alone() {
    let db = TestDb::new().await;
    let app = test_app_with(&db, &[("AUDIT_RETENTION_DAYS", "30")]);
    insert_user(&app, 1, ADMIN_CELL, ADMIN_PASS).await;
    let mut conn = app.pool.get_conn().await.unwrap();
    conn.query_drop(
        "INSERT INTO audit_event (at, action, detail) \
         VALUES (UTC_TIMESTAMP(6) - INTERVAL 31 DAY, 'logout', '{\"scope\":\"local\"}')",
    )
    .await
    .unwrap();
    drop(conn);
    token(&app, ADMIN_CELL, ADMIN_PASS).await;
    let old = "SELECT COUNT(*) FROM audit_event WHERE at < UTC_TIMESTAMP(6) - INTERVAL 30 DAY";
    assert_eq!(count(&app, old).await, 1);
}
