//! Rotation of the token signing key by Secrets Manager: the four steps of a rotation function
//! (<https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotate-secrets_lambda-functions.html>).
//!
//! The key exists nowhere but in the secret, so there is nothing to set elsewhere: `createSecret`
//! puts a new random key as the `AWSPENDING` version, `testSecret` checks it signs and verifies a
//! token, and `finishSecret` makes it `AWSCURRENT` (Secrets Manager then labels the old one
//! `AWSPREVIOUS`, with which instances keep verifying the tokens it signed until they expire).
//! Every step may be retried by Secrets Manager, so each one is idempotent.

use std::time::Duration;

use aws_sdk_secretsmanager::Client;
use base64::Engine;
use serde::Deserialize;

use crate::auth::token::MIN_SECRET_KEY_BYTES;

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

/// Random bytes of a new key; its base64url text (64 characters) is the key.
const NEW_KEY_BYTES: usize = 48;

/// A new signing key: 384 random bits from the operating system.
pub fn generate_key() -> Result<String, RotationError> {
    let mut bytes = [0u8; NEW_KEY_BYTES];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| RotationError::Refused("the system's random generator failed".into()))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// Runs one step of a rotation.
pub async fn rotate(client: &Client, event: &RotationEvent) -> Result<(), RotationError> {
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
        "createSecret" => create(client, secret, token).await,
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

async fn create(client: &Client, secret: &str, token: &str) -> Result<(), RotationError> {
    // The current version must exist: a rotation starts from a working key.
    client
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
    client
        .put_secret_value()
        .secret_id(secret)
        .client_request_token(token)
        .secret_string(generate_key()?)
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
    if key.len() < MIN_SECRET_KEY_BYTES {
        return Err(RotationError::Refused(format!(
            "the pending key is shorter than {MIN_SECRET_KEY_BYTES} bytes"
        )));
    }
    let keys = crate::auth::token::TokenKeys::new(key.as_bytes(), Duration::from_secs(60));
    let now = chrono::Utc::now();
    let issued = keys
        .issue(1, 2, now, now + Duration::from_secs(60))
        .map_err(|e| RotationError::Refused(format!("the pending key cannot sign: {e}")))?;
    keys.verify(&issued.token, now).await.map_err(|_| {
        RotationError::Refused("the pending key cannot verify its own token".into())
    })?;
    Ok(())
}
