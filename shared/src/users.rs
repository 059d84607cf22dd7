//! The user record and its store.

use chrono::{DateTime, NaiveDateTime, Utc};
use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use serde::Serialize;

use crate::auth::Authenticated;
use crate::error::ApiError;
use crate::policy::{Action, Role};

/// A user as the API shows it: never with a password or its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: u64,
    pub name: String,
    pub cellnumber: String,
    pub email: Option<String>,
    pub profilepic: Option<String>,
    #[serde(rename = "roleId")]
    pub role_id: u8,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
}

/// The columns of [`UserRow`], for queries that alias `users` as `u`.
pub(crate) const USER_COLUMNS: &str =
    "u.id, u.name, u.cellnumber, u.email, u.profilepic, u.role_id, u.created, u.updated";

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

pub async fn find_by_id(conn: &mut Conn, id: u64) -> Result<Option<User>, ApiError> {
    let row: Option<UserRow> = conn
        .exec_first(
            format!("SELECT {USER_COLUMNS} FROM users u WHERE u.id = ?"),
            (id,),
        )
        .await?;
    Ok(row.map(User::from))
}

/// Reads one user for the signed-in user, who must be allowed to see it. Reading oneself costs
/// no query: authentication has just read that row.
pub async fn get(app: &crate::App, signed_in: &Authenticated, id: u64) -> Result<User, ApiError> {
    signed_in.principal.authorize(Action::ReadUser { id })?;
    if id == signed_in.user.id {
        return Ok(signed_in.user.clone());
    }
    let mut conn = app.conn().await?;
    find_by_id(&mut conn, id).await?.ok_or(ApiError::NotFound)
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
