//! The user and audit operations of the OpenAPI document.

use super::schemas::{AuditAction, ErrorBody, UserSort, ValidationErrorBody};
use super::schemas::{AuditPage, UserPage};
use crate::error::Detail;
use crate::users::validation::{NewUser, ProfilePatch, UserPatch};
use crate::users::User;

/// Read own record
#[utoipa::path(get, path = "/api/users/me", tag = "users", security(("bearer" = [])),
    responses(
        (status = 200, description = "The signed-in user", body = User),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    ))]
#[allow(dead_code)]
pub(super) fn get_me() {}

/// Change own profile
///
/// Name, email and profile picture only.
#[utoipa::path(patch, path = "/api/users/me", tag = "users", security(("bearer" = [])),
    request_body = ProfilePatch,
    responses(
        (status = 200, description = "The signed-in user, changed", body = User),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "The signed-in user was deleted while this request ran", body = ErrorBody),
        (status = 409, description = "Email already registered", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid body, or a field other than name, email and profilepic", body = ValidationErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    ))]
#[allow(dead_code)]
pub(super) fn update_me() {}

/// Create a user
///
/// Admins only.
#[utoipa::path(post, path = "/api/users", tag = "users", security(("bearer" = [])),
    request_body = NewUser,
    responses(
        (status = 201, description = "Created", body = User,
            headers(("Location" = String, description = "/api/users/{id}"))),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 409, description = "Cellnumber or email already registered", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid body", body = ValidationErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    ))]
#[allow(dead_code)]
pub(super) fn create_user() {}

/// List and search users
///
/// Admins only: a page of the users that match, in the order asked.
#[utoipa::path(get, path = "/api/users", tag = "users", security(("bearer" = [])),
    params(
        ("q" = Option<String>, Query, min_length = 1, max_length = 100, pattern = r"[^\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]", description = "1 to 100 characters after trimming: users whose name or email contains it (ignoring case) or whose cellnumber contains it (a leading + ignored); %, _ and \\ are plain characters"),
        ("roleId" = Option<u8>, Query, minimum = 1, maximum = 2, description = "Only users of this role"),
        ("isActive" = Option<bool>, Query, description = "Only active (true) or disabled (false) users"),
        ("sort" = Option<UserSort>, Query, description = "id (default), -id, name, -name, created, -created; ties by id"),
        ("limit" = Option<u64>, Query, minimum = 1, maximum = 100, description = "Page size, default 50"),
        ("offset" = Option<u64>, Query, minimum = 0, maximum = 9223372036854775807_i64, description = "Users to skip, default 0 (at most i64::MAX)"),
    ),
    responses(
        (status = 200, description = "A page of the matching users; total counts them all", body = UserPage),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 422, description = "A parameter out of range, or an unknown parameter", body = ValidationErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    ))]
#[allow(dead_code)]
pub(super) fn list_users() {}

/// Read a user
///
/// Admins: any user; a normal user: itself only.
#[utoipa::path(get, path = "/api/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = u64, Path, minimum = 1, description = "User id")),
    responses(
        (status = 200, description = "The user", body = User),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "A normal user asking for another id", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 422, description = "id is not a positive whole number", body = ValidationErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    ))]
#[allow(dead_code)]
pub(super) fn get_user() {}

/// Change a user
///
/// Admins only. Disabling an account or setting its password ends its sessions.
#[utoipa::path(patch, path = "/api/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = u64, Path, minimum = 1, description = "User id")),
    request_body = UserPatch,
    responses(
        (status = 200, description = "The changed user", body = User),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 409, description = "Duplicate cellnumber or email, or demoting or disabling the last active admin", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid body or id", body = ValidationErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    ))]
#[allow(dead_code)]
pub(super) fn update_user() {}

/// Delete a user
///
/// Admins only; its sessions and tokens go with it.
#[utoipa::path(delete, path = "/api/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = u64, Path, minimum = 1, description = "User id")),
    responses(
        (status = 200, description = "Deleted, with its tokens", body = Detail),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 409, description = "The last active admin cannot be deleted", body = ErrorBody),
        (status = 422, description = "id is not a positive whole number", body = ValidationErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    ))]
#[allow(dead_code)]
pub(super) fn delete_user() {}

/// Read the audit log
///
/// Admins only: a page of events, newest first.
#[utoipa::path(get, path = "/api/audit", tag = "audit", security(("bearer" = [])),
    params(
        ("action" = Option<AuditAction>, Query, description = "Only events of this action"),
        ("actorId" = Option<u64>, Query, minimum = 1, maximum = 9223372036854775807_i64, description = "Only events of this actor"),
        ("targetId" = Option<u64>, Query, minimum = 1, maximum = 9223372036854775807_i64, description = "Only events about this user"),
        ("limit" = Option<u64>, Query, minimum = 1, maximum = 100, description = "Page size, default 50"),
        ("offset" = Option<u64>, Query, minimum = 0, maximum = 9223372036854775807_i64, description = "Events to skip, default 0 (at most i64::MAX)"),
    ),
    responses(
        (status = 200, description = "A page of events, newest first; total counts the matching ones", body = AuditPage),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 422, description = "A parameter out of range, or an unknown parameter", body = ValidationErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    ))]
#[allow(dead_code)]
pub(super) fn list_audit() {}
