//! Schemas that only the document has: the error bodies `ApiError` writes, and the closed sets the
//! server parses from text (a query parameter, a stored event) that generated clients should see
//! as enums. Each is checked against what the server accepts or writes in the tests below.

use utoipa::ToSchema;

use crate::audit::AuditEvent;
use crate::error::FieldError;
use crate::users::User;

/// Every error but a 422: what went wrong, in a sentence.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(super) struct ErrorBody {
    #[schema(min_length = 1, example = "User not found")]
    detail: String,
}

/// A 422: every invalid input, as a `{loc, msg}` (the shape FastAPI clients parse).
#[derive(ToSchema)]
#[allow(dead_code)]
pub(super) struct ValidationErrorBody {
    #[schema(min_items = 1)]
    detail: Vec<FieldError>,
}

/// Which sessions a logout ends: `local` (the default) the session of the token used, `others`
/// every other session of the user, `global` all of them.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub(super) enum LogoutScope {
    Local,
    Others,
    Global,
}

/// The order of a page of users: a field, descending with a leading `-`; ties by id.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(super) enum UserSort {
    #[schema(rename = "id")]
    Id,
    #[schema(rename = "-id")]
    IdDesc,
    #[schema(rename = "name")]
    Name,
    #[schema(rename = "-name")]
    NameDesc,
    #[schema(rename = "created")]
    Created,
    #[schema(rename = "-created")]
    CreatedDesc,
}

/// What an audit event records.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(super) enum AuditAction {
    #[schema(rename = "login.succeeded")]
    LoginSucceeded,
    #[schema(rename = "login.failed")]
    LoginFailed,
    #[schema(rename = "logout")]
    Logout,
    #[schema(rename = "session.revoked")]
    SessionRevoked,
    #[schema(rename = "sessions.revoked")]
    SessionsRevoked,
    #[schema(rename = "refresh.reused")]
    RefreshReused,
    #[schema(rename = "password.changed")]
    PasswordChanged,
    #[schema(rename = "user.created")]
    UserCreated,
    #[schema(rename = "user.updated")]
    UserUpdated,
    #[schema(rename = "user.deleted")]
    UserDeleted,
    #[schema(rename = "password.reset.requested")]
    PasswordResetRequested,
    #[schema(rename = "password.reset")]
    PasswordReset,
    #[schema(rename = "signup.completed")]
    SignupCompleted,
    #[schema(rename = "admin.bootstrapped")]
    AdminBootstrapped,
    #[schema(rename = "mfa.enabled")]
    MfaEnabled,
    #[schema(rename = "mfa.disabled")]
    MfaDisabled,
    #[schema(rename = "mfa.recovery_codes.renewed")]
    MfaRecoveryCodesRenewed,
    #[schema(rename = "mfa.recovery_code.used")]
    MfaRecoveryCodeUsed,
}

/// Why a login was refused: `credentials` (401), `throttled` (429), `disabled` (403), `mfa` (a
/// wrong second-factor code, 401).
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub(super) enum LoginFailureReason {
    Credentials,
    Throttled,
    Disabled,
    Mfa,
}

/// A field of a user, as `user.updated` names the changed ones.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(super) enum UserField {
    #[schema(rename = "name")]
    Name,
    #[schema(rename = "cellnumber")]
    Cellnumber,
    #[schema(rename = "email")]
    Email,
    #[schema(rename = "profilepic")]
    Profilepic,
    #[schema(rename = "password")]
    Password,
    #[schema(rename = "roleId")]
    RoleId,
    #[schema(rename = "isActive")]
    IsActive,
}

/// The detail of an audit event: exactly the keys of its action, absent otherwise.
/// `login.succeeded`, `session.revoked`, `refresh.reused`: `sessionId`;
/// `login.failed`: `cellnumber` (null when what was typed is not a valid cellnumber) and
/// `reason`; `logout`: `scope`; `user.created`: `roleId`; `user.updated`: `fields`;
/// `user.deleted`: `cellnumber`; `password.reset.requested`: `sent`; `admin.bootstrapped`:
/// `outcome`; `mfa.recovery_code.used`: `remaining`; `sessions.revoked`, `password.changed`,
/// `password.reset`, `signup.completed`, `mfa.enabled`, `mfa.disabled`,
/// `mfa.recovery_codes.renewed`: none.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub(super) struct AuditDetail {
    #[schema(nullable = false, pattern = "^[A-Za-z0-9_-]{22}$")]
    session_id: Option<String>,
    #[schema(pattern = r"^\+?[0-9]{7,15}$")]
    cellnumber: Option<String>,
    #[schema(nullable = false)]
    reason: Option<LoginFailureReason>,
    #[schema(nullable = false)]
    scope: Option<LogoutScope>,
    #[schema(nullable = false, minimum = 1, maximum = 2)]
    role_id: Option<u8>,
    /// The changed fields, in this order: name, cellnumber, email, profilepic, password, roleId,
    /// isActive (empty when a patch set every field to the value it had).
    #[schema(nullable = false)]
    fields: Option<Vec<UserField>>,
    /// `created` (the first admin) or `reset` (an admin's password, with `force`).
    #[schema(nullable = false, pattern = "^(created|reset)$")]
    outcome: Option<String>,
    /// `mfa.recovery_code.used`: the unused recovery codes left.
    #[schema(nullable = false, minimum = 0, maximum = 10)]
    remaining: Option<u64>,
    /// `password.reset.requested`: whether a text with a code went out.
    #[schema(nullable = false)]
    sent: Option<bool>,
}

/// `GET /api/users`' answer as the document names it (the code's is `Page<User>`).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub(super) struct UserPage {
    items: Vec<User>,
    total: u64,
    #[schema(minimum = 1, maximum = 100)]
    limit: u64,
    offset: u64,
}

/// `GET /api/audit`'s answer as the document names it (the code's is `Page<AuditEvent>`).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub(super) struct AuditPage {
    items: Vec<AuditEvent>,
    total: u64,
    #[schema(minimum = 1, maximum = 100)]
    limit: u64,
    offset: u64,
}
