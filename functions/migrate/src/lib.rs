//! The `migrate` function. No HTTP route reaches it; it is invoked
//! - by CloudFormation, through the `SchemaMigrations` custom resource of `template.yaml`, on every
//!   deploy that changes it: Create and Update apply the migrations, Delete leaves the data alone;
//!   the outcome is PUT to the pre-signed S3 URL CloudFormation gave, whatever happened;
//! - by an operator: `{"action": "migrate"}`, or `{"action": "bootstrap-admin", "cellnumber":
//!   "..."}` to create the first admin (with a generated password, returned once, unless one is
//!   given as `"password"`; `"force": true` resets the password of that existing admin); either
//!   writes an `admin.bootstrapped` audit event in the transaction of the change;
//! - by the stack's schedule: `{"action": "purge-audit"}` removes the audit events older than
//!   `AUDIT_RETENTION_DAYS`. It runs here, with the operator's database user, because the HTTP
//!   functions' user may not delete audit events.
//!
//! Its resource policy admits CloudFormation only; IAM principals of the account whose own
//! policies allow `lambda:InvokeFunction` on it can still invoke it (that is how an operator runs
//! the actions), so grant that only to those who may hold the database's master user.
//!
//! Nothing is loaded before the runtime loop starts: the secrets and the database are read in the
//! handler, so a misconfiguration (no route to Secrets Manager, a key it may not use, a malformed
//! secret) becomes a FAILED answer to CloudFormation with the reason, not a silent crash that
//! leaves the stack waiting.

mod custom_resource;

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_runtime::LambdaEvent;
use serde::Deserialize;
use serde_json::{json, Value};
use shared::app::Database;
use shared::db::errors::Summarized;
use shared::users::first_admin::{bootstrap_admin, AdminBootstrap, AdminRequest};

pub use custom_resource::{
    is_s3_response_url, CustomResourceRequest, CustomResourceResponse, Responder,
    PHYSICAL_RESOURCE_ID,
};

/// The most a custom resource request may take before its answer is sent: well under the
/// function's timeout (60 s in the template), leaving time for the PUT ([`RESPONSE_TIMEOUT`]).
/// It bounds reading the secrets, connecting and waiting for the migration lock; a migration
/// that has started is never cut off (see [`shared::db::migrate_waiting`]).
///
/// [`RESPONSE_TIMEOUT`]: custom_resource::RESPONSE_TIMEOUT
pub const CUSTOM_RESOURCE_BUDGET: Duration = Duration::from_secs(40);
/// Kept free before the invocation's deadline for the answer itself.
const ANSWER_RESERVE: Duration = Duration::from_secs(15);

type LoadFuture = Pin<Box<dyn Future<Output = Result<Database, String>> + Send>>;

/// The database of the function instance, loaded on first use and kept; a failed load is tried
/// again on the next invocation (the operator may have fixed the cause meanwhile).
pub struct Migrator {
    database: tokio::sync::OnceCell<Database>,
    load: Box<dyn Fn() -> LoadFuture + Send + Sync>,
}

impl Migrator {
    /// Loads from the environment and Secrets Manager, as in AWS.
    pub fn from_environment() -> Self {
        Self::with_loader(|| async { Database::load().await.map_err(|e| e.to_string()) })
    }

    pub fn with_database(database: Database) -> Self {
        let migrator = Self::with_loader(|| async { Err("no loader".to_owned()) });
        migrator
            .database
            .set(database)
            .unwrap_or_else(|_| unreachable!("a new cell is empty"));
        migrator
    }

    pub fn with_loader<F, Fut>(load: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Database, String>> + Send + 'static,
    {
        Self {
            database: tokio::sync::OnceCell::new(),
            load: Box::new(move || Box::pin(load())),
        }
    }

    pub async fn database(&self) -> Result<&Database, String> {
        self.database.get_or_try_init(|| (self.load)()).await
    }
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
        #[serde(default)]
        force: bool,
    },
    PurgeAudit,
}

pub async fn handler(
    migrator: &Migrator,
    responder: &Responder,
    event: LambdaEvent<Value>,
) -> Result<Value, lambda_runtime::Error> {
    let budget = budget(event.context.deadline);
    let payload = event.payload;
    if payload.get("RequestType").is_some() {
        let request: CustomResourceRequest = serde_json::from_value(payload)?;
        if !responder.allows(&request.response_url) {
            tracing::error!(
                request_type = %request.request_type,
                "custom resource event with a ResponseURL that is not an https pre-signed S3 URL: ignored"
            );
            return Err("the ResponseURL is not an https pre-signed S3 URL".into());
        }
        let response = custom_resource(migrator, &request, budget).await;
        if response.status == "SUCCESS" {
            tracing::info!(request_type = %request.request_type, reason = %response.reason, "custom resource");
        } else {
            tracing::error!(request_type = %request.request_type, reason = %response.reason, "custom resource FAILED");
        }
        responder.send(&request.response_url, &response).await?;
        return Ok(json!({ "Status": response.status }));
    }
    let action: Action = serde_json::from_value(payload).map_err(|error| {
        format!("expected a CloudFormation custom resource event or an action: {error}")
    })?;
    let database = tokio::time::timeout(budget, migrator.database())
        .await
        .map_err(|_| format!("loading the configuration took longer than {budget:?}"))??;
    Ok(run_action(database, action, budget).await?)
}

