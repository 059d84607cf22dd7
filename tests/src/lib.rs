//! Test support, by purpose: a fresh database per test ([`databases`]), apps configured for tests
//! ([`app`]), real API Gateway events and the answers read back ([`events`]), users and signed-in
//! fixtures ([`fixtures`]), the routes each place declares ([`routes`]), the texts an app sent to
//! its outbox file ([`texts`]), tokens made by hand ([`tokens`]); and the heavier machinery some
//! binaries need: private MariaDB servers, moto, the served API, round-trip counting, TLS.

pub mod app;
pub mod databases;
pub mod events;
pub mod fixtures;
pub mod mariadb;
pub mod moto;
pub mod round_trips;
pub mod routes;
pub mod serve;
pub mod texts;
pub mod tls;
pub mod tokens;

pub use app::{
    app_for_url, app_with, db_proxy, signing_key_fragment, test_app, test_app_with, test_env,
    test_env_for, test_signing_key, HS256_DEPLOYMENT, TEST_SECRET,
};
pub use databases::{run_prefix, server_url, TestDb};
pub use events::{Answer, Event};
pub use fixtures::{
    admin_patch, count, fixture, insert_user, jti_of, login, login_from, token, Fixture,
    ADMIN_CELL, ADMIN_PASS, USER_CELL, USER_PASS,
};
pub use routes::{template_routes, watch_fallbacks, watch_routes};
