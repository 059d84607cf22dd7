//! Account recovery by SMS: `POST /api/users/password/forgot` sends a code to the cellnumber of an
//! active account, `POST /api/users/password/reset` sets a new password with it.
//!
//! Forgot answers the same 202, after the same database work and about the same time, for every
//! cellnumber: known, unknown, disabled or held back by its limits. Reset takes one of the code's
//! tries in one atomic statement before the code is checked; a right code sets the password,
//! ends every session, spends the code and clears the number's failed logins in one transaction.
//! Wrong codes do not count as failed logins: the code's own tries bound them, and counting them
//! would let anyone lock a user's password login with made-up codes.

use serde::Deserialize;
use validator::{Validate, ValidationError};

use super::code::{self, Purpose};
use super::limits;
use super::pace::send_or_wait;
use super::store::{self, TextRequest};
use crate::audit::{self, Event, Parties};
use crate::auth::source_ip::SourceIp;
use crate::auth::{password, throttle};
use crate::error::{ApiError, Detail};
use crate::sessions::{self, Ended};
use crate::texts::Text;
use crate::users::validation;
use crate::App;

/// The answer of every forgot request that is not refused, whatever its cellnumber.
pub const FORGOT_ANSWER: &str =
    "If the cellnumber has an active account, a text with a code is on its way";

/// `POST /api/users/password/forgot`.
#[derive(Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForgotRequest {
    #[validate(custom(function = "validation::cellnumber_rule"))]
    #[schema(pattern = r"^\+?[0-9]{7,15}$", example = "+15550000002")]
    pub cellnumber: String,
}

/// `POST /api/users/password/reset`.
#[derive(Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ResetRequest {
    #[validate(custom(function = "validation::cellnumber_rule"))]
    #[schema(pattern = r"^\+?[0-9]{7,15}$", example = "+15550000002")]
    pub cellnumber: String,
    /// The code of the text: exactly 6 ASCII digits.
    #[validate(custom(function = "code_rule"))]
    #[schema(pattern = "^[0-9]{6}$", example = "123456")]
    pub code: String,
    /// 8 to 72 bytes of UTF-8 (bcrypt's limit): the lengths in characters only bound it.
    #[validate(custom(function = "validation::password_rule"))]
    #[schema(min_length = 8, max_length = 72, format = Password, pattern = r"^[^\u0000-\u001F\u007F]*$")]
    pub new_password: String,
}

/// An SMS `code` field: exactly 6 ASCII digits (not other digits of Unicode, no spaces).
pub(super) fn code_rule(value: &str) -> Result<(), ValidationError> {
    if code::is_code(value) {
        Ok(())
    } else {
        Err(ValidationError::new("code").with_message("must be exactly 6 digits".into()))
    }
}

/// Sends a recovery code to the cellnumber if it has an active account and every limit allows
/// it; answers the same 202 either way (429 beyond the address's or the deployment's hourly
/// limit, the same for every cellnumber).
pub async fn forgot(
    app: &App,
    request: ForgotRequest,
    source: &SourceIp,
) -> Result<Detail, ApiError> {
    let key = code::hashing_key(app)?;
    validation::check(&request)?;
    let config = &app.config.sms;
    let cellnumber = request.cellnumber.as_str();
    // Made for every request, sent or not, so every request does the same work.
    let new_code = code::new_code()?;
    let text_request = TextRequest {
        purpose: Purpose::Recovery,
        cellnumber,
        source,
        prefix_allowed: limits::prefix_allowed(cellnumber, &config.allowed_prefixes),
        code_hash: code::hash(&key, Purpose::Recovery, cellnumber, &new_code),
        pending: None,
    };
    let mut conn = app.conn().await?;
    let requested = store::request_text(&mut conn, config, &text_request).await?;
    if let Err(error) = store::remove_stale(&mut conn, config).await {
        tracing::warn!(%error, "stale SMS rows were not removed");
    }
    drop(conn);
    let verdict = limits::verdict(&requested.counts, config);
    let text = verdict.sends()?.then(|| Text {
        to: cellnumber.to_owned(),
        body: code::recovery_text(&new_code, config.code_ttl),
    });
    send_or_wait(app, text).await;
    Ok(Detail::new(FORGOT_ANSWER))
}

/// Sets a new password with the live recovery code of the cellnumber; every other code is 400.
pub async fn reset(app: &App, request: ResetRequest, source: &SourceIp) -> Result<(), ApiError> {
    let key = code::hashing_key(app)?;
    validation::check(&request)?;
    let config = &app.config.sms;
    let cellnumber = request.cellnumber.as_str();
    let mut conn = app.conn().await?;
    let stored = store::take_try(
        &mut conn,
        Purpose::Recovery,
        cellnumber,
        config.code_max_attempts,
    )
    .await?
    .ok_or(ApiError::SmsCodeRefused)?;
    let user_id = stored.user_id.ok_or(ApiError::SmsCodeRefused)?;
    if !code::matches(
        &key,
        Purpose::Recovery,
        cellnumber,
        &request.code,
        &stored.code_hash,
    ) {
        return Err(ApiError::SmsCodeRefused);
    }
    // Only a right code costs a bcrypt: wrong ones cannot make the server work for them.
    let new_hash = password::hash(&request.new_password, app.config.bcrypt_cost).await?;
    let mut tx = conn.begin().await?;
    let outcome = async {
        store::set_password(&mut tx, user_id, cellnumber, &new_hash).await?;
        store::spend(&mut tx, Purpose::Recovery, cellnumber, &stored.code_hash).await?;
        sessions::end_sessions(&mut tx, user_id, Ended::All).await?;
        throttle::clear(&mut tx, cellnumber).await?;
        let parties = Parties {
            actor_id: None,
            target_id: Some(user_id),
            source,
        };
        audit::record(&mut tx, parties, &Event::PasswordReset).await
    }
    .await;
    crate::db::finish(tx, outcome).await
}
