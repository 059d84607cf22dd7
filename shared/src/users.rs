//! The user record and its store.

use chrono::{DateTime, Utc};
use mysql_async::Row;
use serde::Serialize;

use crate::audit::{self, Event, Parties, RowCondition};
use crate::auth::Authenticated;
use crate::error::ApiError;
use crate::policy::{Action, Role};
use crate::sessions::{end_sessions, Ended};
use crate::source_ip::SourceIp;
use crate::sql_batch::{self, Statement};
use crate::statements::{DbConn, DbTx, Statements};
pub use crate::user::User;
use crate::user::{user_columns, USER_COLUMNS};
use crate::validation::{self, NewUser, ProfilePatch, UserPatch};
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

pub use crate::user_search::{DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT};

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
    source: &SourceIp,
) -> Result<User, ApiError> {
    signed_in.principal.authorize(Action::CreateUser)?;
    validation::check(&new)?;
    let password_hash = password::hash(&new.password, app.config.bcrypt_cost).await?;
    let created = now();
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
    let outcomes = sql_batch::run_in_transaction(signed_in.conn(), &statements)
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
        created,
        updated: created,
    })
}

/// A page of the users that match `search` (see [`crate::user_search`]).
pub async fn list(
    signed_in: &mut Authenticated,
    search: &crate::user_search::UserSearch,
) -> Result<UserPage, ApiError> {
    signed_in.principal.authorize(Action::ListUsers)?;
    let (limit, offset) = (search.limit, search.offset);
    let (filter, params) = search.filter();
    // The page and the total in one round trip. Without `q` the total is an uncorrelated
    // subquery, which the server runs once over an index, and the page is read in the order of
    // an index: `COUNT(*) OVER ()` would materialize and sort every row first (0.7 s instead of
    // 0.05 s for a page of 100,000 users; see make bench). With `q`, which no index serves, one
    // scan that keeps the matches and counts them beats two scans.
    let (total_column, filters) = if search.q.is_some() {
        ("COUNT(*) OVER ()".to_owned(), 1)
    } else {
        (format!("(SELECT COUNT(*) FROM users u{filter})"), 2)
    };
    let mut page_params = Vec::with_capacity(params.len() * filters + 2);
    for _ in 0..filters {
        page_params.extend(params.iter().cloned());
    }
    page_params.push(limit.into());
    page_params.push(offset.into());
    let conn = signed_in.conn();
    let rows: Vec<Row> = conn
        .rows(
            &format!(
                concat!(
                    "SELECT ",
                    user_columns!(u),
                    ", {total} FROM users u{filter} ORDER BY {order} LIMIT ? OFFSET ?"
                ),
                total = total_column,
                filter = filter,
                order = search.sort.order_by()
            ),
            page_params,
        )
        .await?;
    let total = match rows.first() {
        Some(row) => row
            .get_opt::<u64, _>(USER_COLUMNS)
            .and_then(Result::ok)
            .ok_or_else(|| ApiError::Internal("the page's total is missing".into()))?,
        // Past the last page there is no row to carry the total.
        None => conn
            .first::<u64>(&format!("SELECT COUNT(*) FROM users u{filter}"), params)
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

/// The ids of the active admins, their rows locked until the transaction ends. Every request
/// that may take away an active admin (delete, demote, disable) runs this first, so such
/// requests lock those rows in one order (by primary key) and wait for each other instead of
/// deadlocking: the second sees what the first did. The rows are locked by their primary key
/// (record locks only): a locking range scan of the role index would also lock its gaps, which
/// the first request's own update of the index then waits on, a deadlock.
async fn lock_active_admins(tx: &mut DbTx<'_>) -> Result<Vec<u64>, ApiError> {
    let candidates: Vec<u64> = tx
        .rows(
            "SELECT id FROM users WHERE role_id = 1 AND is_active ORDER BY id",
            (),
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
                 WHERE id IN ({placeholders}) AND role_id = 1 AND is_active ORDER BY id FOR UPDATE"
            ),
            candidates,
        )
        .await?)
}

/// Refuses to leave the service without an active admin: `current` becoming `next` must not
/// take away the last of `active_admins` (read under [`lock_active_admins`]).
fn ensure_an_active_admin_remains(
    active_admins: &[u64],
    current: &User,
    next: Option<&User>,
) -> Result<(), ApiError> {
    let was_active_admin = current.role_id == Role::Admin.id() && current.is_active;
    let stays_active_admin =
        next.is_some_and(|next| next.role_id == Role::Admin.id() && next.is_active);
    if was_active_admin && !stays_active_admin && !active_admins.iter().any(|&a| a != current.id) {
        return Err(ApiError::Conflict("Cannot remove the last admin"));
    }
    Ok(())
}

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

/// User `id` as it was read at `updated`, if no one changed it since.
fn unchanged_since(id: u64, updated: DateTime<Utc>) -> RowCondition {
    RowCondition::new(
        "users WHERE id = ? AND updated = ?",
        [id.into(), updated.naive_utc().into()],
    )
}

/// The user `id`, or NotFound.
async fn read_user<Q: Statements>(db: &mut Q, id: u64) -> Result<User, ApiError> {
    find_user(db, id).await?.ok_or(ApiError::NotFound)
}

async fn find_user<Q: Statements>(db: &mut Q, id: u64) -> Result<Option<User>, ApiError> {
    user_of(db.first(SELECT_USER_BY_ID, (id,)).await?)
}

/// [`find_user`], locking the row until the transaction ends.
async fn find_user_locked(tx: &mut DbTx<'_>, id: u64) -> Result<Option<User>, ApiError> {
    user_of(tx.first(SELECT_USER_BY_ID_FOR_UPDATE, (id,)).await?)
}

fn user_of(row: Option<Row>) -> Result<Option<User>, ApiError> {
    match row {
        Some(mut row) => User::from_row_at(&mut row, 0),
        None => Ok(None),
    }
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
    if let Some(current) = read.filter(|u| !(u.role_id == Role::Admin.id() && u.is_active)) {
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
        let outcomes = sql_batch::run_in_transaction(signed_in.conn(), &statements).await?;
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
