//! The user record and its store.

use chrono::{DateTime, NaiveDateTime, Utc};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Transaction};
use serde::Serialize;

use crate::auth::Authenticated;
use crate::error::ApiError;
use crate::policy::{Action, Role};
use crate::validation::{self, NewUser, UserPatch};
use crate::{db, password};

/// A user as the API shows it: never with a password or its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct User {
    pub id: u64,
    pub name: String,
    pub cellnumber: String,
    pub email: Option<String>,
    pub profilepic: Option<String>,
    #[serde(rename = "roleId")]
    #[schema(minimum = 1, maximum = 2)]
    pub role_id: u8,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
}

/// The columns of [`UserRow`], for queries that alias `users` as `u`; a macro so the queries
/// are whole `&'static str`s, built at compile time rather than per request.
macro_rules! user_columns {
    () => {
        "u.id, u.name, u.cellnumber, u.email, u.profilepic, u.role_id, u.created, u.updated"
    };
}
pub(crate) use user_columns;

const SELECT_USER_BY_ID: &str = concat!("SELECT ", user_columns!(), " FROM users u WHERE u.id = ?");

pub(crate) type UserRow = (
    u64,
    String,
    String,
    Option<String>,
    Option<String>,
    u8,
    NaiveDateTime,
    NaiveDateTime,
);

/// A [`UserRow`] followed by the total row count of its query.
type UserRowWithTotal = (
    u64,
    String,
    String,
    Option<String>,
    Option<String>,
    u8,
    NaiveDateTime,
    NaiveDateTime,
    u64,
);

impl From<UserRow> for User {
    fn from((id, name, cellnumber, email, profilepic, role_id, created, updated): UserRow) -> Self {
        Self {
            id,
            name,
            cellnumber,
            email,
            profilepic,
            role_id,
            created: created.and_utc(),
            updated: updated.and_utc(),
        }
    }
}

/// Reads one user for the signed-in user, who must be allowed to see it. Reading oneself costs
/// no query: authentication has just read that row.
pub async fn get(signed_in: &mut Authenticated, id: u64) -> Result<User, ApiError> {
    signed_in.principal.authorize(Action::ReadUser { id })?;
    if id == signed_in.user.id {
        return Ok(signed_in.user.clone());
    }
    read_user(signed_in.conn(), id).await
}

/// One page of `GET /api/users`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserPage {
    pub items: Vec<User>,
    pub total: u64,
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
        "INSERT INTO users (name, cellnumber, email, profilepic, password_hash, role_id, created, updated) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            &name,
            &new.cellnumber,
            &new.email,
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
    let rows: Vec<UserRowWithTotal> = conn
        .exec(
            concat!(
                "SELECT ",
                user_columns!(),
                ", COUNT(*) OVER () FROM users u ORDER BY u.id LIMIT ? OFFSET ?"
            ),
            (limit, offset),
        )
        .await?;
    let total = match rows.first() {
        Some(row) => row.8,
        // Past the last page there is no row to carry the total.
        None => conn
            .query_first::<u64, _>("SELECT COUNT(*) FROM users")
            .await?
            .unwrap_or(0),
    };
    let items = rows
        .into_iter()
        .map(
            |(id, name, cellnumber, email, profilepic, role_id, created, updated, _)| {
                User::from((
                    id, name, cellnumber, email, profilepic, role_id, created, updated,
                ))
            },
        )
        .collect();
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
    if password_hash.is_none() && !demotes {
        // Nothing to keep atomic with the update: one statement, then the row.
        let conn = signed_in.conn();
        if !write_patch(conn, id, patch, None).await? {
            return Err(ApiError::NotFound);
        }
        return read_user(conn, id).await;
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
    let current: Option<u8> = tx
        .exec_first("SELECT role_id FROM users WHERE id = ? FOR UPDATE", (id,))
        .await?;
    let current_role = current.ok_or(ApiError::NotFound)?;
    if demotes && current_role == Role::Admin.id() {
        ensure_another_admin(tx, id).await?;
    }
    write_patch(tx, id, patch, password_hash).await?;
    read_user(tx, id).await
}

