//! Amazon Web Services, knowing nothing of the API: the SDK's HTTP client and Secrets Manager.

pub(crate) mod sdk_http;
pub mod secrets_manager;
