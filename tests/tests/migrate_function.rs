//! The `migrate` function: the CloudFormation custom resource (Create, Update, Delete and
//! failures, with the response PUT to a pre-signed URL, here a server of the test's own) and the
//! operator's actions.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;

use api_tests::{count, test_app, token, TestDb};
use lambda_runtime::{Context, LambdaEvent};
use migrate::Migrator;
use serde_json::{json, Value};
use shared::app::Database;
use shared::config::{DatabaseConfig, Secret};

/// One request the stand-in for S3 received.
struct Received {
    method: String,
    path: String,
    content_type: Option<String>,
    body: Value,
}

/// A one-shot HTTP server that answers 200 to a single request and hands it over; and a
/// responder that may PUT to it.
fn response_url_server() -> (String, migrate::Responder, mpsc::Receiver<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut request_line = String::new();
        reader.read_line(&mut request_line).unwrap();
        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap_or("").to_owned();
        let path = parts.next().unwrap_or("").to_owned();
        let mut content_length = 0;
        let mut content_type = None;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').unwrap();
            match name.to_ascii_lowercase().as_str() {
                "content-length" => content_length = value.trim().parse().unwrap(),
                "content-type" => content_type = Some(value.trim().to_owned()),
                _ => {}
            }
        }
        let mut body = vec![0; content_length];
        reader.read_exact(&mut body).unwrap();
        let mut stream = stream;
        stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            .unwrap();
        sender
            .send(Received {
                method,
                path,
                content_type,
                body: serde_json::from_slice(&body).unwrap(),
            })
            .unwrap();
    });
    let origin = format!("http://127.0.0.1:{port}");
    (
        format!("{origin}/cfn-response?X-Amz-Signature=abc"),
        migrate::Responder::allowing_origin(&origin),
        receiver,
    )
}

fn database(url: &str) -> Database {
    Database::new(DatabaseConfig {
        database_url: Secret::new(url),
        database_tls: shared::config::DatabaseTls::Off,
        bcrypt_cost: 4,
    })
    .unwrap()
}

fn migrator(url: &str) -> Migrator {
    Migrator::with_database(database(url))
}

fn custom_resource_event(request_type: &str, response_url: &str) -> LambdaEvent<Value> {
    let mut payload = json!({
        "RequestType": request_type,
        "ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:users-api-MigrateFunction",
        "ResponseURL": response_url,
        "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/users-api/guid",
        "RequestId": "unique-request-id",
        "LogicalResourceId": "SchemaMigrations",
        "ResourceType": "Custom::SchemaMigrations",
        "ResourceProperties": {
            "ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:users-api-MigrateFunction",
            "MigrateVersion": "3"
        }
    });
    if request_type != "Create" {
        payload["PhysicalResourceId"] = json!(migrate::PHYSICAL_RESOURCE_ID);
    }
    LambdaEvent::new(payload, Context::default())
}

async fn send(migrator: &Migrator, request_type: &str) -> Received {
    let (url, responder, received) = response_url_server();
    let result = migrate::handler(
        migrator,
        &responder,
        custom_resource_event(request_type, &url),
    )
    .await;
    assert!(result.is_ok(), "{result:?}");
    received
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("a response was PUT")
}

#[tokio::test]
async fn create_and_update_migrate_and_report_success_to_the_response_url() {
    let db = TestDb::empty().await;
    let database = migrator(&db.url);

    let created = send(&database, "Create").await;
    assert_eq!(created.method, "PUT");
    assert_eq!(created.path, "/cfn-response?X-Amz-Signature=abc");
    assert_eq!(
        created.content_type.as_deref().unwrap_or(""),
        "",
        "the URL is signed without a content type"
    );
    assert_eq!(created.body["Status"], "SUCCESS", "{}", created.body);
    assert_eq!(
        created.body["PhysicalResourceId"],
        migrate::PHYSICAL_RESOURCE_ID
    );
    assert_eq!(
        created.body["StackId"],
        "arn:aws:cloudformation:eu-west-1:123456789012:stack/users-api/guid"
    );
    assert_eq!(created.body["RequestId"], "unique-request-id");
    assert_eq!(created.body["LogicalResourceId"], "SchemaMigrations");
    let applied = created.body["Data"]["Applied"].as_u64().unwrap();
    assert!(applied >= 3, "{applied}");

    let app = test_app(&db);
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM roles").await,
        2,
        "the schema is there"
    );

    let updated = send(&database, "Update").await;
    assert_eq!(updated.body["Status"], "SUCCESS");
    assert_eq!(updated.body["Data"]["Applied"], 0, "nothing left to apply");
    assert_eq!(
        updated.body["PhysicalResourceId"],
        migrate::PHYSICAL_RESOURCE_ID
    );
}

#[tokio::test]
async fn delete_succeeds_without_touching_the_database() {
    let unreachable = migrator("mysql://root@127.0.0.1:1/gone");
    let deleted = send(&unreachable, "Delete").await;
    assert_eq!(deleted.body["Status"], "SUCCESS", "{}", deleted.body);
}

