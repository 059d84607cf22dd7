//! The AWS path of configuration, against a local Secrets Manager (moto): the functions read the
//! database credentials and the signing key from secrets at cold start, and work with them.
//!
//! One test per binary, since it sets the process environment the way Lambda does.

use api_tests::moto::Moto;
use api_tests::{insert_user, test_app, TestDb};
use mysql_async::prelude::Queryable;

#[tokio::test]
async fn functions_read_their_secrets_from_secrets_manager_at_cold_start() {
    let moto = Moto::start();
    let db = TestDb::new().await;
    let setup = test_app(&db);
    let admin_id = insert_user(&setup, 1, "+15550000001", "admin-password-1").await;

    // A database user whose password needs escaping in a URL, as RDS-generated ones often do.
    let user = format!("{}_app", db.name);
    let password = "p@ss:w/rd%#?";
    let mut conn = setup.pool.get_conn().await.unwrap();
    conn.query_drop(format!(
        "CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'"
    ))
    .await
    .unwrap();
    conn.query_drop(format!(
        "GRANT ALL PRIVILEGES ON `{}`.* TO '{user}'@'%'",
        db.name
    ))
    .await
    .unwrap();
    drop(conn);

    // Lambda's environment: dummy credentials, the endpoint, and no secret values at all.
    let server = api_tests::server_url();
    let address = server.rsplit('@').next().unwrap();
    let (host, port) = address.split_once(':').unwrap_or((address, "3306"));
    for (name, value) in [
        ("AWS_ENDPOINT_URL", moto.endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "eu-west-1"),
        ("DB_HOST", host),
        ("DB_PORT", port),
        ("DB_NAME", db.name.as_str()),
        ("BCRYPT_COST", "4"),
    ] {
        // SAFETY: this binary has one test, and nothing else reads the environment meanwhile.
        unsafe { std::env::set_var(name, value) };
    }
    for name in ["DATABASE_URL", "SECRET_KEY", "SIGNING_KEY"] {
        // SAFETY: as above.
        unsafe { std::env::remove_var(name) };
    }

    let client = shared::app::secrets::client().await.unwrap();
    let db_secret = client
        .create_secret()
        .name("users-api/db")
        .secret_string(serde_json::json!({ "username": user, "password": password }).to_string())
        .send()
        .await
        .unwrap();
    let signing_key = api_tests::tls::rsa_private_key_pem();
    let jwt_secret = client
        .create_secret()
        .name("users-api/jwt")
        .secret_string(&signing_key)
        .send()
        .await
        .unwrap();
    // SAFETY: as above.
    unsafe {
        std::env::set_var("DB_SECRET_ARN", db_secret.arn().unwrap());
        std::env::set_var("JWT_SECRET_ARN", jwt_secret.arn().unwrap());
    }

    // A cold start: the function's App, from the environment and the two secrets.
    let app = shared::App::load()
        .await
        .expect("the app loads from Secrets Manager");
    assert!(app.config.database_url.expose().contains(&user));
    // Compared, never printed: it is a private key.
    assert!(
        app.config.signing_key.as_ref().map(|key| key.expose()) == Some(signing_key.trim()),
        "SIGNING_KEY is the secret's PEM"
    );
    assert!(app.config.secret_key.is_none());
    let session = api_tests::token(&app, "+15550000001", "admin-password-1").await;
    assert_eq!(app.tokens.jwks().len(), 1, "the secret's key is published");
    let me = api_tests::call!(
        get_me,
        &app,
        api_tests::Event::v2("get-me").bearer(&session)
    );
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.body["id"], admin_id);

    // The migrate function needs only the database secret.
    // SAFETY: as above.
    unsafe { std::env::remove_var("JWT_SECRET_ARN") };
    let database = shared::app::Database::load()
        .await
        .expect("the migrate function loads");
    assert_eq!(
        shared::db::migrate(&database.pool.current()).await.ok(),
        Some(0)
    );

    // A secret that cannot be read stops the cold start with an error naming it, not a panic.
    // SAFETY: as above.
    unsafe {
        std::env::set_var(
            "DB_SECRET_ARN",
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:missing",
        )
    };
    let error = shared::app::Database::load()
        .await
        .err()
        .expect("a missing secret fails the start");
    assert!(error.to_string().contains("secret:missing"), "{error}");

    let mut conn = setup.pool.get_conn().await.unwrap();
    conn.query_drop(format!("DROP USER '{user}'@'%'"))
        .await
        .unwrap();
}
