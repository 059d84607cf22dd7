//! What an event can hold: each action with exactly the keys of its `detail`, none of which can be
//! a password, a hash or a token.

use serde_json::json;

/// Why a login was refused: the `reason` of a `login.failed` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginFailure {
    /// Wrong password or unknown cellnumber (401).
    Credentials,
    /// Too many attempts (429).
    Throttled,
    /// The right password of a disabled account (403).
    Disabled,
    /// A wrong second-factor code at the second step of a login (401).
    Mfa,
}

impl LoginFailure {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Credentials => "credentials",
            Self::Throttled => "throttled",
            Self::Disabled => "disabled",
            Self::Mfa => "mfa",
        }
    }
}

/// One auditable event, with its detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event<'a> {
    LoginSucceeded {
        session_id: &'a str,
    },
    LoginFailed {
        /// `None` when what was typed is not a valid cellnumber: often a password in the wrong
        /// field, which must not be kept.
        cellnumber: Option<&'a str>,
        reason: LoginFailure,
    },
    Logout {
        scope: &'a str,
    },
    SessionRevoked {
        session_id: &'a str,
    },
    SessionsRevoked,
    RefreshReused {
        session_id: &'a str,
    },
    PasswordChanged,
    UserCreated {
        role_id: u8,
    },
    UserUpdated {
        fields: Vec<&'static str>,
    },
    UserDeleted {
        cellnumber: &'a str,
    },
    /// `POST /api/users/password/forgot` for a cellnumber that has an account; `sent` when a
    /// text with a code went out (not for a disabled account, nor beyond the per-number limits).
    PasswordResetRequested {
        sent: bool,
    },
    /// A password set with a recovery code.
    PasswordReset,
    /// A sign-up verified with its code: the new user is actor and target.
    SignupCompleted,
    /// An operator's `bootstrap-admin` created the first admin or (with `force`) reset an
    /// admin's password: no signed-in actor, no address, but never silent.
    AdminBootstrapped {
        outcome: &'static str,
    },
    /// The user turned its second factor on.
    MfaEnabled,
    /// The user turned it off, or an admin did (the actor tells which).
    MfaDisabled,
    MfaRecoveryCodesRenewed,
    /// A login finished with a recovery code; `remaining` unused codes are left.
    MfaRecoveryCodeUsed {
        remaining: u64,
    },
}

/// Every action, as `GET /api/audit?action=` names it.
pub const ACTIONS: [&str; 18] = [
    "login.succeeded",
    "login.failed",
    "logout",
    "session.revoked",
    "sessions.revoked",
    "refresh.reused",
    "password.changed",
    "user.created",
    "user.updated",
    "user.deleted",
    "password.reset.requested",
    "password.reset",
    "signup.completed",
    "admin.bootstrapped",
    "mfa.enabled",
    "mfa.disabled",
    "mfa.recovery_codes.renewed",
    "mfa.recovery_code.used",
];

impl Event<'_> {
    pub fn action(&self) -> &'static str {
        match self {
            Self::LoginSucceeded { .. } => "login.succeeded",
            Self::LoginFailed { .. } => "login.failed",
            Self::Logout { .. } => "logout",
            Self::SessionRevoked { .. } => "session.revoked",
            Self::SessionsRevoked => "sessions.revoked",
            Self::RefreshReused { .. } => "refresh.reused",
            Self::PasswordChanged => "password.changed",
            Self::UserCreated { .. } => "user.created",
            Self::UserUpdated { .. } => "user.updated",
            Self::UserDeleted { .. } => "user.deleted",
            Self::PasswordResetRequested { .. } => "password.reset.requested",
            Self::PasswordReset => "password.reset",
            Self::SignupCompleted => "signup.completed",
            Self::AdminBootstrapped { .. } => "admin.bootstrapped",
            Self::MfaEnabled => "mfa.enabled",
            Self::MfaDisabled => "mfa.disabled",
            Self::MfaRecoveryCodesRenewed => "mfa.recovery_codes.renewed",
            Self::MfaRecoveryCodeUsed { .. } => "mfa.recovery_code.used",
        }
    }

    /// The `detail` object: exactly the keys of the contract's table.
    pub fn detail(&self) -> serde_json::Value {
        match self {
            Self::LoginSucceeded { session_id }
            | Self::SessionRevoked { session_id }
            | Self::RefreshReused { session_id } => json!({ "sessionId": session_id }),
            Self::LoginFailed { cellnumber, reason } => json!({
                "cellnumber": cellnumber,
                "reason": reason.as_str(),
            }),
            Self::Logout { scope } => json!({ "scope": scope }),
            Self::SessionsRevoked
            | Self::PasswordChanged
            | Self::PasswordReset
            | Self::SignupCompleted
            | Self::MfaEnabled
            | Self::MfaDisabled
            | Self::MfaRecoveryCodesRenewed => json!({}),
            Self::MfaRecoveryCodeUsed { remaining } => json!({ "remaining": remaining }),
            Self::UserCreated { role_id } => json!({ "roleId": role_id }),
            Self::UserUpdated { fields } => json!({ "fields": fields }),
            Self::UserDeleted { cellnumber } => json!({ "cellnumber": cellnumber }),
            Self::PasswordResetRequested { sent } => json!({ "sent": sent }),
            Self::AdminBootstrapped { outcome } => json!({ "outcome": outcome }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_is_listed_once_with_the_keys_of_its_detail() {
        let events = [
            Event::LoginSucceeded { session_id: "s" },
            Event::LoginFailed {
                cellnumber: Some("+15550001234"),
                reason: LoginFailure::Throttled,
            },
            Event::Logout { scope: "local" },
            Event::SessionRevoked { session_id: "s" },
            Event::SessionsRevoked,
            Event::RefreshReused { session_id: "s" },
            Event::PasswordChanged,
            Event::UserCreated { role_id: 2 },
            Event::UserUpdated {
                fields: vec!["name"],
            },
            Event::UserDeleted {
                cellnumber: "+1555",
            },
            Event::PasswordResetRequested { sent: true },
            Event::PasswordReset,
            Event::SignupCompleted,
            Event::AdminBootstrapped { outcome: "reset" },
            Event::MfaEnabled,
            Event::MfaDisabled,
            Event::MfaRecoveryCodesRenewed,
            Event::MfaRecoveryCodeUsed { remaining: 9 },
        ];
        let actions: Vec<&str> = events.iter().map(Event::action).collect();
        assert_eq!(actions, ACTIONS);
        let keys = |event: &Event| -> Vec<String> {
            event
                .detail()
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect()
        };
        assert_eq!(keys(&events[1]), ["cellnumber", "reason"]);
        let unusable = Event::LoginFailed {
            cellnumber: None,
            reason: LoginFailure::Credentials,
        };
        assert!(unusable.detail()["cellnumber"].is_null());
        assert_eq!(keys(&events[4]), Vec::<String>::new());
        assert_eq!(keys(&events[8]), ["fields"]);
        assert_eq!(keys(&events[10]), ["sent"]);
        assert_eq!(keys(&events[12]), Vec::<String>::new());
        assert_eq!(keys(&events[17]), ["remaining"]);
        assert_eq!(LoginFailure::Mfa.as_str(), "mfa");
    }
}
