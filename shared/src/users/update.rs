//! Updates of a user: an admin's `PATCH /api/users/{id}` and the user's own `PATCH
//! /api/users/me`. A patch that changes one row is written optimistically (one batch, if the row
//! is as read); one that may take away an active admin or ends sessions runs under locks.

use super::rules::{
    changed_fields, ends_sessions, ensure_an_active_admin_remains, may_remove_an_admin, needs_lock,
    patched,
};
use super::store::{
    find_user, find_user_locked, lock_active_admins, write_audited_if_unchanged, write_if_unchanged,
};
use crate::audit::{self, Event, Parties};
use crate::auth::account::User;
use crate::auth::password;
use crate::auth::policy::Action;
use crate::auth::source_ip::SourceIp;
use crate::auth::Authenticated;
use crate::db;
use crate::db::statements::DbTx;
use crate::error::ApiError;
use crate::sessions::{end_sessions, Ended};
use crate::users::validation::{self, ProfilePatch, UserPatch};

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
        let next = patched(&current, &patch, db::now());
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
    let next = patched(&current, &patch, db::now());
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
    let active_admins = if may_remove_an_admin(&patch) {
        lock_active_admins(tx).await?
    } else {
        Vec::new()
    };
    let current = find_user_locked(tx, id).await?.ok_or(ApiError::NotFound)?;
    let next = patched(&current, &patch, db::now());
    ensure_an_active_admin_remains(&active_admins, &current, Some(&next))?;
    // The row is locked, so it is as read.
    if !write_if_unchanged(tx, &next, password_hash.as_deref(), current.updated).await? {
        return Err(ApiError::Internal("a locked user row changed".into()));
    }
    if ends_sessions(&current, &next, password_hash.is_some()) {
        end_sessions(tx, id, Ended::All).await?;
    }
    let fields = changed_fields(&current, &next, password_hash.is_some());
    audit::record(tx, parties, &Event::UserUpdated { fields }).await?;
    Ok(next)
}
