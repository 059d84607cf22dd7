//! Invoked by Secrets Manager, never by HTTP: one step of a rotation of the signing-key secret
//! (see `shared::auth::key_rotation`). A failed step is an error, so Secrets Manager retries it and
//! the rotation stays pending (instances keep verifying with the current key meanwhile).

use lambda_runtime::LambdaEvent;
use serde_json::{json, Value};
use shared::auth::key_rotation::{rotate, RotationEvent};

pub async fn handler(
    client: &aws_sdk_secretsmanager::Client,
    event: LambdaEvent<Value>,
) -> Result<Value, lambda_runtime::Error> {
    let event: RotationEvent = serde_json::from_value(event.payload)?;
    tracing::info!(step = %event.step, secret = %event.secret_id, "rotation step");
    rotate(client, &event).await.map_err(|error| {
        tracing::error!(step = %event.step, %error, "rotation step failed");
        error
    })?;
    Ok(json!({ "step": event.step, "done": true }))
}
