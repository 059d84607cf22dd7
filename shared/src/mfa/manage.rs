//! Turning the second factor on and off, and new recovery codes: each by the signed-in user with
//! its password (and, once on, a code), or by an admin for a lost device.

use super::store::{self, read_totp};
use super::{
    check_totp_code, now_step, recovery, totp, ConfirmRequest, EnrolRequest, Enrolment,
    ProofRequest, RecoveryCodes, ISSUER,
};
use crate::audit::{self, Event, Parties};
use crate::auth::password;
use crate::auth::policy::Action;
use crate::auth::random as secure_random;
use crate::auth::source_ip::SourceIp;
use crate::auth::throttle;
use crate::auth::Authenticated;
use crate::db::statements::Statements;
use crate::error::ApiError;
use crate::App;

const ALREADY_ON: &str = "Second factor is already enabled";
const NOT_ON: &str = "Second factor is not enabled";

/// Starts enrolment: a new pending secret (replacing a pending one), shown this once. Nothing
/// changes for login until [`confirm`].
pub async fn enrol(
    app: &App,
    signed_in: &mut Authenticated,
    request: EnrolRequest,
    source: &SourceIp,
) -> Result<Enrolment, ApiError> {
    signed_in.principal.authorize(Action::ActOnSelf)?;
    if signed_in.user.mfa_enabled {
        return Err(ApiError::Conflict(ALREADY_ON));
    }
    let keys = store::keys(app)?;
    let reserved = prove_password(app, signed_in, &request.current_password, source).await?;
    let user_id = signed_in.user.id;
    let secret = secure_random::bytes::<{ totp::SECRET_BYTES }>()?;
    let sealed = keys.seal(user_id, &secret)?;
    let conn = signed_in.conn();
    let mut tx = conn.begin().await?;
    let outcome = async {
        let on = store::lock_enabled(&mut tx, user_id).await?;
        match on {
            None => return Err(ApiError::Unauthorized),
            Some(true) => return Err(ApiError::Conflict(ALREADY_ON)),
            Some(false) => {}
        }
        tx.run(
            "REPLACE INTO mfa_totp (user_id, key_id, sealed, last_step, created) \
             VALUES (?, ?, ?, 0, UTC_TIMESTAMP(6))",
            (user_id, &sealed.key_id, &sealed.bytes),
        )
        .await?;
        Ok(())
    }
    .await;
    crate::db::finish(tx, outcome).await?;
    let cellnumber = signed_in.user.cellnumber.clone();
    throttle::succeeded(signed_in.conn(), &cellnumber, source, reserved).await?;
    Ok(Enrolment {
        secret: totp::base32(&secret),
        otpauth_uri: totp::otpauth_uri(ISSUER, &signed_in.user.cellnumber, &secret),
    })
}

/// Turns the factor on with a first right code of the pending secret, and answers the recovery
/// codes, shown this once. A wrong code is 400 and changes nothing.
pub async fn confirm(
    app: &App,
    signed_in: &mut Authenticated,
    request: ConfirmRequest,
    source: &SourceIp,
) -> Result<RecoveryCodes, ApiError> {
    signed_in.principal.authorize(Action::ActOnSelf)?;
    check_totp_code(&request.code)?;
    let user_id = signed_in.user.id;
    let (codes, hashes) = recovery::new_codes()?;
    let parties = Parties {
        actor_id: Some(user_id),
        target_id: Some(user_id),
        source,
    };
    let mut tx = signed_in.conn().begin().await?;
    let outcome = async {
        // The user's row first, then the factor's: the order every writer locks them in.
        let on = store::lock_enabled(&mut tx, user_id).await?;
        match on {
            None => return Err(ApiError::Unauthorized),
            Some(true) => return Err(ApiError::Conflict(ALREADY_ON)),
            Some(false) => {}
        }
        let pending = read_totp(&mut tx, user_id)
            .await?
            .ok_or(ApiError::MfaEnrolmentCodeRefused)?;
        let secret = pending.open(app, user_id)?;
        let step = totp::matching_step(&secret, &request.code, now_step(), pending.last_step)
            .ok_or(ApiError::MfaEnrolmentCodeRefused)?;
        store::claim_step(&mut tx, user_id, step).await?;
        tx.run(
            "UPDATE users SET mfa_enabled = TRUE, \
             updated = GREATEST(UTC_TIMESTAMP(6), updated + INTERVAL 1 MICROSECOND) \
             WHERE id = ?",
            (user_id,),
        )
        .await?;
        store::replace_recovery_codes(&mut tx, user_id, &hashes).await?;
        audit::record(&mut tx, parties, &Event::MfaEnabled).await
    }
    .await;
    crate::db::finish(tx, outcome).await?;
    Ok(RecoveryCodes {
        recovery_codes: codes,
    })
}

