//! The operator's actions on the function: bootstrap-admin (the first admin only, a generated
//! password shown once, never a promotion, a reset only with `force`) and purge-audit (the events
//! past the retention, in batches).

use api_tests::{count, test_app, token, TestDb};
use lambda_runtime::{Context, LambdaEvent};
use migrate::Migrator;
use serde_json::{json, Value};

use crate::{database, migrator};

/// The `admin.bootstrapped` events, oldest first: (target, detail); never an actor or address.
async fn bootstrap_events(app: &shared::App) -> Vec<(u64, String)> {
    use mysql_async::prelude::Queryable;
    let mut conn = app.pool.get_conn().await.unwrap();
    conn.query(
        "SELECT target_id, detail FROM audit_event WHERE action = 'admin.bootstrapped' \
         AND actor_id IS NULL AND source_ip IS NULL ORDER BY id",
    )
    .await
    .unwrap()
}

/// Runs an operator's action on the migrate function.
async fn act(migrator: &Migrator, action: Value) -> Result<Value, String> {
    let responder = migrate::Responder::new();
    migrate::handler(
        migrator,
        &responder,
        LambdaEvent::new(action, Context::default()),
    )
    .await
    .map_err(|error| error.to_string())
}

#[tokio::test]
async fn the_first_admin_is_bootstrapped_with_a_generated_password_shown_once() {
    let db = TestDb::empty().await;
    let migrator = migrator(&db.url);
    let answer = act(
        &migrator,
        json!({ "action": "bootstrap-admin", "cellnumber": "+15550000001" }),
    )
    .await
    .unwrap();
    assert_eq!(answer["admin"], "created");
    let password = answer["password"].as_str().unwrap().to_owned();
    assert_eq!(password.len(), 32);
    let app = test_app(&db);
    assert_eq!(
        bootstrap_events(&app).await,
        [(
            answer["id"].as_u64().unwrap(),
            r#"{"outcome":"created"}"#.to_owned()
        )]
    );
    token(&app, "+15550000001", &password).await;

    let again =
        json!({ "action": "bootstrap-admin", "cellnumber": "+15550000001", "password": password });
    let answer = act(&migrator, again).await.unwrap();
    assert_eq!(answer["admin"], "unchanged");
    assert!(answer.get("password").is_none());
    assert_eq!(bootstrap_events(&app).await.len(), 1, "nothing changed");

    for (invalid, why) in [
        (
            json!({ "action": "bootstrap-admin", "cellnumber": "12" }),
            "cellnumber",
        ),
        (json!({ "action": "drop-everything" }), "action"),
        (
            json!({ "action": "bootstrap-admin", "cellnumber": "+15550000001", "force": "yes" }),
            "boolean",
        ),
    ] {
        let error = act(&migrator, invalid).await.unwrap_err();
        assert!(error.contains(why), "{error}");
    }
    let migrate_only = act(&migrator, json!({ "action": "migrate" })).await;
    assert_eq!(migrate_only.unwrap()["applied"], 0);
}

