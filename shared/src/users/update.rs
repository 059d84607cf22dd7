//! Updates of a user: an admin's `PATCH /api/users/{id}` and the user's own `PATCH
//! /api/users/me`. A patch that changes one row is written optimistically (one batch, if the row
//! is as read); one that may take away an active admin or ends sessions runs under locks.

use chrono::{DateTime, Utc};

use crate::audit::{self, Event, Parties};
use crate::auth::account::User;
use crate::auth::Authenticated;
use crate::error::ApiError;
use crate::last_admin::{ensure_an_active_admin_remains, lock_active_admins};
use crate::policy::{Action, Role};
use crate::sessions::{end_sessions, Ended};
use crate::source_ip::SourceIp;
use crate::sql_batch::{self, Statement};
use crate::statements::{DbConn, DbTx, Statements};
use crate::users::{conflict_or, find_user, find_user_locked, now, unchanged_since};
use crate::validation::{self, ProfilePatch, UserPatch};
use crate::{db, password};

/// Whether going from `current` to `next` must take the locking path: it may take away an active
/// admin (the last-active-admin check must hold with it) or it ends the user's sessions.
fn needs_lock(current: &User, next: &User) -> bool {
    let active_admin = |user: &User| user.role_id == Role::Admin.id() && user.is_active;
    (active_admin(current) && !active_admin(next)) || (current.is_active && !next.is_active)
}

/// The names of the fields a patch changed, as the `user.updated` event lists them.
fn changed_fields(current: &User, next: &User, new_password: bool) -> Vec<&'static str> {
    let mut fields = Vec::new();
    for (field, changed) in [
        ("name", current.name != next.name),
        ("cellnumber", current.cellnumber != next.cellnumber),
        ("email", current.email != next.email),
        ("profilepic", current.profilepic != next.profilepic),
        ("password", new_password),
        ("roleId", current.role_id != next.role_id),
        ("isActive", current.is_active != next.is_active),
    ] {
        if changed {
            fields.push(field);
        }
    }
    fields
}

pub async fn update(
    app: &crate::App,
    signed_in: &mut Authenticated,
    id: u64,
    patch: UserPatch,
    source: &SourceIp,
) -> Result<User, ApiError> {
    signed_in.principal.authorize(Action::UpdateUser)?;
    validation::check(&patch)?;
    // Hash before the transaction, so no row stays locked through bcrypt.
    let password_hash = match &patch.password {
        Some(new_password) => Some(password::hash(new_password, app.config.bcrypt_cost).await?),
        None => None,
    };
    let parties = Parties {
        actor_id: Some(signed_in.user.id),
        target_id: Some(id),
        source,
    };
    if password_hash.is_none() {
        let current = match signed_in.take_subject(id) {
            Some(found) => found,
            None => find_user(signed_in.conn(), id).await?,
        };
        let current = current.ok_or(ApiError::NotFound)?;
        if patch.is_empty() {
            return Ok(current);
        }
        // Anything that neither may take away an active admin nor ends sessions changes one
        // row, so the row read with the token is the base of the change, and one batch writes
        // it with its event.
        let next = patched(&current, &patch);
        if !needs_lock(&current, &next) {
            let fields = changed_fields(&current, &next, false);
            if write_audited_if_unchanged(signed_in.conn(), &next, current.updated, parties, fields)
                .await?
            {
                return Ok(next);
            }
            // Changed or deleted since it was read: decide under the row's lock instead.
        }
    }
    let mut tx = signed_in.conn().begin().await?;
    let outcome = apply_patch_locked(&mut tx, id, patch, password_hash, parties).await;
    db::finish(tx, outcome).await
}

/// `PATCH /api/users/me`: the signed-in user changes its own name, e-mail or picture, with the
/// rules and the optimistic write of the admin's patch.
pub async fn update_me(
    signed_in: &mut Authenticated,
    profile: ProfilePatch,
    source: &SourceIp,
) -> Result<User, ApiError> {
    signed_in.principal.authorize(Action::ActOnSelf)?;
    validation::check(&profile)?;
    let patch = UserPatch::from(profile);
    let current = signed_in.user.clone();
    if patch.is_empty() {
        return Ok(current);
    }
    let parties = Parties {
        actor_id: Some(current.id),
        target_id: Some(current.id),
        source,
    };
    let next = patched(&current, &patch);
    let fields = changed_fields(&current, &next, false);
    if write_audited_if_unchanged(signed_in.conn(), &next, current.updated, parties, fields).await?
    {
        return Ok(next);
    }
    let mut tx = signed_in.conn().begin().await?;
    let outcome = apply_patch_locked(&mut tx, current.id, patch, None, parties).await;
    db::finish(tx, outcome).await
}

