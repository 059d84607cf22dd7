//! Everything the Lambda functions share, by concern. The folders depend on one another in one
//! direction only, from the bottom of this list to the top: nothing imports `http`, and `db` and
//! `aws` know no table or rule of the API.

/// What a function builds once per cold start: configuration, secrets, logging, the [`App`].
pub mod app;
/// The audit log: typed events, written with the change, read by admins.
pub mod audit;
/// Who is calling and what they may do: tokens, signing keys, passwords, the throttle, roles.
pub mod auth;
/// Amazon Web Services: the SDK's HTTP client, secret rotation.
pub mod aws;
/// MySQL: the pool, statements in both modes, batches, the app's database account, migrations.
pub mod db;
/// The one error type of the API, and its status and detail.
pub mod error;
/// The HTTP glue, the only `lambda_http` code: request parsing, replies, the routes, OpenAPI.
pub mod http;
/// The second factor (TOTP): enrolment, the second step of login, recovery codes.
pub mod mfa;
/// Pages of a list and the query parameters every list shares.
pub mod paging;
/// A value that is never printed.
pub mod secret;
/// Sessions: grants, refresh-token rotation, every way a session ends.
pub mod sessions;
/// Users: the rules of creating, changing, finding and deleting them, login and passwords.
pub mod users;

pub use app::config::Config;
pub use app::App;
pub use error::ApiError;

// Old flat paths, kept while the move settles.
pub use app::{config, logging, secrets};
pub use auth::account as user;
pub use auth::key_rotation;
pub use auth::{key_ring, password, policy, random as secure_random, source_ip, throttle, token};
pub use db::{account as app_user, batch as sql_batch, errors as db_error, pool, statements};
pub use http::{openapi, routes};
pub use users::{credentials, first_admin as admin, search as user_search, validation};
