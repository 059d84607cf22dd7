//! Rotation of the token signing key by Secrets Manager: the four steps of a rotation function
//! (<https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotate-secrets_lambda-functions.html>).
//!
//! The key exists nowhere but in the secret, so there is nothing to set elsewhere: `createSecret`
//! puts a new RSA key (PKCS#8 PEM, from the generator the rotation function brings: no other
//! function links one) as the `AWSPENDING` version, `testSecret` checks it signs and verifies a
//! token, and `finishSecret` makes it `AWSCURRENT` (Secrets Manager then labels the old one
//! `AWSPREVIOUS`, with which instances keep verifying the tokens it signed until they expire).
//! Instances publish the new key in the JWKS as soon as they read it, and sign with it only once
//! it has been published for the JWKS's cache time (see [`crate::auth::key_ring`]). A rotation
//! is refused while the current key is younger than that time plus a token's lifetime: it would
//! push out the previous key while tokens it signed may still be live.
//! Every step may be retried by Secrets Manager, so each one is idempotent.

use std::time::Duration;

use aws_sdk_secretsmanager::Client;
use serde::Deserialize;

use crate::auth::key_ring::KeyVersion;
use crate::auth::signing_key::{is_pem, RsaKey};
use crate::auth::token::TokenKeys;

/// What Secrets Manager sends the rotation function.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RotationEvent {
    pub step: String,
    pub secret_id: String,
    pub client_request_token: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    #[error("Secrets Manager refused {operation}: {message}")]
    SecretsManager {
        operation: &'static str,
        message: String,
    },
    #[error("{0}")]
    Refused(String),
}

fn sdk<E, R>(
    operation: &'static str,
) -> impl FnOnce(aws_sdk_secretsmanager::error::SdkError<E, R>) -> RotationError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    move |error| RotationError::SecretsManager {
        operation,
        message: aws_sdk_secretsmanager::error::DisplayErrorContext(&error).to_string(),
    }
}

/// How the rotation function rotates: what makes a new key, and how old the current key must be
/// before it may be replaced.
pub struct RotationPolicy {
    /// A new RSA private key of at least 2048 bits, in PKCS#8 PEM.
    pub generate: fn() -> Result<String, String>,
    /// The publication delay plus a token's lifetime: the previous key stays published (as
    /// `AWSPREVIOUS`) until the last token it signed has expired.
    pub min_current_age: Duration,
}

/// Runs one step of a rotation.
pub async fn rotate(
    client: &Client,
    policy: &RotationPolicy,
    event: &RotationEvent,
) -> Result<(), RotationError> {
    let secret = &event.secret_id;
    let token = &event.client_request_token;
    let metadata = client
        .describe_secret()
        .secret_id(secret)
        .send()
        .await
        .map_err(sdk("DescribeSecret"))?;
    if !metadata.rotation_enabled().unwrap_or(false) {
        return Err(RotationError::Refused(format!(
            "rotation is not enabled on {secret}"
        )));
    }
    let versions = metadata
        .version_ids_to_stages()
        .cloned()
        .unwrap_or_default();
    let Some(stages) = versions.get(token) else {
        return Err(RotationError::Refused(format!(
            "{token} is not a version of {secret}"
        )));
    };
    if stages.iter().any(|s| s == "AWSCURRENT") {
        tracing::info!(step = %event.step, "this version is AWSCURRENT already: nothing to do");
        return Ok(());
    }
    if !stages.iter().any(|s| s == "AWSPENDING") {
        return Err(RotationError::Refused(format!(
            "version {token} of {secret} is not AWSPENDING"
        )));
    }
    match event.step.as_str() {
        "createSecret" => create(client, policy, secret, token).await,
        // The key lives only in the secret: no database or service to tell.
        "setSecret" => Ok(()),
        "testSecret" => test(client, secret, token).await,
        "finishSecret" => {
            let current = versions
                .iter()
                .find(|(_, stages)| stages.iter().any(|s| s == "AWSCURRENT"))
                .map(|(id, _)| id.clone());
            client
                .update_secret_version_stage()
                .secret_id(secret)
                .version_stage("AWSCURRENT")
                .move_to_version_id(token)
                .set_remove_from_version_id(current)
                .send()
                .await
                .map_err(sdk("UpdateSecretVersionStage"))?;
            // The rotation is over: no version stays pending (the next rotation starts clean).
            client
                .update_secret_version_stage()
                .secret_id(secret)
                .version_stage("AWSPENDING")
                .remove_from_version_id(token)
                .send()
                .await
                .map_err(sdk("UpdateSecretVersionStage"))?;
            tracing::info!("the new signing key is AWSCURRENT; the old one is AWSPREVIOUS");
            Ok(())
        }
        other => Err(RotationError::Refused(format!("unknown step {other:?}"))),
    }
}

