//! The user record and its store.

use chrono::{DateTime, Utc};
use mysql_async::prelude::Queryable;
use mysql_async::{Row, Transaction};
use serde::Serialize;

use crate::auth::Authenticated;
use crate::error::ApiError;
use crate::policy::{Action, Role};
use crate::sessions::{end_sessions, Ended};
pub use crate::user::User;
use crate::user::{user_columns, USER_COLUMNS};
use crate::validation::{self, NewUser, UserPatch};
use crate::{db, password};

const SELECT_USER_BY_ID: &str =
    concat!("SELECT ", user_columns!(u), " FROM users u WHERE u.id = ?");
const SELECT_USER_BY_ID_FOR_UPDATE: &str = concat!(
    "SELECT ",
    user_columns!(u),
    " FROM users u WHERE u.id = ? FOR UPDATE"
);

/// Reads one user for the signed-in user, who must be allowed to see it. Reading oneself costs
/// no query (authentication has just read that row), nor does an admin's read of the user that
/// authentication read along with the token.
pub async fn get(signed_in: &mut Authenticated, id: u64) -> Result<User, ApiError> {
    signed_in.principal.authorize(Action::ReadUser { id })?;
    if id == signed_in.user.id {
        return Ok(signed_in.user.clone());
    }
    match signed_in.take_subject(id) {
        Some(found) => found.ok_or(ApiError::NotFound),
        None => read_user(signed_in.conn(), id).await,
    }
}

/// One page of `GET /api/users`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserPage {
    pub items: Vec<User>,
    pub total: u64,
    #[schema(minimum = 1, maximum = 100)]
    pub limit: u64,
    pub offset: u64,
}

pub const DEFAULT_PAGE_LIMIT: u64 = 50;
pub const MAX_PAGE_LIMIT: u64 = 100;

/// Now, at the microsecond precision the columns keep, so what is returned is what is stored.
fn now() -> DateTime<Utc> {
    use chrono::{DurationRound, TimeDelta};
    Utc::now()
        .duration_trunc(TimeDelta::microseconds(1))
        .unwrap_or_else(|_| Utc::now())
}

/// The unique index a duplicate-key error names, as the 409 the contract asks for. Deciding by
/// the index (not by a read before the write) is what makes concurrent creates safe.
fn conflict_or(error: mysql_async::Error) -> ApiError {
    if let mysql_async::Error::Server(server) = &error {
        if server.code == crate::error::mysql_codes::DUPLICATE_ENTRY {
            return if server.message.contains("uq_users_email") {
                ApiError::Conflict("Email already registered")
            } else {
                ApiError::Conflict("Cellnumber already registered")
            };
        }
    }
    ApiError::from(error)
}

pub async fn create(
    app: &crate::App,
    signed_in: &mut Authenticated,
    new: NewUser,
) -> Result<User, ApiError> {
    signed_in.principal.authorize(Action::CreateUser)?;
    validation::check(&new)?;
    let password_hash = password::hash(&new.password, app.config.bcrypt_cost).await?;
    let created = now();
    let role = new.role_id.unwrap_or(Role::User);
    let name = new.name.trim().to_owned();
    let conn = signed_in.conn();
    conn.exec_drop(
        "INSERT INTO users (name, cellnumber, email, email_key, profilepic, password_hash, role_id, created, updated) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            &name,
            &new.cellnumber,
            &new.email,
            new.email.as_deref().map(validation::email_key),
            &new.profilepic,
            password_hash,
            role.id(),
            created.naive_utc(),
            created.naive_utc(),
        ),
    )
    .await
    .map_err(conflict_or)?;
    let id = conn
        .last_insert_id()
        .ok_or_else(|| ApiError::Internal("insert returned no id".into()))?;
    Ok(User {
        id,
        name,
        cellnumber: new.cellnumber,
        email: new.email,
        profilepic: new.profilepic,
        role_id: role.id(),
        created,
        updated: created,
    })
}

