//! Users: reading, creating, listing and deleting them (`update` changes them). What a change
//! means is decided by `rules`, what is stored by `store`.

pub mod credentials;
pub mod first_admin;
mod rules;
pub mod search;
mod store;
mod update;
pub mod validation;

use self::rules::ensure_an_active_admin_remains;
pub(crate) use self::store::conflict_or;
use self::store::{find_user_locked, lock_active_admins, read_user, unchanged_since};
use crate::audit::{self, Event, Parties, RowCondition};
use crate::auth::account::user_columns;
pub use crate::auth::account::User;
use crate::auth::password;
use crate::auth::policy::{Action, Role};
use crate::auth::source_ip::SourceIp;
use crate::auth::Authenticated;
use crate::db;
use crate::db::batch::{self, Statement};
use crate::db::statements::{DbTx, Statements};
use crate::error::ApiError;
use crate::paging::{page_rows, PageQuery, Total};
use crate::users::validation::NewUser;

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

pub use self::update::{update, update_me};
pub use crate::paging::{Page, DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT};

pub async fn create(
    app: &crate::App,
    signed_in: &mut Authenticated,
    new: NewUser,
    source: &SourceIp,
) -> Result<User, ApiError> {
    signed_in.principal.authorize(Action::CreateUser)?;
    validation::check(&new)?;
    let password_hash = password::hash(&new.password, app.config.bcrypt_cost).await?;
    let created = db::now();
    let role = new.role_id.unwrap_or(Role::User);
    let is_active = new.is_active.unwrap_or(true);
    let name = new.name.trim().to_owned();
    let parties = Parties {
        actor_id: Some(signed_in.user.id),
        target_id: None,
        source,
    };
    // The user and its event in one transaction and one round trip.
    let statements = [
        Statement::new(
            "INSERT INTO users (name, cellnumber, email, email_key, profilepic, password_hash, \
             role_id, is_active, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            &[
                name.as_str().into(),
                new.cellnumber.as_str().into(),
                new.email.as_deref().into(),
                new.email.as_deref().map(validation::email_key).into(),
                new.profilepic.as_deref().into(),
                password_hash.into(),
                role.id().into(),
                is_active.into(),
                created.naive_utc().into(),
                created.naive_utc().into(),
            ],
        ),
        audit::insert_for_new_row(
            parties,
            &Event::UserCreated { role_id: role.id() },
            RowCondition::new(
                "users WHERE cellnumber = ?",
                [new.cellnumber.as_str().into()],
            ),
        ),
    ];
    let outcomes = batch::run_in_transaction(signed_in.conn(), &statements)
        .await
        .map_err(conflict_or)?;
    let id = outcomes[0]
        .last_insert_id
        .ok_or_else(|| ApiError::Internal("insert returned no id".into()))?;
    Ok(User {
        id,
        name,
        cellnumber: new.cellnumber,
        email: new.email,
        profilepic: new.profilepic,
        role_id: role.id(),
        is_active,
        // A new user has no second factor until it turns one on.
        mfa_enabled: false,
        created,
        updated: created,
    })
}

/// A page of the users that match `search` (see [`search`]).
pub async fn list(
    signed_in: &mut Authenticated,
    search: &search::UserSearch,
) -> Result<Page<User>, ApiError> {
    signed_in.principal.authorize(Action::ListUsers)?;
    let (filter, params) = search.filter();
    let query = PageQuery {
        columns: user_columns!(u),
        from: "users u",
        filter: &filter,
        params: &params,
        order_by: search.sort.order_by(),
        // With `q`, which no index serves, one scan that keeps the matches and counts them.
        total: if search.q.is_some() {
            Total::Window
        } else {
            Total::Subquery
        },
        limit: search.limit,
        offset: search.offset,
    };
    let (rows, total) = page_rows(signed_in.conn(), &query).await?;
    let mut items = Vec::with_capacity(rows.len());
    for mut row in rows {
        items.extend(User::from_row_at(&mut row, 0)?);
    }
    Ok(Page {
        items,
        total,
        limit: search.limit,
        offset: search.offset,
    })
}

/// Deletes user `id` with its tokens (ON DELETE CASCADE) and records it. The delete-user handler
/// authenticates with [`crate::auth::authenticate_about`], so the user is read with the token.
pub async fn delete(
    signed_in: &mut Authenticated,
    id: u64,
    source: &SourceIp,
) -> Result<(), ApiError> {
    signed_in.principal.authorize(Action::DeleteUser)?;
    let parties = Parties {
        actor_id: Some(signed_in.user.id),
        target_id: Some(id),
        source,
    };
    // Anyone but an active admin (the usual case): one batch deletes the row as it was read and
    // records it. An active admin, or a row that changed meanwhile, takes the locking path.
    let read = match signed_in.take_subject(id) {
        Some(found) => Some(found.ok_or(ApiError::NotFound)?),
        None => None,
    };
    if let Some(current) = read.filter(|u| !u.is_active_admin()) {
        let statements = [
            audit::insert_if_row(
                parties,
                &Event::UserDeleted {
                    cellnumber: &current.cellnumber,
                },
                unchanged_since(id, current.updated),
            ),
            Statement::new(
                "DELETE FROM users WHERE id = ? AND updated = ?",
                &[id.into(), current.updated.naive_utc().into()],
            ),
        ];
        let outcomes = batch::run_in_transaction(signed_in.conn(), &statements).await?;
        if outcomes[1].affected_rows == 1 {
            return Ok(());
        }
    }
    let mut tx = signed_in.conn().begin().await?;
    let outcome = delete_in(&mut tx, id, parties).await;
    db::finish(tx, outcome).await
}

async fn delete_in(tx: &mut DbTx<'_>, id: u64, parties: Parties<'_>) -> Result<(), ApiError> {
    let active_admins = lock_active_admins(tx).await?;
    let current = find_user_locked(tx, id).await?.ok_or(ApiError::NotFound)?;
    ensure_an_active_admin_remains(&active_admins, &current, None)?;
    // The user's tokens go with it (ON DELETE CASCADE).
    tx.run("DELETE FROM users WHERE id = ?", (id,)).await?;
    audit::record(
        tx,
        parties,
        &Event::UserDeleted {
            cellnumber: &current.cellnumber,
        },
    )
    .await?;
    Ok(())
}
