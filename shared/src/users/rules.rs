//! The rules of changing a user, apart from the SQL that stores them, so that each is tested
//! without a database: what a patch means, which fields it changed, when it must take the locking
//! path, when it ends sessions, and that an active admin always remains.

use chrono::{DateTime, Utc};

use crate::auth::account::User;
use crate::auth::policy::Role;
use crate::error::ApiError;
use crate::users::validation::UserPatch;

/// Whether going from `current` to `next` must take the locking path: it may take away an active
/// admin (the last-active-admin check must hold with it) or it ends the user's sessions.
pub(crate) fn needs_lock(current: &User, next: &User) -> bool {
    (current.is_active_admin() && !next.is_active_admin()) || ends_sessions(current, next, false)
}

/// The names of the fields a patch changed, as the `user.updated` event lists them.
pub(crate) fn changed_fields(current: &User, next: &User, new_password: bool) -> Vec<&'static str> {
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

/// Whether going from `current` to `next` (with a new password or not) ends the user's sessions:
/// a new password, or a disabled account.
pub(crate) fn ends_sessions(current: &User, next: &User, new_password: bool) -> bool {
    new_password || (current.is_active && !next.is_active)
}

/// Whether `patch` may take away an active admin (demote or disable someone), so the active
/// admins must be locked first.
pub(crate) fn may_remove_an_admin(patch: &UserPatch) -> bool {
    patch.role_id == Some(Role::User) || patch.is_active == Some(false)
}

/// `current` with the patch applied: what the row becomes and the response shows. The one place
/// a patch's meaning is decided (absent: unchanged; null: cleared; a name: trimmed).
pub(crate) fn patched(current: &User, patch: &UserPatch, now: DateTime<Utc>) -> User {
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
    next.updated = now.max(current.updated + chrono::TimeDelta::microseconds(1));
    next
}

/// Refuses to leave the service without an active admin: `current` becoming `next` must not
/// take away the last of `active_admins` (read under [`lock_active_admins`]).
pub(crate) fn ensure_an_active_admin_remains(
    active_admins: &[u64],
    current: &User,
    next: Option<&User>,
) -> Result<(), ApiError> {
    let stays_active_admin = next.is_some_and(User::is_active_admin);
    if current.is_active_admin()
        && !stays_active_admin
        && !active_admins.iter().any(|&a| a != current.id)
    {
        return Err(ApiError::Conflict("Cannot remove the last admin"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn user(id: u64, role: Role, is_active: bool) -> User {
        let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        User {
            id,
            name: "Ada".into(),
            cellnumber: format!("+1555000{id:04}"),
            email: Some("ada@example.com".into()),
            profilepic: None,
            role_id: role.id(),
            is_active,
            mfa_enabled: false,
            created: at,
            updated: at,
        }
    }

    fn patch(json: serde_json::Value) -> UserPatch {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn a_patch_changes_what_it_names_clears_what_is_null_and_trims_the_name() {
        let current = user(7, Role::User, true);
        let now = current.updated + chrono::TimeDelta::seconds(5);
        let next = patched(
            &current,
            &patch(serde_json::json!({"name": "  Ada King  ", "email": null})),
            now,
        );
        assert_eq!(next.name, "Ada King");
        assert_eq!(next.email, None);
        assert_eq!(next.cellnumber, current.cellnumber);
        assert_eq!(next.profilepic, None);
        assert_eq!(next.updated, now);
        assert_eq!(changed_fields(&current, &next, false), ["name", "email"]);
        assert_eq!(changed_fields(&current, &current, true), ["password"]);
    }

    #[test]
    fn updated_always_moves_forward_even_when_the_clock_does_not() {
        let current = user(7, Role::User, true);
        let earlier = current.updated - chrono::TimeDelta::seconds(1);
        let next = patched(&current, &patch(serde_json::json!({"name": "B"})), earlier);
        assert!(next.updated > current.updated);
    }

    #[test]
    fn demoting_or_disabling_an_active_admin_and_disabling_anyone_take_the_lock() {
        let admin = user(1, Role::Admin, true);
        let demoted = patched(
            &admin,
            &patch(serde_json::json!({"roleId": 2})),
            admin.updated,
        );
        let disabled = patched(
            &admin,
            &patch(serde_json::json!({"isActive": false})),
            admin.updated,
        );
        let renamed = patched(
            &admin,
            &patch(serde_json::json!({"name": "B"})),
            admin.updated,
        );
        assert!(needs_lock(&admin, &demoted));
        assert!(needs_lock(&admin, &disabled));
        assert!(!needs_lock(&admin, &renamed));
        let member = user(2, Role::User, true);
        let disabled = patched(
            &member,
            &patch(serde_json::json!({"isActive": false})),
            member.updated,
        );
        assert!(needs_lock(&member, &disabled) && ends_sessions(&member, &disabled, false));
        let enabled = patched(
            &disabled,
            &patch(serde_json::json!({"isActive": true})),
            member.updated,
        );
        assert!(!needs_lock(&disabled, &enabled) && !ends_sessions(&disabled, &enabled, false));
        assert!(may_remove_an_admin(&patch(
            serde_json::json!({"roleId": 2})
        )));
        assert!(may_remove_an_admin(&patch(
            serde_json::json!({"isActive": false})
        )));
        assert!(!may_remove_an_admin(&patch(
            serde_json::json!({"roleId": 1, "isActive": true})
        )));
    }

    #[test]
    fn the_last_active_admin_cannot_be_removed_but_another_can() {
        let admin = user(1, Role::Admin, true);
        let demoted = User {
            role_id: Role::User.id(),
            ..admin.clone()
        };
        let disabled = User {
            is_active: false,
            ..admin.clone()
        };
        for next in [Some(&demoted), Some(&disabled), None] {
            assert!(matches!(
                ensure_an_active_admin_remains(&[1], &admin, next),
                Err(ApiError::Conflict(_))
            ));
            assert!(ensure_an_active_admin_remains(&[1, 2], &admin, next).is_ok());
        }
        // Keeping the admin active, or removing a normal user, needs no other admin.
        assert!(ensure_an_active_admin_remains(&[1], &admin, Some(&admin)).is_ok());
        let member = user(2, Role::User, true);
        assert!(ensure_an_active_admin_remains(&[1], &member, None).is_ok());
        // A disabled admin is no active admin to lose.
        let inactive = user(3, Role::Admin, false);
        assert!(ensure_an_active_admin_remains(&[1], &inactive, None).is_ok());
    }
}
