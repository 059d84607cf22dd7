//! The `migrate` function's custom resource when its configuration is wrong, loaded the way it
//! is in AWS (environment and Secrets Manager, here moto): every kind of misconfiguration of a
//! first deploy is answered FAILED with a reason that names it, within the bound, and a Delete
//! (the rollback of that deploy) is answered SUCCESS without loading anything.
//!
//! One test per binary, since it sets the process environment the way Lambda does.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use api_tests::moto::{test_server_address, Moto};
use api_tests::TestDb;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{json, Value};

/// A stand-in for S3 that takes any number of PUTs and hands over each body.
fn response_url_server() -> (String, std::sync::mpsc::Receiver<Value>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut data = Vec::new();
            let mut buffer = [0u8; 4096];
            // Headers, then a body of content-length bytes.
            let body = loop {
                let n = stream.read(&mut buffer).unwrap_or(0);
                if n == 0 {
                    break None;
                }
                data.extend_from_slice(&buffer[..n]);
                let text = String::from_utf8_lossy(&data).to_string();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length: usize = head
                        .lines()
                        .find_map(|l| {
                            let (name, value) = l.split_once(':')?;
                            name.eq_ignore_ascii_case("content-length")
                                .then(|| value.trim().parse().ok())?
                        })
                        .unwrap_or(0);
                    if body.len() >= length {
                        break Some(body[..length].to_owned());
                    }
                }
            };
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            if let Some(body) = body {
                let _ = sender.send(serde_json::from_str(&body).unwrap_or(Value::Null));
            }
        }
    });
    (format!("http://127.0.0.1:{port}"), receiver)
}

/// A Secrets Manager that refuses every request the way it does when the secret's KMS key may
/// not be used by the caller.
fn kms_refusing_secrets_manager() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut buffer = [0u8; 65536];
            let _ = stream.read(&mut buffer);
            let body =
                r#"{"__type":"AccessDeniedException","Message":"Access to KMS is not allowed"}"#;
            let _ = stream.write_all(
                format!(
                    "HTTP/1.1 400 Bad Request\r\ncontent-type: application/x-amz-json-1.1\r\n\
                     x-amzn-errortype: AccessDeniedException\r\ncontent-length: {}\r\n\
                     connection: close\r\n\r\n{body}",
                    body.len()
                )
                .as_bytes(),
            );
        }
    });
    format!("http://127.0.0.1:{port}")
}

/// A Secrets Manager that accepts connections and never answers.
fn silent_secrets_manager() -> (String, TcpListener) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    (format!("http://127.0.0.1:{port}"), listener)
}

fn event(request_type: &str, origin: &str, deadline_in: Duration) -> LambdaEvent<Value> {
    let payload = json!({
        "RequestType": request_type,
        "ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:users-api-MigrateFunction",
        "ResponseURL": format!("{origin}/cfn-response?X-Amz-Signature=abc"),
        "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/users-api/guid",
        "RequestId": "unique-request-id",
        "LogicalResourceId": "SchemaMigrations",
        "ResourceType": "Custom::SchemaMigrations",
        "PhysicalResourceId": migrate::PHYSICAL_RESOURCE_ID,
        "ResourceProperties": {}
    });
    let mut context = Context::default();
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    context.deadline = now_ms + deadline_in.as_millis() as u64;
    LambdaEvent::new(payload, context)
}

fn set(name: &str, value: &str) {
    // SAFETY: this binary has one test, and nothing else reads the environment meanwhile.
    unsafe { std::env::set_var(name, value) };
}

fn unset(name: &str) {
    // SAFETY: as above.
    unsafe { std::env::remove_var(name) };
}