pub async fn list(
    signed_in: &mut Authenticated,
    limit: u64,
    offset: u64,
) -> Result<UserPage, ApiError> {
    signed_in.principal.authorize(Action::ListUsers)?;
    let conn = signed_in.conn();
    // The page and the total in one round trip.
    let rows: Vec<Row> = conn
        .exec(
            concat!(
                "SELECT ",
                user_columns!(u),
                ", COUNT(*) OVER () FROM users u ORDER BY u.id LIMIT ? OFFSET ?"
            ),
            (limit, offset),
        )
        .await?;
    let total = match rows.first() {
        Some(row) => row
            .get_opt::<u64, _>(USER_COLUMNS)
            .and_then(Result::ok)
            .ok_or_else(|| ApiError::Internal("the page's total is missing".into()))?,
        // Past the last page there is no row to carry the total.
        None => conn
            .query_first::<u64, _>("SELECT COUNT(*) FROM users")
            .await?
            .unwrap_or(0),
    };
    let mut items = Vec::with_capacity(rows.len());
    for mut row in rows {
        items.extend(User::from_row_at(&mut row, 0)?);
    }
    Ok(UserPage {
        items,
        total,
        limit,
        offset,
    })
}

/// Refuses to leave the service without an admin. Locks the admins' rows, so two concurrent
/// removals cannot both see the other admin still there.
async fn ensure_another_admin(tx: &mut Transaction<'_>, id: u64) -> Result<(), ApiError> {
    let others: Vec<u64> = tx
        .exec(
            "SELECT id FROM users WHERE role_id = 1 AND id <> ? FOR UPDATE",
            (id,),
        )
        .await?;
    if others.is_empty() {
        return Err(ApiError::Conflict("Cannot remove the last admin"));
    }
    Ok(())
}

pub async fn update(
    app: &crate::App,
    signed_in: &mut Authenticated,
    id: u64,
    patch: UserPatch,
) -> Result<User, ApiError> {
    signed_in.principal.authorize(Action::UpdateUser)?;
    validation::check(&patch)?;
    // Hash before the transaction, so no row stays locked through bcrypt.
    let password_hash = match &patch.password {
        Some(new_password) => Some(password::hash(new_password, app.config.bcrypt_cost).await?),
        None => None,
    };
    let demotes = patch.role_id == Some(Role::User);
    if password_hash.is_none() {
        let current = match signed_in.take_subject(id) {
            Some(found) => found,
            None => find_user(signed_in.conn(), id).await?,
        };
        let current = current.ok_or(ApiError::NotFound)?;
        if patch.is_empty() {
            return Ok(current);
        }
        // Demoting an admin needs the last-admin check under lock; anything else changes one
        // row and revokes nothing, so the row read with the token is the base of the change
        // and one conditional UPDATE writes it.
        if !(demotes && current.role_id == Role::Admin.id()) {
            let next = patched(&current, &patch);
            if write_if_unchanged(signed_in.conn(), &next, None, current.updated).await? {
                return Ok(next);
            }
            // Changed or deleted since it was read: decide under the row's lock instead.
        }
    }
    let mut tx = signed_in
        .conn()
        .start_transaction(Default::default())
        .await?;
    let outcome = apply_patch_locked(&mut tx, id, patch, password_hash, demotes).await;
    db::finish(tx, outcome).await
}

/// A patch that revokes tokens or may remove an admin: under the row's lock, so the last-admin
/// check and the token revocation hold together with the change.
async fn apply_patch_locked(
    tx: &mut Transaction<'_>,
    id: u64,
    patch: UserPatch,
    password_hash: Option<String>,
    demotes: bool,
) -> Result<User, ApiError> {
    let current = find_user_locked(tx, id).await?.ok_or(ApiError::NotFound)?;
    if demotes && current.role_id == Role::Admin.id() {
        ensure_another_admin(tx, id).await?;
    }
    let next = patched(&current, &patch);
    // The row is locked, so it is as read.
    if !write_if_unchanged(tx, &next, password_hash.as_deref(), current.updated).await? {
        return Err(ApiError::Internal("a locked user row changed".into()));
    }
    if password_hash.is_some() {
        end_sessions(tx, id, Ended::All).await?;
    }
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
    // Strictly later than before, so every write moves `updated` and it works as a version.
    next.updated = now().max(current.updated + chrono::TimeDelta::microseconds(1));
    next
}

