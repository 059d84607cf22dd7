//! The second step of a login: after the right password, a short-lived, single-use `mfaToken`
//! bound to its user and to the password hash that was proven; then a TOTP or recovery code for
//! it finishes the login exactly as login does, with no bcrypt.
//!
//! Each try takes one of the token's tries in one atomic UPDATE before any code is checked, so
//! however many arrive at once, at most [`CHALLENGE_MAX_TRIES`] are checked. Each try also counts
//! toward the login throttle of the user's cellnumber and the client's address.

use chrono::Duration;
use serde::Deserialize;

use super::store::{self, StoredTotp};
use super::{
    check_totp_code, now_step, recovery, totp, MfaChallenge, CHALLENGE_MAX_TRIES,
    CHALLENGE_TTL_SECONDS, MAX_MFA_TOKEN_CHARS,
};
use crate::audit::{self, Event, LoginFailure, Parties};
use crate::auth::random as secure_random;
use crate::auth::source_ip::SourceIp;
use crate::auth::throttle;
use crate::db::batch::{self, Statement};
use crate::db::statements::{DbConn, Statements};
use crate::error::ApiError;
use crate::sessions::{self, SessionGrant};
use crate::App;

/// `POST /api/users/login/mfa`: the token and either a TOTP code or a recovery code.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MfaLoginRequest {
    #[schema(min_length = 1, max_length = 512)]
    pub mfa_token: String,
    /// The TOTP code of the user's app; give this or `recoveryCode`.
    #[schema(nullable = false, pattern = "^[0-9]{6}$")]
    pub code: Option<String>,
    /// One of the user's recovery codes (spaces and dashes ignored, case ignored).
    #[schema(nullable = false, min_length = 1, max_length = 64)]
    pub recovery_code: Option<String>,
}

/// What the second step was given, checked.
enum Proof<'a> {
    Totp(&'a str),
    Recovery(&'a str),
}

impl MfaLoginRequest {
    fn proof(&self) -> Result<Proof<'_>, ApiError> {
        if self.mfa_token.chars().count() > MAX_MFA_TOKEN_CHARS {
            return Err(ApiError::validation(
                &["body", "mfaToken"],
                "must be at most 512 characters",
            ));
        }
        match (&self.code, &self.recovery_code) {
            (Some(code), None) => {
                check_totp_code(code)?;
                Ok(Proof::Totp(code))
            }
            (None, Some(code)) if code.chars().count() <= recovery::MAX_CODE_CHARS => {
                Ok(Proof::Recovery(code))
            }
            (None, Some(_)) => Err(ApiError::validation(
                &["body", "recoveryCode"],
                "must be at most 64 characters",
            )),
            _ => Err(ApiError::validation(
                &["body"],
                "give exactly one of code and recoveryCode",
            )),
        }
    }
}

/// Starts the second step of a login whose password was just proven against `verified_hash`:
/// one INSERT, for users who have the factor on only.
pub async fn start_challenge(
    conn: &mut DbConn,
    user_id: u64,
    verified_hash: &str,
) -> Result<MfaChallenge, ApiError> {
    let token = secure_random::url_safe(&secure_random::bytes::<32>()?);
    let expires = crate::db::now() + Duration::seconds(CHALLENGE_TTL_SECONDS);
    conn.run(
        "INSERT INTO mfa_challenge (hash, user_id, password_hash, tries, spent, expires) \
         VALUES (?, ?, ?, 0, FALSE, ?)",
        (
            secure_random::sha256(token.as_bytes()).to_vec(),
            user_id,
            verified_hash,
            expires.naive_utc(),
        ),
    )
    .await?;
    Ok(MfaChallenge {
        mfa_required: true,
        mfa_token: token,
        mfa_expires: expires,
    })
}

/// Takes one try of the token (if it has one left, is live and unspent) and reads what the
/// check needs, in one round trip: the UPDATE is the atomic part.
const TAKE_TRY: &str = "UPDATE mfa_challenge SET tries = tries + 1 \
     WHERE hash = ? AND NOT spent AND tries < ? AND expires > UTC_TIMESTAMP(6)";
const READ_CHALLENGE: &str =
    "SELECT c.user_id, c.password_hash, u.cellnumber, u.role_id, t.key_id, t.sealed, t.last_step \
     FROM mfa_challenge c JOIN users u ON u.id = c.user_id \
     LEFT JOIN mfa_totp t ON t.user_id = c.user_id \
     WHERE c.hash = ? AND u.mfa_enabled AND u.is_active";

/// The challenge a try was taken of.
struct Challenge {
    hash: [u8; 32],
    user_id: u64,
    password_hash: String,
    cellnumber: String,
    role_id: u8,
    totp: Option<StoredTotp>,
}

