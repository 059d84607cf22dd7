//! Everything the Lambda functions share: configuration, the MySQL pool, password hashing, tokens,
//! the role policy, the user store and the one error type that maps to HTTP.
//!
//! Only [`http`] knows about `lambda_http`; every other module is plain domain logic that can be
//! tested without AWS.

pub mod admin;
pub mod app;
pub mod app_user;
pub mod audit;
pub mod auth;
pub mod config;
pub mod credentials;
pub mod db;
pub mod error;
pub mod http;
pub mod key_ring;
pub mod key_rotation;
mod last_admin;
pub mod logging;
pub mod openapi;
pub mod password;
pub mod policy;
pub mod pool;
pub mod routes;
mod sdk_http;
pub mod secrets;
pub mod secure_random;
pub mod session_charset;
pub mod sessions;
mod sockets;
pub mod source_ip;
pub mod sql_batch;
pub mod statements;
pub mod throttle;
pub mod token;
pub mod user;
pub mod user_search;
mod user_updates;
pub mod users;
pub mod validation;

pub use app::App;
pub use config::Config;
pub use error::ApiError;
