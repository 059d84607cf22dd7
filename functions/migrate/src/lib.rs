//! The `migrate` function. No HTTP route reaches it; it is invoked
//! - by CloudFormation, through the `SchemaMigrations` custom resource of `template.yaml`, on every
//!   deploy that changes it: Create and Update apply the migrations, Delete leaves the data alone;
//!   the outcome is PUT to the pre-signed URL CloudFormation gave;
//! - by an operator: `{"action": "migrate"}`, or `{"action": "bootstrap-admin", "cellnumber":
//!   "..."}` to create the first admin (with a generated password, returned once, unless one is
//!   given as `"password"`).

use std::sync::Arc;
use std::time::Duration;

use lambda_runtime::LambdaEvent;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use shared::app::Database;
use shared::users::{ensure_admin, AdminBootstrap};

/// The resource's id never changes, so an Update never makes CloudFormation delete "the old one".
pub const PHYSICAL_RESOURCE_ID: &str = "users-api-schema";
/// Leaves time to report a failure before the function's own timeout (60 s in the template).
const MIGRATION_TIMEOUT: Duration = Duration::from_secs(45);

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CustomResourceRequest {
    pub request_type: String,
    #[serde(rename = "ResponseURL")]
    pub response_url: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    #[serde(default)]
    pub physical_resource_id: Option<String>,
}

#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct CustomResourceResponse {
    pub status: &'static str,
    pub reason: String,
    pub physical_resource_id: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    pub data: Value,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Action {
    Migrate,
    BootstrapAdmin {
        cellnumber: String,
        #[serde(default)]
        password: Option<String>,
        #[serde(default)]
        name: Option<String>,
    },
}

/// Sends the custom resource's outcome to CloudFormation.
pub struct Responder {
    agent: ureq::Agent,
}

impl Default for Responder {
    fn default() -> Self {
        Self::new()
    }
}

impl Responder {
    pub fn new() -> Self {
        let tls = ureq::tls::TlsConfig::builder()
            .provider(ureq::tls::TlsProvider::Rustls)
            .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .build();
        let agent = ureq::Agent::config_builder()
            .tls_config(tls)
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .into();
        Self { agent }
    }

    /// PUTs `response` as CloudFormation expects it: JSON with an empty content type (the URL is
    /// signed without one).
    pub async fn send(&self, url: &str, response: &CustomResourceResponse) -> Result<(), String> {
        let body = serde_json::to_vec(response).map_err(|e| e.to_string())?;
        let agent = self.agent.clone();
        let url = url.to_owned();
        tokio::task::spawn_blocking(move || {
            let answer = agent
                .put(&url)
                .header("content-type", "")
                .send(&body[..])
                .map_err(|error| format!("PUT to the response URL failed: {error}"))?;
            if answer.status().is_success() {
                Ok(())
            } else {
                Err(format!("the response URL answered {}", answer.status()))
            }
        })
        .await
        .map_err(|error| error.to_string())?
    }
}

pub async fn handler(
    database: &Database,
    responder: &Responder,
    event: LambdaEvent<Value>,
) -> Result<Value, lambda_runtime::Error> {
    let payload = event.payload;
    if payload.get("RequestType").is_some() {
        let request: CustomResourceRequest = serde_json::from_value(payload)?;
        let response = custom_resource(database, &request).await;
        tracing::info!(request_type = %request.request_type, status = response.status, reason = %response.reason, "custom resource");
        responder.send(&request.response_url, &response).await?;
        return Ok(json!({ "Status": response.status }));
    }
    let action: Action = serde_json::from_value(payload).map_err(|error| {
        format!("expected a CloudFormation custom resource event or an action: {error}")
    })?;
    Ok(run_action(database, action).await?)
}

/// Create and Update migrate; Delete succeeds without touching the database (the schema and its
/// data outlive the stack, and on stack deletion the database may already be unreachable).
pub async fn custom_resource(
    database: &Database,
    request: &CustomResourceRequest,
) -> CustomResourceResponse {
    let outcome = match request.request_type.as_str() {
        "Create" | "Update" => {
            match tokio::time::timeout(MIGRATION_TIMEOUT, shared::db::migrate(&database.pool)).await
            {
                Ok(Ok(applied)) => Ok((
                    format!("{applied} migration(s) applied"),
                    json!({ "Applied": applied }),
                )),
                Ok(Err(error)) => Err(error.to_string()),
                Err(_) => Err("the database did not answer in time".to_owned()),
            }
        }
        "Delete" => Ok(("schema left in place".to_owned(), json!({}))),
        other => Err(format!("unknown RequestType {other}")),
    };
    let (status, reason, data) = match outcome {
        Ok((reason, data)) => ("SUCCESS", reason, data),
        Err(reason) => ("FAILED", reason, json!({})),
    };
    CustomResourceResponse {
        status,
        reason,
        physical_resource_id: request
            .physical_resource_id
            .clone()
            .unwrap_or_else(|| PHYSICAL_RESOURCE_ID.to_owned()),
        stack_id: request.stack_id.clone(),
        request_id: request.request_id.clone(),
        logical_resource_id: request.logical_resource_id.clone(),
        data,
    }
}

async fn run_action(database: &Database, action: Action) -> Result<Value, String> {
    match action {
        Action::Migrate => {
            let applied = shared::db::migrate(&database.pool)
                .await
                .map_err(|e| e.to_string())?;
            Ok(json!({ "applied": applied }))
        }
        Action::BootstrapAdmin {
            cellnumber,
            password,
            name,
        } => {
            let generated = password.is_none();
            let password = password.unwrap_or_else(generate_password);
            shared::db::migrate(&database.pool)
                .await
                .map_err(|e| e.to_string())?;
            let mut conn = database.pool.get_conn().await.map_err(|e| e.to_string())?;
            let name = name.unwrap_or_else(|| "Administrator".to_owned());
            let outcome = ensure_admin(
                &mut conn,
                &name,
                &cellnumber,
                &password,
                database.bcrypt_cost,
            )
            .await
            .map_err(|error| match error {
                shared::ApiError::Validation(fields) => {
                    format!("{}: {}", fields[0].loc.join("."), fields[0].msg)
                }
                other => other.to_string(),
            })?;
            let (id, what) = match outcome {
                AdminBootstrap::Created(id) => (id, "created"),
                AdminBootstrap::Reset(id) => (id, "reset"),
                AdminBootstrap::Unchanged(id) => (id, "unchanged"),
            };
            let mut answer = json!({ "id": id, "cellnumber": cellnumber, "admin": what });
            if generated && what != "unchanged" {
                // Shown once, to whoever invoked the function; never logged.
                answer["password"] = json!(password);
            }
            Ok(answer)
        }
    }
}

/// 32 hex characters from the random parts of two UUIDs (120 bits), well within bcrypt's 72 bytes.
fn generate_password() -> String {
    let first = uuid::Uuid::new_v4().simple().to_string();
    let second = uuid::Uuid::new_v4().simple().to_string();
    format!("{}{}", &first[..16], &second[..16])
}