/// Writes the fields the patch names (and the new hash, revoking the user's tokens); false when
/// there is no such user. `updated` always moves, so a matched row always counts as changed.
async fn write_patch<Q: Queryable>(
    db: &mut Q,
    id: u64,
    patch: UserPatch,
    password_hash: Option<String>,
) -> Result<bool, ApiError> {
    if patch.is_empty() {
        let exists: Option<u8> = db
            .exec_first("SELECT 1 FROM users WHERE id = ?", (id,))
            .await?;
        return Ok(exists.is_some());
    }
    let (email_given, email) = split_nullable(patch.email);
    let (profilepic_given, profilepic) = split_nullable(patch.profilepic);
    let result = db
        .exec_iter(
            "UPDATE users SET \
           name = COALESCE(?, name), \
           cellnumber = COALESCE(?, cellnumber), \
           password_hash = COALESCE(?, password_hash), \
           email = IF(?, ?, email), \
           profilepic = IF(?, ?, profilepic), \
           role_id = COALESCE(?, role_id), \
           updated = GREATEST(?, updated + INTERVAL 1 MICROSECOND) \
         WHERE id = ?",
            (
                patch.name.as_deref().map(str::trim),
                &patch.cellnumber,
                &password_hash,
                email_given,
                email,
                profilepic_given,
                profilepic,
                patch.role_id.map(Role::id),
                now().naive_utc(),
                id,
            ),
        )
        .await
        .map_err(conflict_or)?;
    let matched = result.affected_rows() > 0;
    result.drop_result().await?;
    if !matched {
        return Ok(false);
    }
    if password_hash.is_some() {
        db.exec_drop("DELETE FROM access_token WHERE user_id = ?", (id,))
            .await?;
    }
    Ok(true)
}

/// The user `id`, or NotFound.
async fn read_user<Q: Queryable>(db: &mut Q, id: u64) -> Result<User, ApiError> {
    let row: Option<UserRow> = db.exec_first(SELECT_USER_BY_ID, (id,)).await?;
    row.map(User::from).ok_or(ApiError::NotFound)
}

/// `(given, value)` of a field that may be absent, null or set.
fn split_nullable(field: Option<Option<String>>) -> (bool, Option<String>) {
    match field {
        Some(value) => (true, value),
        None => (false, None),
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

/// What [`ensure_admin`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminBootstrap {
    Created(u64),
    /// The password or role differed and was reset; the user's old tokens are revoked.
    Reset(u64),
    Unchanged(u64),
}

/// Creates the admin `cellnumber`, or makes an existing user with it an admin with `password`.
/// Running it again with the same values changes nothing, so `make serve` can run it every time.
pub async fn ensure_admin(
    conn: &mut Conn,
    name: &str,
    cellnumber: &str,
    password: &str,
    bcrypt_cost: u32,
) -> Result<AdminBootstrap, ApiError> {
    use crate::validation::{cellnumber_rule, name_rule, password_rule};
    for (field, outcome) in [
        ("cellnumber", cellnumber_rule(cellnumber)),
        ("password", password_rule(password)),
        ("name", name_rule(name)),
    ] {
        if let Err(failure) = outcome {
            let msg = failure.message.map(|m| m.to_string()).unwrap_or_default();
            return Err(ApiError::validation(&[field], msg));
        }
    }
    let existing: Option<(u64, String, u8)> = conn
        .exec_first(
            "SELECT id, password_hash, role_id FROM users WHERE cellnumber = ?",
            (cellnumber,),
        )
        .await?;
    match existing {
        Some((id, hash, role_id)) => {
            if role_id == Role::Admin.id() && crate::password::verify(password, &hash).await {
                return Ok(AdminBootstrap::Unchanged(id));
            }
            let hash = crate::password::hash(password, bcrypt_cost).await?;
            let mut tx = conn.start_transaction(Default::default()).await?;
            tx.exec_drop(
                "UPDATE users SET password_hash = ?, role_id = 1, \
                 updated = GREATEST(UTC_TIMESTAMP(6), updated + INTERVAL 1 MICROSECOND) WHERE id = ?",
                (hash, id),
            )
            .await?;
            tx.exec_drop("DELETE FROM access_token WHERE user_id = ?", (id,))
                .await?;
            tx.commit().await?;
            Ok(AdminBootstrap::Reset(id))
        }
        None => {
            let hash = crate::password::hash(password, bcrypt_cost).await?;
            conn.exec_drop(
                "INSERT INTO users (name, cellnumber, password_hash, role_id, created, updated) \
                 VALUES (?, ?, ?, 1, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))",
                (name.trim(), cellnumber, hash),
            )
            .await?;
            Ok(AdminBootstrap::Created(
                conn.last_insert_id().unwrap_or_default(),
            ))
        }
    }
}
