//! Everything the Lambda functions share, by concern. The modules depend on one another in one
//! direction only, each on those after it in this order: `http`, `sms`, `users`, `mfa`,
//! `sessions`, `audit`, `app`, `texts`, `auth`, then `paging`, `error`, `db`, `aws` and `secret`.
//! So nothing imports `http` (the only `lambda_http` code), no two modules import each other, and
//! `db`, `aws` and `texts` know no table or rule of the API (docs/architecture.md;
//! `scripts/module-deps` checks it).

/// What a function builds once per cold start: configuration, secrets, logging, the [`App`].
pub mod app;
/// The audit log: typed events, written with the change, read by admins.
pub mod audit;
/// Who is calling and what they may do: tokens, signing keys, passwords, the throttle, roles.
pub mod auth;
/// Amazon Web Services, knowing no rule of the API: the SDK's HTTP client, Secrets Manager.
pub mod aws;
/// MySQL, knowing no table of the API: the pool, statements in both modes, batches, errors, TLS,
/// the app's database account, migrations.
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
/// Recovery and sign-up by a one-time code sent by text, with the tries and the SMS bill bounded.
pub mod sms;
/// Where a text goes, knowing no rule of the API: Amazon SNS, or a local outbox file.
pub mod texts;
/// Users: the rules of creating, changing, finding and deleting them, login and passwords.
pub mod users;

pub use app::config::Config;
pub use app::App;
pub use error::ApiError;
