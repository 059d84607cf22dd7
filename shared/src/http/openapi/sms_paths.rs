//! The operations of codes sent by SMS in the OpenAPI document: account recovery, and sign-up
//! when it is open.

use super::schemas::{ErrorBody, ValidationErrorBody};
use crate::error::Detail;
use crate::sessions::SessionGrant;
use crate::sms::{ForgotRequest, ResetRequest, SignupRequest, VerifyRequest};

/// Ask for a password reset code
///
/// Texts a 6-digit code to the cellnumber if it has an active account. The answer is the same
/// 202 for every cellnumber (known, unknown, disabled, or held back by the limits of texts per
/// number: one per `SMS_RESEND_SECONDS`, `SMS_MAX_PER_NUMBER_PER_DAY` a day), so it tells
/// nothing about which numbers have accounts. A new code replaces the previous one.
#[utoipa::path(post, path = "/api/users/password/forgot", tag = "sms", security(), request_body = ForgotRequest,
    responses(
        (status = 202, description = "Accepted: a text with a code is on its way if the cellnumber has an active account and its limits allow one", body = Detail),
        (status = 413, description = "Body over 64 KiB", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid body", body = ValidationErrorBody),
        (status = 429, description = "Too many requests for a code from this address, or too many texts of the whole deployment, this hour", body = ErrorBody),
        (status = 503, description = "Database unavailable, or SMS codes not set up (no MFA_KEYS)", body = ErrorBody),
    ))]
#[allow(dead_code)]
pub(super) fn forgot_password() {}

/// Set a new password with a code
///
/// The live code of the cellnumber sets the password, ends every session of the user, spends
/// the code and clears the cellnumber's failed logins. A code allows `RESET_CODE_MAX_ATTEMPTS`
/// tries in all (default 5), however many arrive at once. The second factor stays on.
#[utoipa::path(post, path = "/api/users/password/reset", tag = "sms", security(), request_body = ResetRequest,
    responses(
        (status = 204, description = "The password is set; every session of the user is ended"),
        (status = 400, description = "Invalid or expired code: wrong, expired, spent, replaced or out of tries, an unknown cellnumber or a disabled account", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid body: a cellnumber, a code that is not 6 digits, or a newPassword against the password rule", body = ValidationErrorBody),
        (status = 503, description = "Database unavailable, or SMS codes not set up (no MFA_KEYS)", body = ErrorBody),
    ))]
#[allow(dead_code)]
pub(super) fn reset_password() {}

/// Sign up
///
/// Only when the deployment has sign-up open (`SIGNUP=open`). Texts a 6-digit code to the
/// cellnumber; nothing is created until the code is verified. A cellnumber that already has an
/// account gets a text that says so instead, and the same 202.
#[utoipa::path(post, path = "/api/users/signup", tag = "sms", security(), request_body = SignupRequest,
    responses(
        (status = 202, description = "Accepted: a text is on its way if the limits of texts allow one", body = Detail),
        (status = 404, description = "Sign-up is closed (the default)", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid body, by the rules of POST /api/users", body = ValidationErrorBody),
        (status = 429, description = "Too many requests for a code from this address, or too many texts of the whole deployment, this hour", body = ErrorBody),
        (status = 503, description = "Database unavailable, or SMS codes not set up (no MFA_KEYS)", body = ErrorBody),
    ))]
#[allow(dead_code)]
pub(super) fn signup() {}

/// Verify a sign-up
///
/// The live code of the cellnumber creates its user (roleId 2, active) and signs it in. A code
/// allows `RESET_CODE_MAX_ATTEMPTS` tries in all.
#[utoipa::path(post, path = "/api/users/signup/verify", tag = "sms", security(), request_body = VerifyRequest,
    responses(
        (status = 201, description = "Created and signed in: a new session", body = SessionGrant),
        (status = 400, description = "Invalid or expired code: wrong, expired, spent, replaced or out of tries", body = ErrorBody),
        (status = 404, description = "Sign-up is closed (the default)", body = ErrorBody),
        (status = 409, description = "The cellnumber or the e-mail address was taken since the sign-up", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid body: a cellnumber, or a code that is not 6 digits", body = ValidationErrorBody),
        (status = 503, description = "Database unavailable, or SMS codes not set up (no MFA_KEYS)", body = ErrorBody),
    ))]
#[allow(dead_code)]
pub(super) fn verify_signup() {}
