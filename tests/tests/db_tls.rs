//! TLS to the database against private MariaDB servers with certificates made by the test:
//! `DB_TLS=on` with `DB_TLS_CA` connects and verifies; a certificate from another CA, a
//! certificate for another name and a server without TLS are all refused (a 503, nothing
//! written), never answered by a silent fall back to plain text.

use api_tests::mariadb::PrivateMariaDb;
use api_tests::tls::{CertDir, TestCa};
use api_tests::{app_with, count, insert_user, login, USER_CELL, USER_PASS};
use mysql_async::prelude::Queryable;
use shared::app::config::{DatabaseTls, TrustedCa};
use shared::App;

const DATABASE: &str = "users_tls";
/// What the server certificate of a database at 127.0.0.1 names.
const LOOPBACK_NAMES: &[&str] = &["IP:127.0.0.1", "DNS:localhost"];

/// A private server presenting `certificate`'s chain, with a migrated database.
async fn tls_server(certs: &CertDir, ca: &TestCa, names: &[&str]) -> PrivateMariaDb {
    let options = certs.server(ca, "server", names).server_options();
    let options: Vec<&str> = options.iter().map(String::as_str).collect();
    let server = PrivateMariaDb::start_with(&options).await;
    // The migrations over plain TCP (the server allows it): the refusals below must be the
    // client's doing, not a database that is missing.
    shared::db::prepare(&server.database_url(DATABASE), DatabaseTls::Off)
        .await
        .unwrap();
    server
}

/// An instance with `DB_TLS=on`, trusting `ca` only.
fn trusting(url: &str, ca: &TestCa) -> App {
    app_with(
        url,
        &[("DB_TLS", "on"), ("DB_TLS_CA", ca.certificate_path())],
    )
}

/// The cipher of the session the instance's own pool hands out (empty over plain TCP).
async fn session_cipher(app: &App) -> String {
    let mut conn = app.pool.get_conn().await.unwrap();
    let row: Option<(String, String)> = conn
        .query_first("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
        .await
        .unwrap();
    row.unwrap().1
}

/// A login refused because the instance cannot reach the database it trusts: a 503 without
/// detail of the cause, and no session written. Returns the connection error, for its cause.
async fn refused(app: &App, url: &str) -> String {
    let plain = app_with(url, &[]);
    insert_user(&plain, 2, USER_CELL, USER_PASS).await;
    login(app, USER_CELL, USER_PASS).await.assert_error(503);
    assert_eq!(count(&plain, "SELECT COUNT(*) FROM session").await, 0);
    let error = app
        .pool
        .get_conn()
        .await
        .expect_err("the connection is refused");
    format!("{error:?}")
}

#[tokio::test]
async fn with_the_private_ca_trusted_a_login_runs_over_a_verified_tls_session() {
    let certs = CertDir::new();
    let ca = certs.ca("private");
    let server = tls_server(&certs, &ca, LOOPBACK_NAMES).await;
    let url = server.database_url(DATABASE);

    // The migrations connect the same way (the CLI and the migrate function use this path).
    let trusted = DatabaseTls::PrivateCa(TrustedCa::read(ca.certificate_path()).unwrap());
    assert_eq!(shared::db::prepare(&url, trusted).await.unwrap(), 0);

    let app = trusting(&url, &ca);
    insert_user(&app, 2, USER_CELL, USER_PASS).await;
    let answer = login(&app, USER_CELL, USER_PASS).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(answer.body["token"].is_string());
    let cipher = session_cipher(&app).await;
    assert!(!cipher.is_empty(), "the instance's session is not TLS");

    // The same server by name: the certificate names localhost too.
    let by_name = trusting(&url.replace("127.0.0.1", "localhost"), &ca);
    assert!(!session_cipher(&by_name).await.is_empty());

    // DB_TLS=on without the CA trusts the public roots only, which never signed this server.
    let public_roots = app_with(&url, &[("DB_TLS", "on")]);
    let error = format!("{:?}", public_roots.pool.get_conn().await.unwrap_err());
    assert!(error.contains("UnknownIssuer"), "{error}");

    // DB_TLS=off still speaks plain TCP to a server that offers TLS (and the check above would
    // see it).
    let plain = app_with(&url, &[("DB_TLS", "off")]);
    assert_eq!(login(&plain, USER_CELL, USER_PASS).await.status, 200);
    assert_eq!(session_cipher(&plain).await, "");
}

#[tokio::test]
async fn a_server_certificate_from_another_ca_is_refused() {
    let certs = CertDir::new();
    let trusted = certs.ca("trusted");
    let impostor = certs.ca("impostor");
    // The same names, from a CA the instance was not told to trust.
    let server = tls_server(&certs, &impostor, LOOPBACK_NAMES).await;
    let url = server.database_url(DATABASE);
    let error = refused(&trusting(&url, &trusted), &url).await;
    assert!(error.contains("UnknownIssuer"), "{error}");
}

#[tokio::test]
async fn a_server_certificate_for_another_name_is_refused() {
    let certs = CertDir::new();
    let ca = certs.ca("private");
    // The trusted CA, but a certificate for another host: not the address the URL names.
    let server = tls_server(&certs, &ca, &["DNS:db.internal.example"]).await;
    let url = server.database_url(DATABASE);
    let error = refused(&trusting(&url, &ca), &url).await;
    assert!(error.contains("NotValidForName"), "{error}");
}

#[tokio::test]
async fn a_server_without_tls_is_refused_before_the_credentials_are_sent() {
    let certs = CertDir::new();
    let ca = certs.ca("private");
    let server = PrivateMariaDb::start().await;
    let url = server.database_url(DATABASE);
    shared::db::prepare(&url, DatabaseTls::Off).await.unwrap();
    // The driver checks the server's greeting for TLS before it answers with the user and the
    // password: without it, it stops there (no plain-text login, no fall back).
    let error = refused(&trusting(&url, &ca), &url).await;
    assert!(error.contains("NoClientSslFlagFromServer"), "{error}");
    let public_roots = app_with(&url, &[("DB_TLS", "on")]);
    let error = format!("{:?}", public_roots.pool.get_conn().await.unwrap_err());
    assert!(error.contains("NoClientSslFlagFromServer"), "{error}");
}
