//! The rule that the service always keeps an active admin: what delete, demotion and disabling
//! must check, under the locks that make the check hold.

use crate::auth::account::User;
use crate::error::ApiError;
use crate::policy::Role;
use crate::statements::{DbTx, Statements};

/// The ids of the active admins, their rows locked until the transaction ends. Every request
/// that may take away an active admin (delete, demote, disable) runs this first, so such
/// requests lock those rows in one order (by primary key) and wait for each other instead of
/// deadlocking: the second sees what the first did. The rows are locked by their primary key
/// (record locks only): a locking range scan of the role index would also lock its gaps, which
/// the first request's own update of the index then waits on, a deadlock.
pub(crate) async fn lock_active_admins(tx: &mut DbTx<'_>) -> Result<Vec<u64>, ApiError> {
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
pub(crate) fn ensure_an_active_admin_remains(
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