/// Finishes a login with a code: the session grant, as login answers it.
pub async fn finish_login(
    app: &App,
    request: MfaLoginRequest,
    source: &SourceIp,
) -> Result<SessionGrant, ApiError> {
    let proof = request.proof()?;
    let hash = secure_random::sha256(request.mfa_token.as_bytes());
    let mut conn = app.conn().await?;
    let Some(challenge) = take_try(&mut conn, hash).await? else {
        // Nobody to hold it against: a made-up, spent, expired or exhausted token.
        return Err(ApiError::MfaLoginRefused);
    };
    let outcome = check_and_start(app, &mut conn, &challenge, proof, source).await;
    let refused = match &outcome {
        Err(ApiError::MfaLoginRefused) => Some(LoginFailure::Mfa),
        Err(ApiError::TooManyRequests { .. }) => Some(LoginFailure::Throttled),
        _ => None,
    };
    if let Some(reason) = refused {
        let event = audit::login_failed_statement(source, &challenge.cellnumber, reason);
        if let Err(error) = batch::run_each(&mut conn, &[event]).await {
            tracing::warn!(%error, "a refused second step's event was not recorded");
        }
    }
    outcome
}

async fn take_try(conn: &mut DbConn, hash: [u8; 32]) -> Result<Option<Challenge>, ApiError> {
    let statements = [
        Statement::new(TAKE_TRY, [hash.to_vec().into(), CHALLENGE_MAX_TRIES.into()]),
        Statement::new(READ_CHALLENGE, [hash.to_vec().into()]),
    ];
    let mut answers = batch::answers_in_transaction(conn, &statements).await?;
    if answers[0].outcome.affected_rows != 1 {
        return Ok(None);
    }
    let Some(row) = answers[1].rows.pop() else {
        return Ok(None);
    };
    type Columns = (
        u64,
        String,
        String,
        u8,
        Option<String>,
        Option<Vec<u8>>,
        Option<u64>,
    );
    let (user_id, password_hash, cellnumber, role_id, key_id, sealed, last_step): Columns =
        mysql_async::from_row_opt(row)
            .map_err(|_| ApiError::Internal("a challenge row did not convert".into()))?;
    Ok(Some(Challenge {
        hash,
        user_id,
        password_hash,
        cellnumber,
        role_id,
        totp: StoredTotp::from_columns(key_id, sealed, last_step),
    }))
}

async fn check_and_start(
    app: &App,
    conn: &mut DbConn,
    challenge: &Challenge,
    proof: Proof<'_>,
    source: &SourceIp,
) -> Result<SessionGrant, ApiError> {
    let reserved = throttle::reserve(
        conn,
        app.config.login_limits(),
        &challenge.cellnumber,
        source,
    )
    .await?;
    let user_id = challenge.user_id;
    match proof {
        Proof::Totp(code) => {
            let totp = challenge.totp.as_ref().ok_or(ApiError::MfaLoginRefused)?;
            let secret = totp.open(app, user_id)?;
            let step = totp::matching_step(&secret, code, now_step(), totp.last_step)
                .ok_or(ApiError::MfaLoginRefused)?;
            // One statement spends the token and takes the step: a replayed code, or a second
            // right code for the same token, finds one of them taken and changes neither.
            let spent = conn
                .run(
                    "UPDATE mfa_challenge c JOIN mfa_totp t ON t.user_id = c.user_id \
                     SET c.spent = TRUE, t.last_step = ? \
                     WHERE c.hash = ? AND NOT c.spent AND t.last_step < ?",
                    (step, challenge.hash.to_vec(), step),
                )
                .await?;
            if spent.affected_rows != 2 {
                return Err(ApiError::MfaLoginRefused);
            }
        }
        Proof::Recovery(typed) => {
            let code_hash = recovery::hash(typed).ok_or(ApiError::MfaLoginRefused)?;
            spend_with_recovery_code(conn, challenge, code_hash, source).await?;
        }
    }
    let grant = sessions::start(
        app,
        conn,
        user_id,
        challenge.role_id,
        &challenge.password_hash,
        source,
    )
    .await
    .map_err(|error| match error {
        // The password changed, or the user was disabled, since the first step.
        ApiError::InvalidCredentials => ApiError::MfaLoginRefused,
        other => other,
    })?;
    throttle::succeeded(conn, &challenge.cellnumber, source, reserved).await?;
    Ok(grant)
}

/// Spends the token and the recovery code together, with the `mfa.recovery_code.used` event.
async fn spend_with_recovery_code(
    conn: &mut DbConn,
    challenge: &Challenge,
    code_hash: [u8; 32],
    source: &SourceIp,
) -> Result<(), ApiError> {
    let user_id = challenge.user_id;
    let mut tx = conn.begin().await?;
    let outcome = async {
        let spent = tx
            .run(
                "UPDATE mfa_challenge SET spent = TRUE WHERE hash = ? AND NOT spent",
                (challenge.hash.to_vec(),),
            )
            .await?;
        if spent.affected_rows != 1
            || !store::spend_recovery_code(&mut tx, user_id, code_hash).await?
        {
            return Err(ApiError::MfaLoginRefused);
        }
        let remaining: Option<u64> = tx
            .first(
                "SELECT COUNT(*) FROM mfa_recovery_code WHERE user_id = ?",
                (user_id,),
            )
            .await?;
        let parties = Parties {
            actor_id: None,
            target_id: Some(user_id),
            source,
        };
        let event = Event::MfaRecoveryCodeUsed {
            remaining: remaining.unwrap_or(0),
        };
        audit::record(&mut tx, parties, &event).await
    }
    .await;
    crate::db::finish(tx, outcome).await
}
