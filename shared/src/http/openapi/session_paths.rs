//! The session operations of the OpenAPI document (the rest are in the parent module).

use super::schemas::{ErrorBody, ValidationErrorBody};
use crate::sessions::{RefreshRequest, SessionGrant, SessionList};

/// Refresh a session
///
/// Spends a refresh token for a new access token and refresh token of the same session.
#[utoipa::path(post, path = "/api/users/token/refresh", tag = "auth", security(), request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new access token and refresh token; the one presented is spent", body = SessionGrant),
        (status = 401, description = "Unknown, expired, ended or spent refresh token (a spent one ends its session)", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Missing, empty, overlong or non-string refreshToken", body = ValidationErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    ))]
#[allow(dead_code)]
pub(super) fn refresh_token() {}

/// List own sessions
#[utoipa::path(get, path = "/api/users/me/sessions", tag = "sessions", security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's live sessions, newest first (at most 100)", body = SessionList),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    ))]
#[allow(dead_code)]
pub(super) fn list_sessions() {}

/// End one own session
#[utoipa::path(delete, path = "/api/users/me/sessions/{sessionId}", tag = "sessions", security(("bearer" = [])),
    params(("sessionId" = String, Path, description = "A session id from the session list")),
    responses(
        (status = 204, description = "The session is ended, with its tokens"),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No live session of the caller has that id", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    ))]
#[allow(dead_code)]
pub(super) fn delete_session() {}

/// Sign a user out everywhere
///
/// Admins only.
#[utoipa::path(delete, path = "/api/users/{id}/sessions", tag = "sessions", security(("bearer" = [])),
    params(("id" = u64, Path, minimum = 1, description = "User id")),
    responses(
        (status = 204, description = "Every session of the user is ended"),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 422, description = "id is not a positive whole number", body = ValidationErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    ))]
#[allow(dead_code)]
pub(super) fn revoke_user_sessions() {}
