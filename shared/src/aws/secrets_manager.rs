//! Secrets Manager, as Lambda reaches it: a lean client, and one secret version's string.

#[derive(Debug, thiserror::Error)]
pub enum SecretsManagerError {
    #[error("reading secret {arn} from Secrets Manager failed: {message}")]
    Fetch { arn: String, message: String },
    #[error("secret {arn} has no version labelled {stage}")]
    NoSuchVersion { arn: String, stage: String },
    #[error("secret {arn} has no string value")]
    NoString { arn: String },
    #[error("setting up TLS for Secrets Manager failed: {0}")]
    Tls(rustls::Error),
}

/// A Secrets Manager client configured from the environment the way Lambda provides it: region
/// and the role's credentials in variables (`AWS_REGION`, `AWS_ACCESS_KEY_ID`, ...), and
/// `AWS_ENDPOINT_URL` when set (tests). aws-config's default chain would also link its profile,
/// SSO, STS, ECS and IMDS providers, none of which Lambda uses (~0.3 MB per function). HTTP is
/// [`super::sdk_http`]'s.
pub async fn client() -> Result<aws_sdk_secretsmanager::Client, SecretsManagerError> {
    use aws_config::environment::{
        EnvironmentVariableCredentialsProvider, EnvironmentVariableRegionProvider,
    };
    use aws_config::meta::region::ProvideRegion;
    use aws_sdk_secretsmanager::config::timeout::TimeoutConfig;
    let http_client = super::sdk_http::client().map_err(SecretsManagerError::Tls)?;
    let mut config = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(aws_sdk_secretsmanager::config::BehaviorVersion::latest())
        .region(EnvironmentVariableRegionProvider::new().region().await)
        .credentials_provider(EnvironmentVariableCredentialsProvider::new())
        .http_client(http_client)
        // A cold start that cannot reach Secrets Manager fails in seconds, not at the
        // function's timeout.
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(std::time::Duration::from_secs(2))
                .operation_attempt_timeout(std::time::Duration::from_secs(3))
                .build(),
        );
    if let Some(endpoint) = std::env::var("AWS_ENDPOINT_URL")
        .ok()
        .filter(|url| !url.is_empty())
    {
        config = config.endpoint_url(endpoint);
    }
    Ok(aws_sdk_secretsmanager::Client::from_conf(config.build()))
}

/// One version of a secret: its string, and when it was made.
pub struct SecretVersion {
    pub text: String,
    pub created: Option<chrono::DateTime<chrono::Utc>>,
}

/// The string value of `arn` at `stage` (`AWSCURRENT` when `None`).
pub async fn fetch(
    client: &aws_sdk_secretsmanager::Client,
    arn: &str,
    stage: Option<&str>,
) -> Result<String, SecretsManagerError> {
    Ok(fetch_version(client, arn, stage).await?.text)
}

/// [`fetch`] with the version's creation time.
pub async fn fetch_version(
    client: &aws_sdk_secretsmanager::Client,
    arn: &str,
    stage: Option<&str>,
) -> Result<SecretVersion, SecretsManagerError> {
    let output = client
        .get_secret_value()
        .secret_id(arn)
        // Named even when it is the default: the version AWSCURRENT labels is what is wanted,
        // and some stand-ins (moto) answer the version they created first otherwise.
        .version_stage(stage.unwrap_or("AWSCURRENT"))
        .send()
        .await
        .map_err(|error| {
            let not_found = error
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception());
            match stage {
                Some(stage) if not_found => SecretsManagerError::NoSuchVersion {
                    arn: arn.to_owned(),
                    stage: stage.to_owned(),
                },
                _ => SecretsManagerError::Fetch {
                    arn: arn.to_owned(),
                    message: aws_sdk_secretsmanager::error::DisplayErrorContext(&error).to_string(),
                },
            }
        })?;
    let text = output
        .secret_string()
        .ok_or_else(|| SecretsManagerError::NoString {
            arn: arn.to_owned(),
        })?;
    let created = output
        .created_date()
        .and_then(|at| chrono::DateTime::from_timestamp(at.secs(), at.subsec_nanos()));
    Ok(SecretVersion {
        text: text.to_owned(),
        created,
    })
}