/// Turns the factor off: needs the password and a code (TOTP or recovery).
pub async fn disable(
    app: &App,
    signed_in: &mut Authenticated,
    request: ProofRequest,
    source: &SourceIp,
) -> Result<(), ApiError> {
    prove_both(app, signed_in, &request, source).await?;
    let user_id = signed_in.user.id;
    let parties = Parties {
        actor_id: Some(user_id),
        target_id: Some(user_id),
        source,
    };
    let mut tx = signed_in.conn().begin().await?;
    let outcome = async {
        store::remove_factor(&mut tx, user_id).await?;
        audit::record(&mut tx, parties, &Event::MfaDisabled).await
    }
    .await;
    crate::db::finish(tx, outcome).await
}

/// New recovery codes in place of the old ones: needs the password and a code.
pub async fn renew_recovery_codes(
    app: &App,
    signed_in: &mut Authenticated,
    request: ProofRequest,
    source: &SourceIp,
) -> Result<RecoveryCodes, ApiError> {
    prove_both(app, signed_in, &request, source).await?;
    let user_id = signed_in.user.id;
    let (codes, hashes) = recovery::new_codes()?;
    let parties = Parties {
        actor_id: Some(user_id),
        target_id: Some(user_id),
        source,
    };
    let mut tx = signed_in.conn().begin().await?;
    let outcome = async {
        let on = store::lock_enabled(&mut tx, user_id).await?;
        if on != Some(true) {
            return Err(ApiError::Conflict(NOT_ON));
        }
        store::replace_recovery_codes(&mut tx, user_id, &hashes).await?;
        audit::record(&mut tx, parties, &Event::MfaRecoveryCodesRenewed).await
    }
    .await;
    crate::db::finish(tx, outcome).await?;
    Ok(RecoveryCodes {
        recovery_codes: codes,
    })
}

/// An admin turns user `id`'s second factor off (a lost device); audited when there was one.
pub async fn reset_by_admin(
    signed_in: &mut Authenticated,
    id: u64,
    source: &SourceIp,
) -> Result<(), ApiError> {
    signed_in.principal.authorize(Action::UpdateUser)?;
    let parties = Parties {
        actor_id: Some(signed_in.user.id),
        target_id: Some(id),
        source,
    };
    let mut tx = signed_in.conn().begin().await?;
    let outcome = async {
        let exists: Option<u8> = tx
            .first("SELECT 1 FROM users WHERE id = ? FOR UPDATE", (id,))
            .await?;
        exists.ok_or(ApiError::NotFound)?;
        if store::remove_factor(&mut tx, id).await? {
            audit::record(&mut tx, parties, &Event::MfaDisabled).await?;
        }
        Ok(())
    }
    .await;
    crate::db::finish(tx, outcome).await
}

/// The current password, through the login throttle before bcrypt (a wrong one is 403 and
/// counts as a failed login of the user's cellnumber). The caller gives the attempt back with
/// [`throttle::succeeded`] once everything it asks is proven.
async fn prove_password(
    app: &App,
    signed_in: &mut Authenticated,
    current_password: &str,
    source: &SourceIp,
) -> Result<throttle::Reserved, ApiError> {
    let user_id = signed_in.user.id;
    let cellnumber = signed_in.user.cellnumber.clone();
    let conn = signed_in.conn();
    let reserved = throttle::reserve(conn, app.config.login_limits(), &cellnumber, source).await?;
    let stored: Option<String> = conn
        .first("SELECT password_hash FROM users WHERE id = ?", (user_id,))
        .await?;
    let stored = stored.ok_or(ApiError::Unauthorized)?;
    let right = current_password.len() <= password::MAX_PASSWORD_BYTES
        && password::verify(current_password, &stored).await;
    if right {
        Ok(reserved)
    } else {
        Err(ApiError::WrongCurrentPassword)
    }
}

/// The password and a code of the factor that is on (a TOTP code, whose step is then used, or a
/// recovery code, which is then spent); either wrong is 403 and one failed login.
async fn prove_both(
    app: &App,
    signed_in: &mut Authenticated,
    request: &ProofRequest,
    source: &SourceIp,
) -> Result<(), ApiError> {
    signed_in.principal.authorize(Action::ActOnSelf)?;
    if request.code.chars().count() > recovery::MAX_CODE_CHARS {
        return Err(ApiError::validation(
            &["body", "code"],
            "must be at most 64 characters",
        ));
    }
    if !signed_in.user.mfa_enabled {
        return Err(ApiError::Conflict(NOT_ON));
    }
    let reserved = prove_password(app, signed_in, &request.current_password, source).await?;
    let user_id = signed_in.user.id;
    let cellnumber = signed_in.user.cellnumber.clone();
    let conn = signed_in.conn();
    let proven = if totp::is_code(&request.code) {
        match read_totp(conn, user_id).await? {
            Some(stored) => {
                let secret = stored.open(app, user_id)?;
                match totp::matching_step(&secret, &request.code, now_step(), stored.last_step) {
                    Some(step) => store::claim_step(conn, user_id, step).await?,
                    None => false,
                }
            }
            None => false,
        }
    } else {
        match recovery::hash(&request.code) {
            Some(hash) => store::spend_recovery_code(conn, user_id, hash).await?,
            None => false,
        }
    };
    if !proven {
        return Err(ApiError::MfaCodeRefused);
    }
    throttle::succeeded(conn, &cellnumber, source, reserved).await?;
    Ok(())
}
