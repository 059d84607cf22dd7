//! Amazon Web Services, knowing nothing of the API: the SDK's HTTP client, Secrets Manager and
//! SNS (text messages).

pub(crate) mod sdk_http;
pub mod secrets_manager;
pub mod sns;
