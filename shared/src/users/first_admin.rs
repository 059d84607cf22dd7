//! The first admin: created by an operator (`make admin`, or the `migrate` function's
//! `bootstrap-admin` action) when no admin exists yet. It is deliberately not a general
//! "make this user an admin" tool: anyone allowed to run it could otherwise take over any account.

use crate::audit::{self, Event, Parties};
use crate::auth::password;
use crate::auth::policy::Role;
use crate::auth::source_ip::SourceIp;
use crate::db::statements::{DbConn, DbTx, Statements};
use crate::error::ApiError;
use crate::sessions::{end_sessions, Ended};

/// What [`bootstrap_admin`] is asked to do.
pub struct AdminRequest<'a> {
    pub name: &'a str,
    pub cellnumber: &'a str,
    pub password: &'a str,
    /// Allows resetting the password of an existing admin with this cellnumber (the way back in
    /// when every admin's password is lost). Never promotes a normal user, never creates a
    /// second admin.
    pub force: bool,
}

/// What [`bootstrap_admin`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminBootstrap {
    Created(u64),
    /// An existing admin's password was reset (with `force`); its old tokens are revoked.
    Reset(u64),
    /// The admin exists with this password already.
    Unchanged(u64),
}

pub const ADMIN_EXISTS: &str =
    "an admin exists already: bootstrap-admin only creates the first one (create others through the API)";
pub const NOT_AN_ADMIN: &str =
    "this cellnumber belongs to a normal user: bootstrap-admin never promotes a user (an admin may, through the API)";
pub const FORCE_NEEDED: &str =
    "this admin exists with another password: pass \"force\": true to reset it (its sessions end)";

/// Creates the first admin; or, with `force`, resets the password of the existing admin with
/// this cellnumber. Refused (409, with the reason) when it would promote a normal user, create an
/// admin beside an existing one, or reset a password without `force`. Running it again with the
/// same values changes nothing, so `make serve` can run it every time.
pub async fn bootstrap_admin(
    conn: &mut DbConn,
    request: &AdminRequest<'_>,
    bcrypt_cost: u32,
) -> Result<AdminBootstrap, ApiError> {
    use crate::users::validation::{cellnumber_rule, name_rule, password_rule};
    for (field, outcome) in [
        ("cellnumber", cellnumber_rule(request.cellnumber)),
        ("password", password_rule(request.password)),
        ("name", name_rule(request.name)),
    ] {
        if let Err(failure) = outcome {
            let msg = failure.message.map(|m| m.to_string()).unwrap_or_default();
            return Err(ApiError::validation(&[field], msg));
        }
    }
    // The cheap answers first, and bcrypt before any lock is taken.
    let existing: Option<(u64, String, u8, bool)> = conn
        .first(
            "SELECT id, password_hash, role_id, is_active FROM users WHERE cellnumber = ?",
            (request.cellnumber,),
        )
        .await?;
    if let Some((id, hash, role_id, is_active)) = &existing {
        if *role_id != Role::Admin.id() {
            return Err(ApiError::Conflict(NOT_AN_ADMIN));
        }
        if *is_active && password::verify(request.password, hash).await {
            return Ok(AdminBootstrap::Unchanged(*id));
        }
        if !request.force {
            return Err(ApiError::Conflict(FORCE_NEEDED));
        }
    }
    let hash = password::hash(request.password, bcrypt_cost).await?;
    let mut tx = conn.begin().await?;
    let outcome = decide_locked(&mut tx, request, hash).await;
    crate::db::finish(tx, outcome).await
}

/// The decision again under the admins' row locks, so a concurrent bootstrap or a concurrent
/// change of the user cannot slip between the check and the write.
async fn decide_locked(
    tx: &mut DbTx<'_>,
    request: &AdminRequest<'_>,
    hash: String,
) -> Result<AdminBootstrap, ApiError> {
    let admins: Vec<u64> = tx
        .rows(
            "SELECT id FROM users WHERE role_id = 1 AND is_active FOR UPDATE",
            (),
        )
        .await?;
    let existing: Option<(u64, u8)> = tx
        .first(
            "SELECT id, role_id FROM users WHERE cellnumber = ? FOR UPDATE",
            (request.cellnumber,),
        )
        .await?;
    match existing {
        Some((_, role_id)) if role_id != Role::Admin.id() => Err(ApiError::Conflict(NOT_AN_ADMIN)),
        Some(_) if !request.force => Err(ApiError::Conflict(FORCE_NEEDED)),
        Some((id, _)) => {
            tx.run(
                "UPDATE users SET password_hash = ?, is_active = 1, \
                 updated = GREATEST(UTC_TIMESTAMP(6), updated + INTERVAL 1 MICROSECOND) WHERE id = ?",
                (hash, id),
            )
            .await?;
            end_sessions(tx, id, Ended::All).await?;
            record_bootstrap(tx, id, "reset").await?;
            Ok(AdminBootstrap::Reset(id))
        }
        None if !admins.is_empty() => Err(ApiError::Conflict(ADMIN_EXISTS)),
        None => {
            let created = tx
                .run(
                    "INSERT INTO users (name, cellnumber, password_hash, role_id, created, updated) \
                     VALUES (?, ?, ?, 1, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))",
                    (request.name.trim(), request.cellnumber, hash),
                )
                .await?;
            let id = created.last_insert_id.unwrap_or_default();
            record_bootstrap(tx, id, "created").await?;
            Ok(AdminBootstrap::Created(id))
        }
    }
}

/// The `admin.bootstrapped` event, in the transaction of the change: an operator's takeover of
/// an admin account is in the audit log like any other change.
async fn record_bootstrap(
    tx: &mut DbTx<'_>,
    admin_id: u64,
    outcome: &'static str,
) -> Result<(), ApiError> {
    let nowhere = SourceIp::parse(None);
    let parties = Parties {
        actor_id: None,
        target_id: Some(admin_id),
        source: &nowhere,
    };
    audit::record(tx, parties, &Event::AdminBootstrapped { outcome }).await
}