/// [`CUSTOM_RESOURCE_BUDGET`], or less when the invocation's deadline is nearer.
fn budget(deadline_ms: u64) -> Duration {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    if deadline_ms == 0 {
        return CUSTOM_RESOURCE_BUDGET;
    }
    let left = Duration::from_millis(deadline_ms.saturating_sub(now_ms));
    left.saturating_sub(ANSWER_RESERVE)
        .clamp(Duration::from_secs(1), CUSTOM_RESOURCE_BUDGET)
}

/// Create and Update migrate; Delete succeeds without loading or touching anything (the schema
/// and its data outlive the stack, and on a rollback the configuration may be what failed).
/// Every failure is a FAILED answer with its reason.
pub async fn custom_resource(
    migrator: &Migrator,
    request: &CustomResourceRequest,
    budget: Duration,
) -> CustomResourceResponse {
    let outcome = match request.request_type.as_str() {
        "Create" | "Update" => {
            apply_migrations(migrator, request.previous_app_user(), budget).await
        }
        "Delete" => Ok(("schema left in place".to_owned(), json!({}))),
        other => Err(format!("unknown RequestType {other}")),
    };
    CustomResourceResponse::to(request, outcome)
}

async fn apply_migrations(
    migrator: &Migrator,
    previous_app_user: Option<&str>,
    budget: Duration,
) -> Result<(String, Value), String> {
    let started = std::time::Instant::now();
    // Reading the secrets and reaching the database may hang (no route, a frozen server):
    // bounded here. Nothing has been changed yet, so cutting it off is harmless.
    let ready = tokio::time::timeout(budget, async {
        let database = migrator.database().await?;
        let conn =
            database.pool.get_conn().await.map_err(|error| {
                format!("cannot connect to the database: {}", Summarized(&error))
            })?;
        Ok::<_, String>((database, conn))
    })
    .await;
    let (database, conn) = match ready {
        Ok(ready) => ready?,
        Err(_) => {
            return Err(format!(
                "the configuration or the database did not answer within {budget:?}"
            ))
        }
    };
    // Back to the pool, for the run to take again at once.
    drop(conn);
    let lock_wait = budget
        .saturating_sub(started.elapsed())
        .min(shared::db::MIGRATION_LOCK_WAIT);
    let applied = shared::db::migrate_waiting(&database.pool.current(), lock_wait)
        .await
        .map_err(|e| e.to_string())?;
    let mut reason = format!("{applied} migration(s) applied");
    if let Some(granted) = ensure_app_user(database, previous_app_user).await? {
        reason = format!("{reason}; {granted}");
    }
    Ok((reason, json!({ "Applied": applied })))
}

/// Creates or updates the HTTP functions' database user, when the stack gives one; and drops
/// the account of its previous name after a rename (`previous`, from the Update's old
/// properties), once the new one is in place.
async fn ensure_app_user(
    database: &Database,
    previous: Option<&str>,
) -> Result<Option<String>, String> {
    let Some(user) = &database.app_user else {
        return Ok(None);
    };
    let mut conn = database
        .pool
        .get_conn()
        .await
        .map_err(|error| format!("cannot connect to the database: {}", Summarized(&error)))?;
    let mut done = shared::db::account::ensure(&mut conn, user)
        .await
        .map_err(|error| error.to_string())?;
    if let Some(previous) = previous {
        if let Some(dropped) = shared::db::account::drop_previous(&mut conn, previous, user)
            .await
            .map_err(|error| error.to_string())?
        {
            done = format!("{done}; {dropped}");
        }
    }
    Ok(Some(done))
}

async fn run_action(
    database: &Database,
    action: Action,
    budget: Duration,
) -> Result<Value, String> {
    match action {
        Action::PurgeAudit => {
            let mut conn = database.pool.get_conn().await.map_err(|error| {
                format!("cannot connect to the database: {}", Summarized(&error))
            })?;
            let removed =
                shared::audit::purge_expired(&mut conn, database.audit_retention_days, budget)
                    .await
                    .map_err(|error| format!("audit purge failed: {error}"))?;
            tracing::info!(
                removed,
                retention_days = database.audit_retention_days,
                "purge-audit"
            );
            Ok(json!({ "removed": removed, "retentionDays": database.audit_retention_days }))
        }
        Action::Migrate => {
            let applied = shared::db::migrate(&database.pool.current())
                .await
                .map_err(|e| e.to_string())?;
            let app_user = ensure_app_user(database, None).await?;
            Ok(json!({ "applied": applied, "appUser": app_user }))
        }
        Action::BootstrapAdmin {
            cellnumber,
            password,
            name,
            force,
        } => {
            let generated = password.is_none();
            let password = password.unwrap_or_else(generate_password);
            shared::db::migrate(&database.pool.current())
                .await
                .map_err(|e| e.to_string())?;
            let mut conn = database
                .pool
                .conn()
                .await
                .map_err(|error| Summarized(&error).to_string())?;
            let name = name.unwrap_or_else(|| "Administrator".to_owned());
            let request = AdminRequest {
                name: &name,
                cellnumber: &cellnumber,
                password: &password,
                force,
            };
            let outcome = bootstrap_admin(&mut conn, &request, database.bcrypt_cost)
                .await
                .map_err(|error| match error {
                    shared::ApiError::Validation(fields) => {
                        format!("{}: {}", fields[0].loc.join("."), fields[0].msg)
                    }
                    shared::ApiError::Conflict(reason) => reason.to_owned(),
                    other => other.to_string(),
                })?;
            let (id, what) = match outcome {
                AdminBootstrap::Created(id) => (id, "created"),
                AdminBootstrap::Reset(id) => (id, "reset"),
                AdminBootstrap::Unchanged(id) => (id, "unchanged"),
            };
            tracing::info!(user_id = id, outcome = what, "bootstrap-admin");
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