/// Stores `next` (and a new password hash, when given) if the row still has the `updated` it
/// was read with (optimistic concurrency: every write moves `updated`); false when it changed or
/// was deleted in between.
async fn write_if_unchanged<Q: Queryable>(
    db: &mut Q,
    next: &User,
    password_hash: Option<&str>,
    read_updated: DateTime<Utc>,
) -> Result<bool, ApiError> {
    let result = db
        .exec_iter(
            "UPDATE users SET name = ?, cellnumber = ?, email = ?, email_key = ?, profilepic = ?, \
             role_id = ?, password_hash = COALESCE(?, password_hash), updated = ? \
             WHERE id = ? AND updated = ?",
            (
                &next.name,
                &next.cellnumber,
                &next.email,
                next.email.as_deref().map(validation::email_key),
                &next.profilepic,
                next.role_id,
                password_hash,
                next.updated.naive_utc(),
                next.id,
                read_updated.naive_utc(),
            ),
        )
        .await
        .map_err(conflict_or)?;
    let written = result.affected_rows() == 1;
    result.drop_result().await?;
    Ok(written)
}

/// The user `id`, or NotFound.
async fn read_user<Q: Queryable>(db: &mut Q, id: u64) -> Result<User, ApiError> {
    find_user(db, id).await?.ok_or(ApiError::NotFound)
}

async fn find_user<Q: Queryable>(db: &mut Q, id: u64) -> Result<Option<User>, ApiError> {
    user_of(db.exec_first(SELECT_USER_BY_ID, (id,)).await?)
}

/// [`find_user`], locking the row until the transaction ends.
async fn find_user_locked(tx: &mut Transaction<'_>, id: u64) -> Result<Option<User>, ApiError> {
    user_of(tx.exec_first(SELECT_USER_BY_ID_FOR_UPDATE, (id,)).await?)
}

fn user_of(row: Option<Row>) -> Result<Option<User>, ApiError> {
    match row {
        Some(mut row) => User::from_row_at(&mut row, 0),
        None => Ok(None),
    }
}

pub async fn delete(signed_in: &mut Authenticated, id: u64) -> Result<(), ApiError> {
    signed_in.principal.authorize(Action::DeleteUser)?;
    // A normal user (the usual case) in one statement; an admin, or an id that may not exist,
    // takes the locking path below. The user's tokens go with it (ON DELETE CASCADE).
    let conn = signed_in.conn();
    conn.exec_drop("DELETE FROM users WHERE id = ? AND role_id <> 1", (id,))
        .await?;
    if conn.affected_rows() == 1 {
        return Ok(());
    }
    let mut tx = signed_in
        .conn()
        .start_transaction(Default::default())
        .await?;
    let outcome = delete_in(&mut tx, id).await;
    db::finish(tx, outcome).await
}

async fn delete_in(tx: &mut Transaction<'_>, id: u64) -> Result<(), ApiError> {
    let role: Option<u8> = tx
        .exec_first("SELECT role_id FROM users WHERE id = ? FOR UPDATE", (id,))
        .await?;
    if role.ok_or(ApiError::NotFound)? == Role::Admin.id() {
        ensure_another_admin(tx, id).await?;
    }
    // The user's tokens go with it (ON DELETE CASCADE).
    tx.exec_drop("DELETE FROM users WHERE id = ?", (id,))
        .await?;
    Ok(())
}
