//! The `migrate` function: the CloudFormation custom resource (Create, Update, Delete and
//! failures, with the response PUT to a pre-signed URL, here a server of the test's own) and the
//! operator's actions.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;

use api_tests::{count, test_app, token, TestDb};
use lambda_runtime::{Context, LambdaEvent};
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

/// A one-shot HTTP server that answers 200 to a single request and hands it over.
fn response_url_server() -> (String, mpsc::Receiver<Received>) {
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
    (
        format!("http://127.0.0.1:{port}/cfn-response?X-Amz-Signature=abc"),
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

async fn send(database: &Database, request_type: &str) -> Received {
    let (url, received) = response_url_server();
    let responder = migrate::Responder::new();
    let result = migrate::handler(
        database,
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
    let database = database(&db.url);

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
    let unreachable = database("mysql://root@127.0.0.1:1/gone");
    let deleted = send(&unreachable, "Delete").await;
    assert_eq!(deleted.body["Status"], "SUCCESS", "{}", deleted.body);
}

#[tokio::test]
async fn a_failed_migration_is_reported_as_failed_with_a_reason() {
    let unreachable = database("mysql://root@127.0.0.1:1/gone");
    let created = send(&unreachable, "Create").await;
    assert_eq!(created.body["Status"], "FAILED");
    assert!(!created.body["Reason"].as_str().unwrap().is_empty());
    assert_eq!(
        created.body["PhysicalResourceId"],
        migrate::PHYSICAL_RESOURCE_ID
    );
}

#[tokio::test]
async fn the_first_admin_is_bootstrapped_with_a_generated_password_shown_once() {
    let db = TestDb::empty().await;
    let database = database(&db.url);
    let responder = migrate::Responder::new();
    let event = LambdaEvent::new(
        json!({ "action": "bootstrap-admin", "cellnumber": "+15550000001" }),
        Context::default(),
    );
    let answer = migrate::handler(&database, &responder, event)
        .await
        .unwrap();
    assert_eq!(answer["admin"], "created");
    let password = answer["password"].as_str().unwrap().to_owned();
    assert_eq!(password.len(), 32);
    let app = test_app(&db);
    token(&app, "+15550000001", &password).await;

    let again = LambdaEvent::new(
        json!({ "action": "bootstrap-admin", "cellnumber": "+15550000001", "password": password }),
        Context::default(),
    );
    let answer = migrate::handler(&database, &responder, again)
        .await
        .unwrap();
    assert_eq!(answer["admin"], "unchanged");
    assert!(answer.get("password").is_none());

    let invalid = LambdaEvent::new(
        json!({ "action": "bootstrap-admin", "cellnumber": "12" }),
        Context::default(),
    );
    assert!(migrate::handler(&database, &responder, invalid)
        .await
        .is_err());
    let unknown = LambdaEvent::new(json!({ "action": "drop-everything" }), Context::default());
    assert!(migrate::handler(&database, &responder, unknown)
        .await
        .is_err());
    let migrate_only = LambdaEvent::new(json!({ "action": "migrate" }), Context::default());
    assert_eq!(
        migrate::handler(&database, &responder, migrate_only)
            .await
            .unwrap()["applied"],
        0
    );
}
