//! Amazon SNS, as Lambda reaches it: a lean client, and one text message published straight to a
//! phone number as a transactional SMS. What is sent, to whom and how often is the caller's.
//!
//! The errors never hold the message (it may hold a one-time code) nor what SNS says about the
//! request (its messages may quote the phone number): the error's code and request id are
//! enough to look it up.

use std::time::Duration;

use aws_sdk_sns::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sns::operation::RequestId;

/// The message attribute that makes a text transactional: delivered with priority, also to
/// numbers that refuse promotional texts, at the transactional price.
const SMS_TYPE_ATTRIBUTE: &str = "AWS.SNS.SMS.SMSType";

/// A text goes out within a request, so it is bounded well under the function's timeout: the
/// connection in 1 s, each attempt in 2 s, the whole publish (one retry included) in 3 s.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
pub const PUBLISH_TIMEOUT: Duration = Duration::from_secs(3);
/// One retry at most: a connection refused or a throttled request is worth a second try, but a
/// publish whose answer was lost may have gone out, and every retry of it is another text paid.
const MAX_ATTEMPTS: u32 = 2;

#[derive(Debug, thiserror::Error)]
pub enum SnsError {
    #[error("setting up TLS for SNS failed: {0}")]
    Tls(rustls::Error),
    #[error("SNS did not answer within {PUBLISH_TIMEOUT:?}")]
    Timeout,
    #[error("SNS could not be reached: {0}")]
    Unreachable(String),
    #[error("SNS throttled the publish ({code}, request id {request_id})")]
    Throttled { code: String, request_id: String },
    #[error("SNS refused the publish ({code}, request id {request_id})")]
    Refused { code: String, request_id: String },
    #[error("SNS's answer could not be read (request id {request_id})")]
    Response { request_id: String },
    #[error("the publish request could not be built")]
    Request,
}

/// An SNS client configured from the environment the way Lambda provides it: region and the
/// role's credentials in variables, and `AWS_ENDPOINT_URL` when set (tests); HTTP is
/// [`super::sdk_http`]'s (see [`super::secrets_manager::client`] for why not aws-config's
/// default chain).
pub async fn client() -> Result<aws_sdk_sns::Client, SnsError> {
    use aws_config::environment::{
        EnvironmentVariableCredentialsProvider, EnvironmentVariableRegionProvider,
    };
    use aws_config::meta::region::ProvideRegion;
    use aws_sdk_sns::config::retry::RetryConfig;
    use aws_sdk_sns::config::timeout::TimeoutConfig;
    let http_client = super::sdk_http::client().map_err(SnsError::Tls)?;
    let mut config = aws_sdk_sns::Config::builder()
        .behavior_version(aws_sdk_sns::config::BehaviorVersion::latest())
        .region(EnvironmentVariableRegionProvider::new().region().await)
        .credentials_provider(EnvironmentVariableCredentialsProvider::new())
        .http_client(http_client)
        .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .operation_timeout(PUBLISH_TIMEOUT)
                .build(),
        );
    if let Some(endpoint) = std::env::var("AWS_ENDPOINT_URL")
        .ok()
        .filter(|url| !url.is_empty())
    {
        config = config.endpoint_url(endpoint);
    }
    Ok(aws_sdk_sns::Client::from_conf(config.build()))
}

/// Publishes `message` to the E.164 `phone_number` as one transactional SMS; answers SNS's
/// message id.
pub async fn publish_sms(
    client: &aws_sdk_sns::Client,
    phone_number: &str,
    message: &str,
) -> Result<String, SnsError> {
    let transactional = aws_sdk_sns::types::MessageAttributeValue::builder()
        .data_type("String")
        .string_value("Transactional")
        .build()
        .map_err(|_| SnsError::Request)?;
    let output = client
        .publish()
        .phone_number(phone_number)
        .message(message)
        .message_attributes(SMS_TYPE_ATTRIBUTE, transactional)
        .send()
        .await
        .map_err(publish_error)?;
    Ok(output.message_id().unwrap_or_default().to_owned())
}

fn publish_error<E, R>(error: SdkError<E, R>) -> SnsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
    SdkError<E, R>: RequestId,
{
    let request_id = error.request_id().unwrap_or("none").to_owned();
    match error {
        SdkError::TimeoutError(_) => SnsError::Timeout,
        SdkError::DispatchFailure(failure) if failure.is_timeout() => SnsError::Timeout,
        // What the connection says (refused, reset, TLS): it knows nothing of the message.
        SdkError::DispatchFailure(failure) => SnsError::Unreachable(
            failure
                .as_connector_error()
                .map(|connector| error_chain(connector))
                .unwrap_or_else(|| "dispatch failure".to_owned()),
        ),
        SdkError::ServiceError(context) => {
            let code = context.err().code().unwrap_or("unknown").to_owned();
            if is_throttling(&code) {
                SnsError::Throttled { code, request_id }
            } else {
                SnsError::Refused { code, request_id }
            }
        }
        SdkError::ResponseError(_) => SnsError::Response { request_id },
        _ => SnsError::Request,
    }
}

/// `io error: Connection refused (os error 111)`: the error and its sources, on one line.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}

fn is_throttling(code: &str) -> bool {
    matches!(
        code,
        "Throttling" | "ThrottlingException" | "ThrottledException" | "KMSThrottling"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_codes_are_told_apart_from_refusals() {
        assert!(is_throttling("Throttling"));
        assert!(is_throttling("ThrottledException"));
        assert!(!is_throttling("InvalidParameter"));
        assert!(!is_throttling("AuthorizationError"));
    }
}
