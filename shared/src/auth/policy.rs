//! Who may do what: the one place the roles are interpreted.

use serde::{Deserialize, Serialize};

use crate::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub enum Role {
    Admin = 1,
    User = 2,
}

impl Role {
    pub fn id(self) -> u8 {
        self as u8
    }
}

impl TryFrom<u8> for Role {
    type Error = String;
    fn try_from(id: u8) -> Result<Self, Self::Error> {
        match id {
            1 => Ok(Self::Admin),
            2 => Ok(Self::User),
            other => Err(format!(
                "unknown role id {other}; expected 1 (admin) or 2 (user)"
            )),
        }
    }
}

impl From<Role> for u8 {
    fn from(role: Role) -> u8 {
        role.id()
    }
}

/// Something a signed-in user asks to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Read, log out, change one's own password: every signed-in user.
    ActOnSelf,
    ReadUser {
        id: u64,
    },
    ListUsers,
    CreateUser,
    UpdateUser,
    DeleteUser,
    /// End every session of another user (sign it out everywhere).
    EndSessionsOfUser,
    /// Read the audit log.
    ReadAudit,
}

/// The signed-in user, with the role the database holds now (not the one in the token).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Principal {
    pub user_id: u64,
    pub role: Role,
}

impl Principal {
    pub fn authorize(&self, action: Action) -> Result<(), ApiError> {
        let allowed = match (self.role, action) {
            (Role::Admin, _) => true,
            (Role::User, Action::ActOnSelf) => true,
            (Role::User, Action::ReadUser { id }) => id == self.user_id,
            (
                Role::User,
                Action::ListUsers
                | Action::CreateUser
                | Action::UpdateUser
                | Action::DeleteUser
                | Action::EndSessionsOfUser
                | Action::ReadAudit,
            ) => false,
        };
        if allowed {
            Ok(())
        } else {
            Err(ApiError::Forbidden)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADMIN: Principal = Principal {
        user_id: 1,
        role: Role::Admin,
    };
    const USER: Principal = Principal {
        user_id: 7,
        role: Role::User,
    };

    #[test]
    fn an_admin_may_do_everything() {
        for action in [
            Action::ActOnSelf,
            Action::ReadUser { id: 99 },
            Action::ListUsers,
            Action::CreateUser,
            Action::UpdateUser,
            Action::DeleteUser,
            Action::EndSessionsOfUser,
            Action::ReadAudit,
        ] {
            assert!(ADMIN.authorize(action).is_ok(), "{action:?}");
        }
    }

    #[test]
    fn a_user_may_act_on_itself_and_read_only_its_own_record() {
        assert!(USER.authorize(Action::ActOnSelf).is_ok());
        assert!(USER.authorize(Action::ReadUser { id: 7 }).is_ok());
        for action in [
            Action::ReadUser { id: 1 },
            Action::ListUsers,
            Action::CreateUser,
            Action::UpdateUser,
            Action::DeleteUser,
            Action::EndSessionsOfUser,
            Action::ReadAudit,
        ] {
            assert!(
                matches!(USER.authorize(action), Err(ApiError::Forbidden)),
                "{action:?}"
            );
        }
    }

    #[test]
    fn role_ids_round_trip_and_unknown_ids_are_refused() {
        assert_eq!(Role::try_from(1), Ok(Role::Admin));
        assert_eq!(Role::try_from(2), Ok(Role::User));
        assert!(Role::try_from(0).is_err());
        assert!(Role::try_from(3).is_err());
        assert_eq!(serde_json::to_string(&Role::User).unwrap(), "2");
    }
}
