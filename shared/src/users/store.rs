//! Every statement of the users table: reading a user, storing a change if the row is as read,
//! locking the active admins, and the 409 a unique index answers. The rules that decide what to
//! store are in [`super::rules`].

use crate::db::Row;
use chrono::{DateTime, Utc};

use crate::audit::{self, Event, Parties, RowCondition};
use crate::auth::account::{user_columns, User};
use crate::auth::policy::Role;
use crate::db::batch::{self, Statement};
use crate::db::statements::{DbConn, DbTx, Statements};
use crate::error::ApiError;
use crate::users::validation;

const SELECT_USER_BY_ID: &str =
    concat!("SELECT ", user_columns!(u), " FROM users u WHERE u.id = ?");
const SELECT_USER_BY_ID_FOR_UPDATE: &str = concat!(
    "SELECT ",
    user_columns!(u),
    " FROM users u WHERE u.id = ? FOR UPDATE"
);

/// The unique index a duplicate-key error names, as the 409 the contract asks for. Deciding by
/// the index (not by a read before the write) is what makes concurrent creates safe.
pub(crate) fn conflict_or(error: crate::db::Error) -> ApiError {
    if let crate::db::Error::Server(server) = &error {
        if server.code == crate::db::errors::codes::DUPLICATE_ENTRY {
            return if server.message.contains("uq_users_email") {
                ApiError::Conflict("Email already registered")
            } else {
                ApiError::Conflict("Cellnumber already registered")
            };
        }
    }
    ApiError::from(error)
}

/// User `id` as it was read at `updated`, if no one changed it since.
pub(crate) fn unchanged_since(id: u64, updated: DateTime<Utc>) -> RowCondition {
    RowCondition::new(
        "users WHERE id = ? AND updated = ?",
        [id.into(), updated.naive_utc().into()],
    )
}

/// The user `id`, or NotFound.
pub(crate) async fn read_user<Q: Statements>(db: &mut Q, id: u64) -> Result<User, ApiError> {
    find_user(db, id).await?.ok_or(ApiError::NotFound)
}

pub(crate) async fn find_user<Q: Statements>(
    db: &mut Q,
    id: u64,
) -> Result<Option<User>, ApiError> {
    user_of(db.first(SELECT_USER_BY_ID, (id,)).await?)
}

/// [`find_user`], locking the row until the transaction ends.
pub(crate) async fn find_user_locked(tx: &mut DbTx<'_>, id: u64) -> Result<Option<User>, ApiError> {
    user_of(tx.first(SELECT_USER_BY_ID_FOR_UPDATE, (id,)).await?)
}

fn user_of(row: Option<Row>) -> Result<Option<User>, ApiError> {
    match row {
        Some(mut row) => User::from_row_at(&mut row, 0),
        None => Ok(None),
    }
}

/// The ids of the active admins, their rows locked until the transaction ends. Every request
/// that may take away an active admin (delete, demote, disable) runs this first, so such
/// requests lock those rows in one order (by primary key) and wait for each other instead of
/// deadlocking: the second sees what the first did. The rows are locked by their primary key
/// (record locks only): a locking range scan of the role index would also lock its gaps, which
/// the first request's own update of the index then waits on, a deadlock.
pub(crate) async fn lock_active_admins(tx: &mut DbTx<'_>) -> Result<Vec<u64>, ApiError> {
    let candidates: Vec<u64> = tx
        .rows(
            "SELECT id FROM users WHERE role_id = ? AND is_active ORDER BY id",
            (Role::Admin.id(),),
        )
        .await?;
    if candidates.is_empty() {
        return Ok(candidates);
    }
    let placeholders = vec!["?"; candidates.len()].join(", ");
    // A locking read sees the latest committed rows, whatever the snapshot of the first.
    Ok(tx
        .rows(
            &format!(
                "SELECT id FROM users FORCE INDEX (PRIMARY) \
                 WHERE id IN ({placeholders}) AND role_id = ? AND is_active ORDER BY id FOR UPDATE"
            ),
            candidates
                .into_iter()
                .map(crate::db::Value::from)
                .chain([Role::Admin.id().into()])
                .collect::<Vec<_>>(),
        )
        .await?)
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
) -> Vec<crate::db::Value> {
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
pub(crate) async fn write_if_unchanged<Q: Statements>(
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
pub(crate) async fn write_audited_if_unchanged(
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
    let outcomes = batch::run_in_transaction(conn, &statements)
        .await
        .map_err(conflict_or)?;
    Ok(outcomes[1].affected_rows == 1)
}