/// A patch that ends sessions or may take away an active admin: under the row's lock (and the
/// active admins' locks), so the last-active-admin check and the revocation hold together with
/// the change and its event.
async fn apply_patch_locked(
    tx: &mut DbTx<'_>,
    id: u64,
    patch: UserPatch,
    password_hash: Option<String>,
    parties: Parties<'_>,
) -> Result<User, ApiError> {
    let may_remove_admin = patch.role_id == Some(Role::User) || patch.is_active == Some(false);
    let active_admins = if may_remove_admin {
        lock_active_admins(tx).await?
    } else {
        Vec::new()
    };
    let current = find_user_locked(tx, id).await?.ok_or(ApiError::NotFound)?;
    let next = patched(&current, &patch);
    ensure_an_active_admin_remains(&active_admins, &current, Some(&next))?;
    // The row is locked, so it is as read.
    if !write_if_unchanged(tx, &next, password_hash.as_deref(), current.updated).await? {
        return Err(ApiError::Internal("a locked user row changed".into()));
    }
    if password_hash.is_some() || (current.is_active && !next.is_active) {
        end_sessions(tx, id, Ended::All).await?;
    }
    let fields = changed_fields(&current, &next, password_hash.is_some());
    audit::record(tx, parties, &Event::UserUpdated { fields }).await?;
    Ok(next)
}

/// `current` with the patch applied: what the row becomes and the response shows. The one place
/// a patch's meaning is decided (absent: unchanged; null: cleared; a name: trimmed).
fn patched(current: &User, patch: &UserPatch) -> User {
    let mut next = current.clone();
    if let Some(name) = &patch.name {
        next.name = name.trim().to_owned();
    }
    if let Some(cellnumber) = &patch.cellnumber {
        next.cellnumber.clone_from(cellnumber);
    }
    if let Some(email) = &patch.email {
        next.email.clone_from(email);
    }
    if let Some(profilepic) = &patch.profilepic {
        next.profilepic.clone_from(profilepic);
    }
    if let Some(role) = patch.role_id {
        next.role_id = role.id();
    }
    if let Some(is_active) = patch.is_active {
        next.is_active = is_active;
    }
    // Strictly later than before, so every write moves `updated` and it works as a version.
    next.updated = now().max(current.updated + chrono::TimeDelta::microseconds(1));
    next
}

/// The conditional UPDATE that stores `next` (and a new password hash, when given) if the row
/// still has the `updated` it was read with (optimistic concurrency: every write moves
/// `updated`).
const UPDATE_IF_UNCHANGED: &str =
    "UPDATE users SET name = ?, cellnumber = ?, email = ?, email_key = ?, profilepic = ?, \
     role_id = ?, is_active = ?, password_hash = COALESCE(?, password_hash), updated = ? \
     WHERE id = ? AND updated = ?";

fn update_params(
    next: &User,
    password_hash: Option<&str>,
    read_updated: DateTime<Utc>,
) -> Vec<mysql_async::Value> {
    vec![
        next.name.as_str().into(),
        next.cellnumber.as_str().into(),
        next.email.as_deref().into(),
        next.email.as_deref().map(validation::email_key).into(),
        next.profilepic.as_deref().into(),
        next.role_id.into(),
        next.is_active.into(),
        password_hash.into(),
        next.updated.naive_utc().into(),
        next.id.into(),
        read_updated.naive_utc().into(),
    ]
}

/// [`UPDATE_IF_UNCHANGED`] on a transaction that holds the row's lock;
/// false when the row changed or was deleted in between.
async fn write_if_unchanged<Q: Statements>(
    db: &mut Q,
    next: &User,
    password_hash: Option<&str>,
    read_updated: DateTime<Utc>,
) -> Result<bool, ApiError> {
    let outcome = db
        .run(
            UPDATE_IF_UNCHANGED,
            update_params(next, password_hash, read_updated),
        )
        .await
        .map_err(conflict_or)?;
    Ok(outcome.affected_rows == 1)
}

/// [`UPDATE_IF_UNCHANGED`] and its `user.updated` event, in one transaction and one round trip;
/// false (and nothing written) when the row changed or was deleted in between.
async fn write_audited_if_unchanged(
    conn: &mut DbConn,
    next: &User,
    read_updated: DateTime<Utc>,
    parties: Parties<'_>,
    fields: Vec<&'static str>,
) -> Result<bool, ApiError> {
    let statements = [
        audit::insert_if_row(
            parties,
            &Event::UserUpdated { fields },
            unchanged_since(next.id, read_updated),
        ),
        Statement::new(UPDATE_IF_UNCHANGED, update_params(next, None, read_updated)),
    ];
    let outcomes = sql_batch::run_in_transaction(conn, &statements)
        .await
        .map_err(conflict_or)?;
    Ok(outcomes[1].affected_rows == 1)
}
