//! Everything the Lambda functions share: configuration, the MySQL pool, password hashing, tokens,
//! the role policy, the user store and the one error type that maps to HTTP.
//!
//! Only [`http`] knows about `lambda_http`; every other module is plain domain logic that can be
//! tested without AWS.

pub mod admin;
pub mod app;
pub mod app_user;
pub mod auth;
pub mod config;
pub mod db;
pub mod error;
pub mod http;
pub mod key_ring;
pub mod key_rotation;
pub mod logging;
pub mod openapi;
pub mod password;
pub mod policy;
pub mod pool;
mod sdk_http;
pub mod secrets;
mod sockets;
pub mod token;
pub mod users;
pub mod validation;

pub use app::App;
pub use config::Config;
pub use error::ApiError;