#[tokio::test]
async fn a_failed_migration_is_reported_as_failed_with_a_reason() {
    let unreachable = migrator("mysql://root@127.0.0.1:1/gone");
    let created = send(&unreachable, "Create").await;
    assert_eq!(created.body["Status"], "FAILED");
    assert!(!created.body["Reason"].as_str().unwrap().is_empty());
    assert_eq!(
        created.body["PhysicalResourceId"],
        migrate::PHYSICAL_RESOURCE_ID
    );
}

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

/// A hand-made event cannot make the function PUT anywhere but to a pre-signed S3 URL.
#[tokio::test]
async fn a_response_url_that_is_not_s3_gets_nothing() {
    let db = TestDb::empty().await;
    let migrator = migrator(&db.url);
    let (url, _test_responder, received) = response_url_server();
    // The production responder: S3 only.
    let responder = migrate::Responder::new();
    for target in [
        url.clone(),
        url.replace("http://", "https://"),
        "https://169.254.169.254/latest/meta-data/".to_owned(),
    ] {
        let outcome = migrate::handler(
            &migrator,
            &responder,
            custom_resource_event("Create", &target),
        )
        .await;
        assert!(outcome.is_err(), "{target}");
    }
    assert!(received
        .recv_timeout(std::time::Duration::from_millis(500))
        .is_err());
    // And nothing was done to the database on behalf of such an event.
    assert_eq!(
        count(
            &test_app(&db),
            &format!(
                "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = '{}'",
                db.name
            )
        )
        .await,
        0
    );
}

/// Configuration that cannot be loaded, and a database that does not answer, are FAILED answers
/// with the reason, within the bound; a Delete is SUCCESS without loading anything.
#[tokio::test]
async fn every_failure_is_answered_failed_with_its_reason_within_the_bound() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    // A loader that fails, as Database::load does when a secret cannot be read.
    let loads = Arc::new(AtomicUsize::new(0));
    let counted = loads.clone();
    let failing = Migrator::with_loader(move || {
        counted.fetch_add(1, Ordering::SeqCst);
        async {
            Err("reading secret arn:aws:secretsmanager:x failed: AccessDeniedException".to_owned())
        }
    });
    let created = send(&failing, "Create").await;
    assert_eq!(created.body["Status"], "FAILED");
    assert!(created.body["Reason"]
        .as_str()
        .unwrap()
        .contains("AccessDeniedException"));
    let deleted = send(&failing, "Delete").await;
    assert_eq!(deleted.body["Status"], "SUCCESS");
    assert_eq!(loads.load(Ordering::SeqCst), 1, "Delete loaded nothing");
    // Failed loads are tried again (the operator may have fixed the cause).
    let updated = send(&failing, "Update").await;
    assert_eq!(updated.body["Status"], "FAILED");
    assert_eq!(loads.load(Ordering::SeqCst), 2);
    let unknown = send(&failing, "Replace").await;
    assert_eq!(unknown.body["Status"], "FAILED");

    // A frozen database: the connection waits forever unless bounded.
    let server = api_tests::mariadb::PrivateMariaDb::start().await;
    let frozen = migrator(&server.database_url("frozen"));
    server.freeze();
    let (url, _, _) = response_url_server();
    let event = custom_resource_event("Create", &url);
    let request: migrate::CustomResourceRequest =
        serde_json::from_value(event.payload.clone()).unwrap();
    let started = Instant::now();
    let response = migrate::custom_resource(&frozen, &request, Duration::from_secs(2)).await;
    let took = started.elapsed();
    server.thaw();
    assert_eq!(response.status, "FAILED");
    assert!(
        response.reason.contains("did not answer"),
        "{}",
        response.reason
    );
    assert!(took < Duration::from_secs(4), "{took:?}");
    println!(
        "custom resource: a frozen database is answered FAILED after {} ms (bound 2 s)",
        took.as_millis()
    );
}

/// The HTTP functions' database user: created by the custom resource with exactly SELECT,
/// INSERT, UPDATE and DELETE on the API's schema, brought back to that (and to the secret's
/// password) on every run, and enough for the API.
#[tokio::test]
async fn the_application_user_may_read_and_write_rows_and_nothing_else() {
    use mysql_async::prelude::Queryable;
    let db = TestDb::empty().await;
    let username = format!("{}_app", db.name);
    let mut migrator_db = database(&db.url);
    migrator_db.app_user = Some(shared::app_user::AppUser {
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

    // Broader rights granted by hand and a password changed in the secret: the next run puts
    // both right.
    let root = test_app(&db);
    let mut root_conn = root.pool.get_conn().await.unwrap();
    root_conn
        .query_drop(format!("GRANT ALL PRIVILEGES ON *.* TO '{username}'@'%'"))
        .await
        .unwrap();
    let mut migrator_db = database(&db.url);
    migrator_db.app_user = Some(shared::app_user::AppUser {
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

fn app_user(name: &str, password: &str) -> Option<shared::app_user::AppUser> {
    Some(shared::app_user::AppUser {
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