async fn pending(
    client: &Client,
    secret: &str,
    token: &str,
) -> Result<Option<String>, RotationError> {
    match client
        .get_secret_value()
        .secret_id(secret)
        .version_id(token)
        .version_stage("AWSPENDING")
        .send()
        .await
    {
        Ok(output) => Ok(output.secret_string().map(str::to_owned)),
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(error) => Err(sdk("GetSecretValue")(error)),
    }
}

async fn create(
    client: &Client,
    policy: &RotationPolicy,
    secret: &str,
    token: &str,
) -> Result<(), RotationError> {
    // The current version must exist: a rotation starts from a working key.
    let current = client
        .get_secret_value()
        .secret_id(secret)
        .version_stage("AWSCURRENT")
        .send()
        .await
        .map_err(sdk("GetSecretValue"))?;
    if pending(client, secret, token).await?.is_some() {
        tracing::info!("createSecret: the pending key exists already");
        return Ok(());
    }
    // An HS256 key (before the switch) is never published: replacing it at once loses nothing.
    let current_is_rsa = current.secret_string().is_some_and(is_pem);
    let age = current.created_date().map(|created| {
        let now = aws_smithy_types::DateTime::from(std::time::SystemTime::now());
        Duration::from_secs(now.secs().saturating_sub(created.secs()).max(0) as u64)
    });
    if current_is_rsa && age.is_some_and(|age| age < policy.min_current_age) {
        return Err(RotationError::Refused(format!(
            "the current key is younger than {:?}: tokens of the previous key may still be live",
            policy.min_current_age
        )));
    }
    let pem = (policy.generate)().map_err(RotationError::Refused)?;
    client
        .put_secret_value()
        .secret_id(secret)
        .client_request_token(token)
        .secret_string(pem)
        .version_stages("AWSPENDING")
        .send()
        .await
        .map_err(sdk("PutSecretValue"))?;
    tracing::info!("createSecret: a new key is AWSPENDING");
    Ok(())
}

async fn test(client: &Client, secret: &str, token: &str) -> Result<(), RotationError> {
    let key = pending(client, secret, token)
        .await?
        .ok_or_else(|| RotationError::Refused(format!("{secret} has no pending key {token}")))?;
    RsaKey::from_pem(&key)
        .map_err(|e| RotationError::Refused(format!("the pending key is not usable: {e}")))?;
    let keys = TokenKeys::new(&[KeyVersion::given(&key)], Duration::from_secs(60))
        .map_err(RotationError::Refused)?
        .with_issuer("https://rotation.test.invalid");
    let now = chrono::Utc::now();
    let issued = keys
        .issue(
            1,
            2,
            "rotation-test-session",
            now,
            now + Duration::from_secs(60),
        )
        .map_err(|e| RotationError::Refused(format!("the pending key cannot sign: {e}")))?;
    keys.verify(&issued.token, now).await.map_err(|_| {
        RotationError::Refused("the pending key cannot verify its own token".into())
    })?;
    Ok(())
}
