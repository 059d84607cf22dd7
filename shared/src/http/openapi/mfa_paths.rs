//! The second factor's operations of the OpenAPI document: the second step of login, turning it
//! on and off, new recovery codes, an admin's reset.

use super::schemas::{ErrorBody, ValidationErrorBody};
use crate::mfa::{
    ConfirmRequest, EnrolRequest, Enrolment, MfaLoginRequest, ProofRequest, RecoveryCodes,
};
use crate::sessions::SessionGrant;

/// Finish a login with the second factor
///
/// The `mfaToken` of a login and a TOTP code or a recovery code start the session. A token
/// lives 300 seconds and allows 5 tries in all.
#[utoipa::path(post, path = "/api/users/login/mfa", tag = "auth", security(), request_body = MfaLoginRequest,
    responses(
        (status = 200, description = "Signed in: a new session", body = SessionGrant),
        (status = 401, description = "Wrong code, or a spent, expired, exhausted or unknown mfaToken", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid body: neither or both of code and recoveryCode, or a code that is not 6 digits", body = ValidationErrorBody),
        (status = 429, description = "Too many failed attempts for this cellnumber, from this address or in total; the code was not checked", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    ))]
#[allow(dead_code)]
pub(super) fn login_mfa() {}

/// Start turning on the second factor
///
/// Needs the current password; answers a new TOTP secret (replacing a pending one). Nothing
/// changes for login until a first code confirms it.
#[utoipa::path(post, path = "/api/users/me/mfa/totp", tag = "mfa", security(("bearer" = [])),
    request_body = EnrolRequest,
    responses(
        (status = 200, description = "The pending secret, shown this once", body = Enrolment),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Current password is incorrect (counted as a failed login)", body = ErrorBody),
        (status = 409, description = "The second factor is already on", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid body", body = ValidationErrorBody),
        (status = 429, description = "Too many failed logins of this user's cellnumber", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    ))]
#[allow(dead_code)]
pub(super) fn enrol_totp() {}

/// Turn on the second factor
///
/// A first right code of the pending secret turns it on; answers 10 recovery codes, shown this
/// once.
#[utoipa::path(post, path = "/api/users/me/mfa/totp/confirm", tag = "mfa", security(("bearer" = [])),
    request_body = ConfirmRequest,
    responses(
        (status = 200, description = "On; the recovery codes, shown this once", body = RecoveryCodes),
        (status = 400, description = "Wrong code, or no pending secret", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 409, description = "The second factor is already on", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid body", body = ValidationErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    ))]
#[allow(dead_code)]
pub(super) fn confirm_totp() {}

/// Turn off the second factor
///
/// Needs the current password and a code (TOTP or recovery).
#[utoipa::path(post, path = "/api/users/me/mfa/totp/disable", tag = "mfa", security(("bearer" = [])),
    request_body = ProofRequest,
    responses(
        (status = 204, description = "Off: the secret and the recovery codes are gone"),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Current password or code is incorrect (counted as a failed login)", body = ErrorBody),
        (status = 409, description = "The second factor is not on", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid body", body = ValidationErrorBody),
        (status = 429, description = "Too many failed logins of this user's cellnumber", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    ))]
#[allow(dead_code)]
pub(super) fn disable_totp() {}

/// New recovery codes
///
/// Needs the current password and a code (TOTP or recovery); the old codes die.
#[utoipa::path(post, path = "/api/users/me/mfa/recovery-codes", tag = "mfa", security(("bearer" = [])),
    request_body = ProofRequest,
    responses(
        (status = 200, description = "The new codes, shown this once", body = RecoveryCodes),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Current password or code is incorrect (counted as a failed login)", body = ErrorBody),
        (status = 409, description = "The second factor is not on", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid body", body = ValidationErrorBody),
        (status = 429, description = "Too many failed logins of this user's cellnumber", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    ))]
#[allow(dead_code)]
pub(super) fn renew_recovery_codes() {}

/// Turn off a user's second factor (admin)
///
/// For a lost device: the user's secret and recovery codes are removed, and the user signs in
/// with its password alone until it turns the factor on again.
#[utoipa::path(delete, path = "/api/users/{id}/mfa", tag = "mfa", security(("bearer" = [])),
    params(("id" = u64, Path, minimum = 1, description = "The user's id")),
    responses(
        (status = 204, description = "That user's second factor is off"),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 422, description = "The id is not a whole number of at least 1", body = ValidationErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    ))]
#[allow(dead_code)]
pub(super) fn reset_user_mfa() {}
