//! Amazon Web Services, knowing nothing of the API: the SDK's HTTP client, and the rotation of a
//! Secrets Manager secret.

pub mod key_rotation;
pub(crate) mod sdk_http;
