//! Apps as a function instance builds them, configured for tests (quick bcrypt, a known RSA
//! signing key, the run's statement mode), on a test database or on any server.

use std::sync::OnceLock;

use shared::app::config::Config;
use shared::App;

use crate::TestDb;

/// The HS256 key of a deployment from before RS256 ([`HS256_DEPLOYMENT`]); the suite's apps do
/// not have it, so a token HMAC'd with it is a forgery to them.
pub const TEST_SECRET: &str = "test-secret-key-0123456789abcdef-0123456789";

/// The RSA key (PKCS#8 PEM) every test app signs with, as `SIGNING_KEY`: made once per test
/// process, since making RSA keys is slow, and the same for every app and served function of it.
pub fn test_signing_key() -> &'static str {
    static KEY: OnceLock<String> = OnceLock::new();
    KEY.get_or_init(crate::tls::rsa_private_key_pem)
}

/// A line from the middle of [`test_signing_key`]'s PEM, inside its private part: text that must
/// never appear in an answer or a log.
pub fn signing_key_fragment() -> &'static str {
    let lines: Vec<&'static str> = test_signing_key().lines().collect();
    lines[lines.len() / 2]
}

/// Overrides that make a test app a deployment from before RS256: no `SIGNING_KEY`, and
/// `SECRET_KEY` signing HS256.
pub const HS256_DEPLOYMENT: [(&str, &str); 2] = [("SIGNING_KEY", ""), ("SECRET_KEY", TEST_SECRET)];

/// The environment a test app (or a served function) runs with: cost-4 bcrypt keeps tests quick.
pub fn test_env(db: &TestDb) -> Vec<(&'static str, String)> {
    test_env_for(&db.url)
}

/// The statement mode the suite runs in: `DB_PROXY` of the test run (`make test` runs the
/// handler and HTTP tests once in each mode), off when unset.
pub fn db_proxy() -> String {
    std::env::var("DB_PROXY").unwrap_or_else(|_| "off".to_owned())
}

/// [`test_env`] for a database on any server.
pub fn test_env_for(database_url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("DB_PROXY", db_proxy()),
        ("DATABASE_URL", database_url.to_owned()),
        ("SIGNING_KEY", test_signing_key().to_owned()),
        ("BCRYPT_COST", "4".to_owned()),
        ("TOKEN_TTL_SECONDS", "3600".to_owned()),
        ("LOGIN_MAX_FAILURES", "5".to_owned()),
        ("LOGIN_WINDOW_SECONDS", "900".to_owned()),
    ]
}

/// An app (as a separate function instance would have) on the database at `url`.
pub fn app_for_url(url: &str) -> App {
    let url = url.to_owned();
    let config = Config::from_lookup(|name| match name {
        "DATABASE_URL" => Some(url.clone()),
        "SIGNING_KEY" => Some(test_signing_key().to_owned()),
        "BCRYPT_COST" => Some("4".to_owned()),
        "DB_PROXY" => Some(db_proxy()),
        _ => None,
    })
    .expect("test configuration is valid");
    App::new(config).expect("test app builds")
}

pub fn test_app(db: &TestDb) -> App {
    test_app_with(db, &[])
}

pub fn test_app_with(db: &TestDb, overrides: &[(&'static str, &str)]) -> App {
    app_with(&db.url, overrides)
}

/// [`test_app_with`] for a database on any server.
pub fn app_with(database_url: &str, overrides: &[(&'static str, &str)]) -> App {
    let mut env = test_env_for(database_url);
    for (name, value) in overrides {
        env.retain(|(existing, _)| existing != name);
        env.push((name, value.to_string()));
    }
    let config = Config::from_lookup(|name| {
        env.iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.clone())
    })
    .expect("test configuration is valid");
    App::new(config).expect("test app builds")
}