/// A fresh cold start of the function (the loader reads the environment as it is now), sent one
/// custom resource request; its answer, and how long it took.
async fn cold_start_answer(
    request_type: &str,
    origin: &str,
    responses: &std::sync::mpsc::Receiver<Value>,
    deadline_in: Duration,
) -> (Value, Duration) {
    let migrator = migrate::Migrator::from_environment();
    let responder = migrate::Responder::allowing_origin(origin);
    let started = Instant::now();
    let outcome = migrate::handler(
        &migrator,
        &responder,
        event(request_type, origin, deadline_in),
    )
    .await;
    let took = started.elapsed();
    assert!(outcome.is_ok(), "{outcome:?}");
    let answer = responses
        .recv_timeout(Duration::from_secs(5))
        .expect("an answer was PUT");
    (answer, took)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_misconfiguration_is_answered_failed_with_its_reason_and_delete_succeeds() {
    let moto = Moto::start();
    // SAFETY: one test in this binary.
    unsafe { moto.set_aws_environment() };
    let db = TestDb::empty().await;
    let (host, port) = test_server_address();
    for name in ["DATABASE_URL", "SECRET_KEY", "JWT_SECRET_ARN"] {
        unset(name);
    }
    set("DB_HOST", &host);
    set("DB_PORT", &port);
    set("DB_NAME", &db.name);
    set("BCRYPT_COST", "4");
    let (origin, responses) = response_url_server();
    let client = shared::app::secrets::client().await.unwrap();
    let create = |name: &'static str, value: String| {
        let client = client.clone();
        async move {
            client
                .create_secret()
                .name(name)
                .secret_string(value)
                .send()
                .await
                .unwrap()
                .arn()
                .unwrap()
                .to_owned()
        }
    };
    let good = create(
        "db/good",
        json!({ "username": "root", "password": "" }).to_string(),
    )
    .await;
    let no_password = create("db/no-password", json!({ "username": "root" }).to_string()).await;
    let not_json = create("db/not-json", "hunter2-not-json".to_owned()).await;
    let missing = good.replace("db/good", "db/missing");

    let normal = Duration::from_secs(60);
    let mut figures = Vec::new();
    let mut expect_failed = |what: &str, answer: &Value, took: Duration, needle: &str| {
        assert_eq!(answer["Status"], "FAILED", "{what}: {answer}");
        let reason = answer["Reason"].as_str().unwrap();
        assert!(reason.contains(needle), "{what}: {reason}");
        assert!(
            !reason.contains("hunter2"),
            "{what}: the secret leaked: {reason}"
        );
        assert_eq!(answer["RequestId"], "unique-request-id");
        figures.push(format!("{what} {} ms", took.as_millis()));
    };

    set("DB_SECRET_ARN", &no_password);
    let (answer, took) = cold_start_answer("Create", &origin, &responses, normal).await;
    expect_failed("secret without password", &answer, took, "db/no-password");

    set("DB_SECRET_ARN", &not_json);
    let (answer, took) = cold_start_answer("Update", &origin, &responses, normal).await;
    expect_failed("secret not JSON", &answer, took, "not in the expected form");

    set("DB_SECRET_ARN", &missing);
    let (answer, took) = cold_start_answer("Create", &origin, &responses, normal).await;
    expect_failed("no such secret", &answer, took, "db/missing");

    set("DB_SECRET_ARN", &good);
    unset("DB_HOST");
    let (answer, took) = cold_start_answer("Create", &origin, &responses, normal).await;
    expect_failed("DB_HOST missing", &answer, took, "DB_HOST");
    set("DB_HOST", &host);

    set("DB_PORT", "1");
    let (answer, took) = cold_start_answer("Create", &origin, &responses, normal).await;
    expect_failed("database unreachable", &answer, took, "connect");
    set("DB_PORT", &port);

    // The secret is encrypted with a KMS key the function may not use.
    set("AWS_ENDPOINT_URL", &kms_refusing_secrets_manager());
    let (answer, took) = cold_start_answer("Create", &origin, &responses, normal).await;
    expect_failed("KMS key not allowed", &answer, took, "AccessDenied");

    // No route to Secrets Manager: nothing listens.
    let closed = api_tests::serve::free_port();
    set("AWS_ENDPOINT_URL", &format!("http://127.0.0.1:{closed}"));
    let (answer, took) = cold_start_answer("Create", &origin, &responses, normal).await;
    expect_failed(
        "Secrets Manager unreachable",
        &answer,
        took,
        "Secrets Manager",
    );

    // A Secrets Manager that never answers, with 21 s left of the invocation: the answer comes
    // within the bound the deadline leaves (6 s), not at the function's timeout.
    let (silent, _listener) = silent_secrets_manager();
    set("AWS_ENDPOINT_URL", &silent);
    let (answer, took) =
        cold_start_answer("Create", &origin, &responses, Duration::from_secs(21)).await;
    expect_failed("Secrets Manager silent", &answer, took, "did not answer");
    assert!(took < Duration::from_secs(8), "{took:?}");

    // The rollback of such a deploy: Delete loads nothing and succeeds.
    let (answer, _) = cold_start_answer("Delete", &origin, &responses, normal).await;
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");

    // Once the configuration is right, the same stack's next try succeeds.
    set("AWS_ENDPOINT_URL", &moto.endpoint);
    let (answer, _) = cold_start_answer("Create", &origin, &responses, normal).await;
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    println!(
        "custom resource, misconfigured first deploy: every case FAILED with its reason: {}",
        figures.join(", ")
    );
}
