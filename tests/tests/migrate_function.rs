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
    token(&app, "+15550000001", &password).await;

    let again =
        json!({ "action": "bootstrap-admin", "cellnumber": "+15550000001", "password": password });
    let answer = act(&migrator, again).await.unwrap();
    assert_eq!(answer["admin"], "unchanged");
    assert!(answer.get("password").is_none());

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
        .contains("SELECT, INSERT, UPDATE, DELETE"));

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
    let on_schema: Vec<&String> = grants
        .iter()
        .filter(|g| !g.starts_with("GRANT USAGE ON *.*"))
        .collect();
    assert_eq!(on_schema.len(), 1, "{grants:?}");
    assert!(
        on_schema[0].starts_with(&format!(
            "GRANT SELECT, INSERT, UPDATE, DELETE ON `{}`.*",
            db.name
        )),
        "{grants:?}"
    );
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
