//! The `migrate` function: the CloudFormation custom resource (Create, Update, Delete and
//! failures, with the response PUT to a pre-signed URL, here a server of the test's own), the
//! operator's actions (bootstrap-admin, purge-audit), and the application's database account it
//! keeps. The helpers here build the function and its events; the modules hold the tests.

mod app_database_user;
mod custom_resource;
mod operator_actions;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;

use lambda_runtime::{Context, LambdaEvent};
use migrate::Migrator;
use serde_json::{json, Value};
use shared::app::config::{DatabaseConfig, Secret};
use shared::app::Database;

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
        database_tls: shared::app::config::DatabaseTls::Off,
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