/// Anyone allowed to invoke the function must not be able to take over an account: no second
/// admin, no promotion of a normal user, no password reset without `force`.
#[tokio::test]
async fn bootstrap_admin_creates_only_the_first_admin_and_never_promotes_a_user() {
    let db = TestDb::empty().await;
    let migrator = migrator(&db.url);
    let first = act(
        &migrator,
        json!({ "action": "bootstrap-admin", "cellnumber": "+15550000001", "password": "first-admin-pw" }),
    )
    .await
    .unwrap();
    assert_eq!(first["admin"], "created");
    let app = test_app(&db);
    let user_id = api_tests::insert_user(&app, 2, "+15550000002", "user-password-2").await;
    let admin_session = token(&app, "+15550000001", "first-admin-pw").await;
    let users_before = count(&app, "SELECT COUNT(*) FROM users").await;

    // Another cellnumber while an admin exists: refused, with or without force.
    for force in [false, true] {
        let error = act(
            &migrator,
            json!({ "action": "bootstrap-admin", "cellnumber": "+15550000003", "force": force }),
        )
        .await
        .unwrap_err();
        assert!(error.contains("an admin exists already"), "{error}");
    }
    // A normal user's cellnumber: never promoted, its password never changed, even with force.
    for force in [false, true] {
        let error = act(
            &migrator,
            json!({ "action": "bootstrap-admin", "cellnumber": "+15550000002",
                    "password": "taken-over-pw", "force": force }),
        )
        .await
        .unwrap_err();
        assert!(error.contains("never promotes"), "{error}");
    }
    assert_eq!(
        count(
            &app,
            &format!("SELECT role_id FROM users WHERE id = {user_id}")
        )
        .await,
        2
    );
    token(&app, "+15550000002", "user-password-2").await;
    assert_eq!(
        api_tests::login(&app, "+15550000002", "taken-over-pw")
            .await
            .status,
        401
    );
    // The existing admin with another password: only with force.
    let error = act(
        &migrator,
        json!({ "action": "bootstrap-admin", "cellnumber": "+15550000001" }),
    )
    .await
    .unwrap_err();
    assert!(error.contains("force"), "{error}");
    token(&app, "+15550000001", "first-admin-pw").await;
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM users").await,
        users_before,
        "nothing was created"
    );

    let reset = act(
        &migrator,
        json!({ "action": "bootstrap-admin", "cellnumber": "+15550000001", "force": true }),
    )
    .await
    .unwrap();
    assert_eq!(reset["admin"], "reset");
    // The reset is in the audit log, in the transaction that made it.
    let admin_id = first["id"].as_u64().unwrap();
    assert_eq!(
        bootstrap_events(&app).await,
        [
            (admin_id, r#"{"outcome":"created"}"#.to_owned()),
            (admin_id, r#"{"outcome":"reset"}"#.to_owned())
        ]
    );
    let new_password = reset["password"].as_str().unwrap().to_owned();
    token(&app, "+15550000001", &new_password).await;
    // The reset ended the admin's sessions.
    let me = api_tests::call!(
        get_me,
        &app,
        api_tests::Event::v2("get-me").bearer(&admin_session)
    );
    me.assert_error(401);
}

/// Retention runs in the migrate function (the operator's user) on the stack's schedule, in
/// bounded batches until nothing old is left.
#[tokio::test]
async fn purge_audit_removes_the_events_past_the_retention_and_nothing_else() {
    use mysql_async::prelude::Queryable;
    let db = TestDb::new().await;
    let mut migrator_db = database(&db.url);
    migrator_db.audit_retention_days = 30;
    let migrator = Migrator::with_database(migrator_db);
    let app = test_app(&db);
    let mut conn = app.pool.get_conn().await.unwrap();
    conn.query_drop(
        "INSERT INTO audit_event (at, action, detail) \
         SELECT UTC_TIMESTAMP(6) - INTERVAL 31 DAY, 'logout', '{\"scope\":\"local\"}' \
         FROM information_schema.columns LIMIT 700",
    )
    .await
    .unwrap();
    conn.query_drop(
        "INSERT INTO audit_event (at, action, detail) \
         VALUES (UTC_TIMESTAMP(6) - INTERVAL 29 DAY, 'logout', '{\"scope\":\"local\"}')",
    )
    .await
    .unwrap();
    drop(conn);
    let old = "SELECT COUNT(*) FROM audit_event WHERE at < UTC_TIMESTAMP(6) - INTERVAL 30 DAY";
    assert_eq!(count(&app, old).await, 700);

    let purged = act(&migrator, json!({ "action": "purge-audit" }))
        .await
        .unwrap();
    assert_eq!(purged, json!({ "removed": 700, "retentionDays": 30 }));
    assert_eq!(count(&app, old).await, 0);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM audit_event").await, 1);
    let again = act(&migrator, json!({ "action": "purge-audit" }))
        .await
        .unwrap();
    assert_eq!(again["removed"], 0);
}
