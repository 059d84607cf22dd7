//! Invoked by Secrets Manager, never by HTTP: one step of a rotation of the signing-key secret
//! (see `shared::auth::key_rotation`). A failed step is an error, so Secrets Manager retries it and
//! the rotation stays pending (instances keep verifying with the current key meanwhile).

use std::time::Duration;

use lambda_runtime::LambdaEvent;
use serde_json::{json, Value};
use shared::auth::key_rotation::{rotate, RotationEvent, RotationPolicy};

/// Bits of a new key: the contract's minimum, and what the JWT authorizer and every common
/// library verify.
pub const KEY_BITS: usize = 2048;

/// A new RSA private key in PKCS#8 PEM, from the operating system's random generator.
pub fn generate_rsa_pem() -> Result<String, String> {
    use rsa::pkcs8::{EncodePrivateKey, LineEnding};
    let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, KEY_BITS)
        .map_err(|error| format!("generating an RSA key failed: {error}"))?;
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|error| format!("encoding the RSA key failed: {error}"))?;
    Ok(pem.as_str().to_owned())
}

/// The policy of the deployed function: the current key is replaced only once the tokens of the
/// previous one have expired (its publication delay plus a token's lifetime, from the same
/// variables the API's functions read).
pub fn policy_from_environment() -> RotationPolicy {
    let seconds = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|value| value.trim().parse::<u64>().ok())
            .unwrap_or(default)
    };
    let publish = seconds(
        "SIGNING_KEY_PUBLISH_SECONDS",
        shared::auth::token::DEFAULT_PUBLISH_DELAY.as_secs(),
    );
    let ttl = seconds(
        "TOKEN_TTL_SECONDS",
        shared::app::config::DEFAULT_TOKEN_TTL_SECONDS,
    );
    RotationPolicy {
        generate: generate_rsa_pem,
        min_current_age: Duration::from_secs(publish + ttl),
    }
}

pub async fn handler(
    client: &aws_sdk_secretsmanager::Client,
    policy: &RotationPolicy,
    event: LambdaEvent<Value>,
) -> Result<Value, lambda_runtime::Error> {
    let event: RotationEvent = serde_json::from_value(event.payload)?;
    tracing::info!(step = %event.step, secret = %event.secret_id, "rotation step");
    rotate(client, policy, &event).await.map_err(|error| {
        tracing::error!(step = %event.step, %error, "rotation step failed");
        error
    })?;
    Ok(json!({ "step": event.step, "done": true }))
}
