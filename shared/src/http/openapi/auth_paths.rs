//! The sign-in operations of the OpenAPI document: login, logout, the own password.

use super::schemas::{ErrorBody, LogoutScope, ValidationErrorBody};
use crate::users::credentials::{LoginOutcome, LoginRequest};
use crate::users::validation::PasswordChange;

/// Sign in
///
/// A cellnumber and password start a session: an access token and a refresh token. For a user
/// with the second factor on they start no session yet: the answer is an `mfaToken` for
/// `POST /api/users/login/mfa`.
#[utoipa::path(post, path = "/api/users/login", tag = "auth", security(), request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in: a new session; or, with the second factor on, `mfaRequired` and the token of the second step", body = LoginOutcome),
        (status = 401, description = "Wrong cellnumber or password", body = ErrorBody),
        (status = 403, description = "The right password of an account an admin disabled", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid body", body = ValidationErrorBody),
        (status = 429, description = "Too many login attempts for this cellnumber, from this address or in total; the password was not checked", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    ))]
#[allow(dead_code)]
pub(super) fn login() {}

/// Sign out
///
/// Ends the sessions the scope names, with their tokens.
#[utoipa::path(post, path = "/api/users/logout", tag = "auth", security(("bearer" = [])),
    params(("scope" = Option<LogoutScope>, Query,
        description = "local (default): the session of the token used; others: every other session of the user; global: all of them")),
    responses(
        (status = 204, description = "The sessions the scope names are ended, with their tokens"),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 422, description = "Another scope; nothing is ended", body = ValidationErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    ))]
#[allow(dead_code)]
pub(super) fn logout() {}

/// Change own password
///
/// Needs the current password; every other session of the user is ended.
#[utoipa::path(post, path = "/api/users/me/password", tag = "auth", security(("bearer" = [])),
    request_body = PasswordChange,
    responses(
        (status = 204, description = "Changed; every other session of the user is ended"),
        (status = 401, description = "Not authenticated; or the token was revoked, or the password changed, while this request ran", body = ErrorBody),
        (status = 403, description = "Current password is incorrect (counted as a failed login)", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid body", body = ValidationErrorBody),
        (status = 429, description = "Too many failed logins of this user's cellnumber", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    ))]
#[allow(dead_code)]
pub(super) fn change_password() {}
