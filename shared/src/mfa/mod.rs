//! The second factor: TOTP (RFC 6238) with recovery codes. Turning it on and off and new codes
//! ([`manage`]), the second step of a login ([`login`]); the rules ([`totp`], [`recovery`]) are
//! pure, the SQL is in [`store`].

mod login;
mod manage;
pub mod recovery;
mod store;
pub mod totp;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

pub use login::{finish_login, start_challenge, MfaLoginRequest};
pub use manage::{confirm, disable, enrol, renew_recovery_codes, reset_by_admin};
pub(crate) use store::remove_expired_challenges;

/// How long an `mfaToken` is good for.
pub const CHALLENGE_TTL_SECONDS: i64 = 300;
/// Tries an `mfaToken` allows in all, however many arrive at once.
pub const CHALLENGE_MAX_TRIES: u8 = 5;
/// Longest `mfaToken` read.
pub const MAX_MFA_TOKEN_CHARS: usize = 512;
/// The issuer an authenticator app shows next to the account.
pub const ISSUER: &str = "Users API";

/// The answer of a login whose password was right and whose user has the second factor on: no
/// session yet, a token for the second step.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MfaChallenge {
    /// Always true: the login needs its second step.
    pub mfa_required: bool,
    /// Spend it at `POST /api/users/login/mfa` with a code; it allows 5 tries.
    #[schema(min_length = 43, max_length = 512)]
    pub mfa_token: String,
    pub mfa_expires: DateTime<Utc>,
}

/// `POST /api/users/me/mfa/totp`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EnrolRequest {
    pub current_password: String,
}

/// The pending secret, for the user's authenticator app.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Enrolment {
    /// The secret in base32 (160 bits), to type into an app.
    #[schema(pattern = "^[A-Z2-7]{32}$")]
    pub secret: String,
    /// `otpauth://totp/...`, to show as a QR code.
    pub otpauth_uri: String,
}

/// `POST /api/users/me/mfa/totp/confirm`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmRequest {
    #[schema(pattern = "^[0-9]{6}$")]
    pub code: String,
}

/// `POST /api/users/me/mfa/totp/disable` and `POST /api/users/me/mfa/recovery-codes`: the
/// password and the factor, so a stolen access token alone cannot do either.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ProofRequest {
    pub current_password: String,
    /// A TOTP code (6 digits) or a recovery code.
    #[schema(min_length = 1, max_length = 64)]
    pub code: String,
}

/// New recovery codes, shown this once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryCodes {
    #[schema(min_items = 10, max_items = 10)]
    pub recovery_codes: Vec<String>,
}

/// A TOTP `code` field: exactly 6 ASCII digits, else 422.
fn check_totp_code(code: &str) -> Result<(), ApiError> {
    if totp::is_code(code) {
        Ok(())
    } else {
        Err(ApiError::validation(
            &["body", "code"],
            "must be exactly 6 digits",
        ))
    }
}

/// The current 30-second step.
fn now_step() -> u64 {
    totp::step_at(u64::try_from(Utc::now().timestamp()).unwrap_or(0))
}
