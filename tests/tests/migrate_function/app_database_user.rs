//! The application's database account, kept by the custom resource: exactly SELECT, INSERT,
//! UPDATE and DELETE on its own database (and no other its name would match), the migrations' own
//! account never altered, revoked or dropped, and a renamed account's predecessor dropped.

use api_tests::{count, test_app, token, TestDb};
use migrate::Migrator;
use serde_json::json;
use shared::app::config::Secret;

use crate::{custom_resource_event, database, response_url_server, send, Received};

/// The HTTP functions' database user: created by the custom resource with exactly SELECT,
/// INSERT, UPDATE and DELETE on the API's schema, brought back to that (and to the secret's
/// password) on every run, and enough for the API.
#[tokio::test]
async fn the_application_user_may_read_and_write_rows_and_nothing_else() {
    use mysql_async::prelude::Queryable;
    let db = TestDb::empty().await;
    let username = format!("{}_app", db.name);
    let mut migrator_db = database(&db.url);
    migrator_db.app_user = Some(shared::db::account::AppUser {
        username: username.clone(),
        password: Secret::new("first-'app'-password\\1"),
    });
    let created = send(&Migrator::with_database(migrator_db), "Create").await;
    assert_eq!(created.body["Status"], "SUCCESS", "{}", created.body);
    assert!(created.body["Reason"]
        .as_str()
        .unwrap()
        .contains("only INSERT on the audit trail"));

    let (server, _) = db.url.rsplit_once('/').unwrap();
    let server = server.trim_start_matches("mysql://");
    let host = server.rsplit('@').next().unwrap();
    let as_app = |password: &str| {
        let encoded: String = password
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        format!("mysql://{username}:{encoded}@{host}/{}", db.name)
    };
    let url = as_app("first-'app'-password\\1");
    let mut conn = mysql_async::Conn::from_url(&url).await.unwrap();
    let grants: Vec<String> = conn.query("SHOW GRANTS").await.unwrap();
    let escaped = db.name.replace('_', "\\_");
    assert!(
        grants.contains(&format!(
            "GRANT SELECT ON `{escaped}`.* TO `{username}`@`%`"
        )),
        "the schema, its _ escaped: {grants:?}"
    );
    assert!(
        grants.contains(&format!(
            "GRANT INSERT ON `{}`.`audit_event` TO `{username}`@`%`",
            db.name
        )),
        "{grants:?}"
    );
    assert!(
        grants.contains(&format!(
            "GRANT INSERT, UPDATE, DELETE ON `{}`.`users` TO `{username}`@`%`",
            db.name
        )),
        "{grants:?}"
    );
    // The audit trail: read and appended to, never changed or erased by the request path.
    conn.query_drop("SELECT COUNT(*) FROM audit_event")
        .await
        .unwrap();
    for erase in [
        "DELETE FROM audit_event",
        "UPDATE audit_event SET action = 'logout'",
        "TRUNCATE TABLE audit_event",
        "DELETE FROM refinery_schema_history",
    ] {
        let error = conn.query_drop(erase).await.unwrap_err();
        assert!(
            matches!(error, mysql_async::Error::Server(_)),
            "{erase}: {error}"
        );
    }
    for ddl in [
        "CREATE TABLE stolen (id INT)",
        "DROP TABLE users",
        "ALTER TABLE users ADD COLUMN x INT",
        "GRANT SELECT ON *.* TO CURRENT_USER()",
    ] {
        let error = conn.query_drop(ddl).await.unwrap_err();
        assert!(
            matches!(error, mysql_async::Error::Server(_)),
            "{ddl}: {error}"
        );
    }
    assert!(conn
        .query_drop("SELECT COUNT(*) FROM mysql.user")
        .await
        .is_err());
    drop(conn);

    // The API works as that user: sign in, create, patch, list and delete.
    let app = api_tests::app_for_url(&url);
    api_tests::insert_user(&app, 1, "+15550000001", "admin-password-1").await;
    let admin = token(&app, "+15550000001", "admin-password-1").await;
    let created = api_tests::call!(
        create_user,
        &app,
        api_tests::Event::v2("create-user").bearer(&admin).json_body(
            &json!({ "name": "Ada", "cellnumber": "+15550000002", "password": "ada-password-1" })
        )
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_u64().unwrap().to_string();
    let patched = api_tests::call!(
        update_user,
        &app,
        api_tests::Event::v2("update-user")
            .bearer(&admin)
            .path_param("id", &id)
            .json_body(&json!({ "password": "ada-password-2" }))
    );
    assert_eq!(patched.status, 200, "{}", patched.body);
    let deleted = api_tests::call!(
        delete_user,
        &app,
        api_tests::Event::v2("delete-user")
            .bearer(&admin)
            .path_param("id", &id)
    );
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    drop(app);

    // Recovery by SMS too: the grants cover the tables of codes and SMS counters.
    let outbox = api_tests::texts::outbox_for(&db);
    let app = api_tests::app_with(
        &url,
        &[
            (
                "MFA_KEYS",
                "k1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=",
            ),
            ("SMS_OUTBOX", outbox.to_str().unwrap()),
        ],
    );
    let body = json!({ "cellnumber": "+15550000001" });
    let asked = api_tests::call!(
        forgot_password,
        &app,
        api_tests::Event::v2("forgot-password").json_body(&body)
    );
    assert_eq!(asked.status, 202, "{}", asked.body);
    let code = api_tests::texts::last_code(&outbox, "+15550000001");
    let body =
        json!({ "cellnumber": "+15550000001", "code": code, "newPassword": "admin-password-2" });
    let reset = api_tests::call!(
        reset_password,
        &app,
        api_tests::Event::v2("reset-password").json_body(&body)
    );
    assert_eq!(reset.status, 204, "{}", reset.body);
    drop(app);

    // Broader rights granted by hand and a password changed in the secret: the next run puts
    // both right.
    let root = test_app(&db);
    let mut root_conn = root.pool.get_conn().await.unwrap();
    root_conn
        .query_drop(format!("GRANT ALL PRIVILEGES ON *.* TO '{username}'@'%'"))
        .await
        .unwrap();
    let mut migrator_db = database(&db.url);
    migrator_db.app_user = Some(shared::db::account::AppUser {
        username: username.clone(),
        password: Secret::new("second-app-password"),
    });
    let updated = send(&Migrator::with_database(migrator_db), "Update").await;
    assert_eq!(updated.body["Status"], "SUCCESS", "{}", updated.body);
    assert!(
        mysql_async::Conn::from_url(&url).await.is_err(),
        "old password refused"
    );
    let mut conn = mysql_async::Conn::from_url(&as_app("second-app-password"))
        .await
        .unwrap();
    assert!(conn
        .query_drop("CREATE TABLE stolen (id INT)")
        .await
        .is_err());
    drop(conn);
    root_conn
        .query_drop(format!("DROP USER '{username}'@'%'"))
        .await
        .unwrap();
}

/// `db`'s server as `user` with `password` (letters and digits only), on `database`.
fn url_as(db: &TestDb, user: &str, password: &str, database: &str) -> String {
    let (server, _) = db.url.rsplit_once('/').unwrap();
    let host = server
        .trim_start_matches("mysql://")
        .rsplit('@')
        .next()
        .unwrap();
    format!("mysql://{user}:{password}@{host}/{database}")
}

fn app_user(name: &str, password: &str) -> Option<shared::db::account::AppUser> {
    Some(shared::db::account::AppUser {
        username: name.to_owned(),
        password: Secret::new(password),
    })
}

/// An Update of the custom resource whose previous properties named `previous` as the
/// application user.
async fn send_update_from(migrator: &Migrator, previous: &str) -> Received {
    let (url, responder, received) = response_url_server();
    let mut event = custom_resource_event("Update", &url);
    event.payload["OldResourceProperties"] = json!({ "AppDatabaseUser": previous });
    let result = migrate::handler(migrator, &responder, event).await;
    assert!(result.is_ok(), "{result:?}");
    received
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("a response was PUT")
}

async fn root_run(db: &TestDb, statements: &[String]) {
    use mysql_async::prelude::Queryable;
    let mut conn = mysql_async::Conn::from_url(&db.url).await.unwrap();
    for statement in statements {
        conn.query_drop(statement).await.unwrap();
    }
}

/// In `GRANT … ON db.*`, `_` matches any character: the grant must name this database only, not
/// its neighbour `utX…` (the test databases' names are full of `_`).
#[tokio::test]
async fn the_app_user_gets_its_own_database_and_no_other_that_its_name_would_match() {
    use mysql_async::prelude::Queryable;
    let db = TestDb::new().await;
    let username = format!("{}_w", db.name);
    let neighbour = db.name.replace('_', "X");
    root_run(
        &db,
        &[
            format!("DROP DATABASE IF EXISTS `{neighbour}`"),
            format!("CREATE DATABASE `{neighbour}`"),
            format!("CREATE TABLE `{neighbour}`.secrets (v INT)"),
            format!("INSERT INTO `{neighbour}`.secrets VALUES (42)"),
        ],
    )
    .await;
    let mut migrator_db = database(&db.url);
    migrator_db.app_user = app_user(&username, "wildcardpw1");
    let created = send(&Migrator::with_database(migrator_db), "Create").await;
    assert_eq!(created.body["Status"], "SUCCESS", "{}", created.body);

    let mut conn = mysql_async::Conn::from_url(url_as(&db, &username, "wildcardpw1", &db.name))
        .await
        .unwrap();
    conn.query_drop("SELECT COUNT(*) FROM users").await.unwrap();
    let error = conn
        .query_drop(format!("SELECT v FROM `{neighbour}`.secrets"))
        .await
        .unwrap_err();
    assert!(matches!(error, mysql_async::Error::Server(_)), "{error}");
    let visible: Vec<String> = conn.query("SHOW DATABASES").await.unwrap();
    assert!(!visible.contains(&neighbour), "{visible:?}");
    drop(conn);
    root_run(
        &db,
        &[
            format!("DROP DATABASE `{neighbour}`"),
            format!("DROP USER '{username}'@'%'"),
        ],
    )
    .await;
}

/// The account the migrations run as (the master user) is never the application user: named as
/// the app user it is not altered or stripped, named as the previous app user it is not dropped.
#[tokio::test]
async fn the_migrations_own_account_is_never_altered_revoked_or_dropped() {
    use mysql_async::prelude::Queryable;
    let db = TestDb::new().await;
    let master = format!("{}_m", db.name);
    root_run(
        &db,
        &[
            format!("DROP USER IF EXISTS '{master}'@'%'"),
            format!("CREATE USER '{master}'@'%' IDENTIFIED BY 'masterpw1'"),
            format!("GRANT ALL PRIVILEGES ON *.* TO '{master}'@'%' WITH GRANT OPTION"),
        ],
    )
    .await;
    let master_url = url_as(&db, &master, "masterpw1", &db.name);
    let still_master = || async {
        let mut conn = mysql_async::Conn::from_url(&master_url).await.unwrap();
        let grants: Vec<String> = conn.query("SHOW GRANTS").await.unwrap();
        assert!(
            grants
                .iter()
                .any(|g| g.starts_with("GRANT ALL PRIVILEGES ON *.*")),
            "{grants:?}"
        );
    };

    let mut as_master = database(&master_url);
    as_master.app_user = app_user(&master, "anotherpw1");
    let refused = send(&Migrator::with_database(as_master), "Create").await;
    assert_eq!(refused.body["Status"], "FAILED", "{}", refused.body);
    assert!(
        refused.body["Reason"]
            .as_str()
            .unwrap()
            .contains("the account the migrations run as"),
        "{}",
        refused.body
    );
    still_master().await;

    let app = format!("{}_n", db.name);
    let mut as_master = database(&master_url);
    as_master.app_user = app_user(&app, "apppw1");
    let refused = send_update_from(&Migrator::with_database(as_master), &master).await;
    assert_eq!(refused.body["Status"], "FAILED", "{}", refused.body);
    still_master().await;

    root_run(
        &db,
        &[
            format!("DROP USER IF EXISTS '{app}'@'%'"),
            format!("DROP USER '{master}'@'%'"),
        ],
    )
    .await;
}

/// A new AppDatabaseUser: the old account goes, with its rights and its password.
#[tokio::test]
async fn renaming_the_app_user_drops_the_old_account() {
    let db = TestDb::new().await;
    let old = format!("{}_a", db.name);
    let new = format!("{}_b", db.name);
    let mut migrator_db = database(&db.url);
    migrator_db.app_user = app_user(&old, "oldpw1");
    let created = send(&Migrator::with_database(migrator_db), "Create").await;
    assert_eq!(created.body["Status"], "SUCCESS", "{}", created.body);
    mysql_async::Conn::from_url(url_as(&db, &old, "oldpw1", &db.name))
        .await
        .unwrap();

    let mut migrator_db = database(&db.url);
    migrator_db.app_user = app_user(&new, "newpw1");
    let migrator = Migrator::with_database(migrator_db);
    let renamed = send_update_from(&migrator, &old).await;
    assert_eq!(renamed.body["Status"], "SUCCESS", "{}", renamed.body);
    assert!(renamed.body["Reason"]
        .as_str()
        .unwrap()
        .contains(&format!("previous database user {old} dropped")));
    let app = test_app(&db);
    assert_eq!(
        count(
            &app,
            &format!("SELECT COUNT(*) FROM mysql.user WHERE User = '{old}'")
        )
        .await,
        0
    );
    assert!(
        mysql_async::Conn::from_url(url_as(&db, &old, "oldpw1", &db.name))
            .await
            .is_err()
    );
    // The next update names the new user as the previous one: nothing is dropped.
    let again = send_update_from(&migrator, &new).await;
    assert_eq!(again.body["Status"], "SUCCESS", "{}", again.body);
    mysql_async::Conn::from_url(url_as(&db, &new, "newpw1", &db.name))
        .await
        .unwrap();
    root_run(&db, &[format!("DROP USER '{new}'@'%'")]).await;
}
