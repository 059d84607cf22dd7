//! The custom resource: Create and Update migrate and report SUCCESS to the response URL, Delete
//! touches nothing, every failure is answered FAILED with its reason within the bound, and an
//! event whose response URL is not S3's gets nothing.

use api_tests::{count, test_app, TestDb};
use migrate::Migrator;

use crate::{custom_resource_event, migrator, response_url_server, send};

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
