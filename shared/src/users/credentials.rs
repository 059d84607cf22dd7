//! Proving a password: login, and the password change that asks for the current one. Both go
//! through the login throttle before bcrypt, so neither is an unthrottled password oracle.

use serde::{Deserialize, Serialize};

use crate::audit::{self, Event, LoginFailure, Parties};
use crate::auth::password;
use crate::auth::policy::Action;
use crate::auth::source_ip::SourceIp;
use crate::auth::throttle;
use crate::auth::Authenticated;
use crate::db::batch::{self, Statement};
use crate::db::statements::{DbConn, Statements};
use crate::error::ApiError;
use crate::mfa::{self, MfaChallenge};
use crate::sessions::{self, Ended, SessionGrant};
use crate::users::validation::{self, PasswordChange};
use crate::App;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schema(example = "+15550000001")]
    pub cellnumber: String,
    pub password: String,
}

/// What a right password answers: a session, or, for a user with the second factor on, the
/// token of the second step.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum LoginOutcome {
    Session(SessionGrant),
    SecondFactor(MfaChallenge),
}

/// Checks the password and starts a session (or the second step of the login). An unknown cellnumber and a wrong password give the
/// same error after the same bcrypt work, and both count against the cellnumber's throttle.
pub async fn login(
    app: &App,
    request: LoginRequest,
    source: &SourceIp,
) -> Result<LoginOutcome, ApiError> {
    let config = &app.config;
    // A cellnumber no user can have (the column is ASCII, and MySQL refuses to compare it with
    // other characters) gets the answer of a wrong password after the same bcrypt work.
    if !validation::is_cellnumber(&request.cellnumber) {
        password::verify(&request.password, &password::dummy_hash(config.bcrypt_cost)).await;
        record_unusable_cellnumber(app, source).await;
        return Err(ApiError::InvalidCredentials);
    }
    let mut conn = app.conn().await?;
    let outcome = login_on(app, &mut conn, &request, source).await;
    let refused = match &outcome {
        Err(ApiError::InvalidCredentials) => Some(LoginFailure::Credentials),
        Err(ApiError::TooManyRequests { .. }) => Some(LoginFailure::Throttled),
        Err(ApiError::AccountDisabled) => Some(LoginFailure::Disabled),
        _ => None,
    };
    // Failures run the clean-up too, so a flood of made-up cellnumbers cannot grow the
    // throttle's table without bound; only a database that is not answering is spared it. A
    // refused login's event rides on the same query.
    if !matches!(outcome, Err(ApiError::Unavailable(_))) {
        let event = refused
            .map(|reason| audit::login_failed_statement(source, &request.cellnumber, reason));
        remove_expired(&mut conn, config, event).await;
    }
    outcome
}

/// The `login.failed` event of a cellnumber no user can have, which was refused before any query.
async fn record_unusable_cellnumber(app: &App, source: &SourceIp) {
    let parties = Parties {
        actor_id: None,
        target_id: None,
        source,
    };
    // What was typed is not a cellnumber (often a password in the wrong field): not kept.
    let event = Event::LoginFailed {
        cellnumber: None,
        reason: LoginFailure::Credentials,
    };
    let recorded = match app.conn().await {
        Ok(mut conn) => audit::record(&mut conn, parties, &event).await,
        Err(error) => Err(error),
    };
    if let Err(error) = recorded {
        tracing::warn!(%error, "a refused login's event was not recorded");
    }
}

async fn login_on(
    app: &App,
    conn: &mut DbConn,
    request: &LoginRequest,
    source: &SourceIp,
) -> Result<LoginOutcome, ApiError> {
    let config = &app.config;
    let reserved =
        throttle::reserve(conn, config.login_limits(), &request.cellnumber, source).await?;
    // Whether the second factor is on comes with the hash: no round trip more for anyone.
    let user: Option<(u64, String, u8, bool, bool)> = conn
        .first(
            "SELECT id, password_hash, role_id, is_active, mfa_enabled FROM users \
             WHERE cellnumber = ?",
            (&request.cellnumber,),
        )
        .await?;
    let matched = match &user {
        Some((_, hash, _, _, _)) if request.password.len() <= password::MAX_PASSWORD_BYTES => {
            password::verify(&request.password, hash).await
        }
        // Same cost as a real check, so timing does not tell whether the cellnumber exists.
        _ => {
            password::verify(&request.password, &password::dummy_hash(config.bcrypt_cost)).await;
            false
        }
    };
    let (Some((user_id, verified_hash, role_id, is_active, mfa_enabled)), true) = (user, matched)
    else {
        return Err(ApiError::InvalidCredentials);
    };
    // Only after the password is proven, so the answer tells nothing to whoever does not know it.
    if !is_active {
        return Err(ApiError::AccountDisabled);
    }
    // The throttle keeps this attempt counted until the second step succeeds: knowing the
    // password must not reset the count that bounds guessing the code.
    if mfa_enabled {
        let challenge = mfa::start_challenge(conn, user_id, &verified_hash).await?;
        return Ok(LoginOutcome::SecondFactor(challenge));
    }

    let grant = sessions::start(app, conn, user_id, role_id, &verified_hash, source).await?;
    throttle::succeeded(conn, &request.cellnumber, source, reserved).await?;
    upgrade_hash(
        conn,
        user_id,
        &request.password,
        &verified_hash,
        config.bcrypt_cost,
    )
    .await;
    Ok(LoginOutcome::Session(grant))
}

/// Re-hashes a proven password whose hash has another cost than the configured one. Unknown
/// cellnumbers are checked against a dummy hash of the configured cost, so a known cellnumber
/// with an older, cheaper hash would otherwise answer measurably faster. Best effort: the login
/// it rides on has already succeeded.
async fn upgrade_hash(conn: &mut DbConn, user_id: u64, password: &str, hash: &str, cost: u32) {
    let stored_cost = hash
        .parse::<bcrypt::HashParts>()
        .map(|parts| parts.get_cost());
    if stored_cost.is_ok_and(|stored| stored == cost) {
        return;
    }
    let upgraded = match password::hash(password, cost).await {
        Ok(upgraded) => upgraded,
        Err(error) => {
            tracing::warn!(%error, "password hash upgrade failed");
            return;
        }
    };
    // Only over the hash that was proven: a password changed meanwhile stays changed.
    if let Err(error) = conn
        .run(
            "UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?",
            (upgraded, user_id, hash),
        )
        .await
    {
        tracing::warn!(%error, "password hash upgrade failed");
    }
}

/// Keeps `session`, `access_token` and the throttle's tables from growing without bound, a
/// bounded batch per login; a failure here must not fail the login it rides on. (An expired
/// session takes its access tokens and spent refresh hashes with it.) A refused login's `event`
/// goes first in the same query. Audit events are not among them: the request path may not
/// delete those (see [`audit::purge_expired`]).
async fn remove_expired(conn: &mut DbConn, config: &crate::Config, event: Option<Statement>) {
    let mut statements: Vec<Statement> = event.into_iter().collect();
    statements.extend([
        Statement::new(
            "DELETE FROM session WHERE expires < UTC_TIMESTAMP(6) LIMIT 500",
            [],
        ),
        Statement::new(
            "DELETE FROM access_token WHERE expires < UTC_TIMESTAMP(6) LIMIT 500",
            [],
        ),
    ]);
    statements.extend(throttle::remove_stale_statements(config.login_window));
    statements.push(mfa::remove_expired_challenges());
    if let Err(error) = batch::run_each(conn, &statements).await {
        tracing::warn!(%error, "expired row clean-up failed");
    }
}

/// Changes the signed-in user's password after checking the current one, and ends every other
/// session of the user (the one used stays). A wrong current password counts as a
/// failed login of the user's cellnumber from `source`.
///
/// The change commits only if, at commit time, the stored hash is still the one the current
/// password was checked against and the caller's session is still live: an admin reset, a
/// logout or another change that lands during the bcrypt work wins, and this request gets 401.
pub async fn change_password(
    app: &App,
    signed_in: &mut Authenticated,
    change: PasswordChange,
    source: &SourceIp,
) -> Result<(), ApiError> {
    signed_in.principal.authorize(Action::ActOnSelf)?;
    validation::check(&change)?;
    let parties = Parties {
        actor_id: Some(signed_in.user.id),
        target_id: Some(signed_in.user.id),
        source,
    };
    let user_id = signed_in.user.id;
    let cellnumber = signed_in.user.cellnumber.clone();
    let session_id = signed_in.session_id.clone();
    let conn = signed_in.conn();
    let reserved = throttle::reserve(conn, app.config.login_limits(), &cellnumber, source).await?;
    let stored: Option<String> = conn
        .first("SELECT password_hash FROM users WHERE id = ?", (user_id,))
        .await?;
    let stored = stored.ok_or(ApiError::Unauthorized)?;
    let current_ok = change.current_password.len() <= password::MAX_PASSWORD_BYTES
        && password::verify(&change.current_password, &stored).await;
    if !current_ok {
        return Err(ApiError::WrongCurrentPassword);
    }
    throttle::succeeded(conn, &cellnumber, source, reserved).await?;
    let new_hash = password::hash(&change.new_password, app.config.bcrypt_cost).await?;
    let mut tx = conn.begin().await?;
    let outcome = async {
        // The user's row first, then its sessions: the order every other writer locks them in.
        let changed = tx
            .run(
                "UPDATE users SET password_hash = ?, \
                 updated = GREATEST(UTC_TIMESTAMP(6), updated + INTERVAL 1 MICROSECOND) \
                 WHERE id = ? AND password_hash = ?",
                (&new_hash, user_id, &stored),
            )
            .await?;
        if changed.affected_rows != 1 {
            return Err(ApiError::Unauthorized);
        }
        let live: Option<u8> = tx
            .first(
                "SELECT 1 FROM session WHERE id = ? AND user_id = ? AND ended IS NULL \
                 AND expires > UTC_TIMESTAMP(6) FOR UPDATE",
                (&session_id, user_id),
            )
            .await?;
        live.ok_or(ApiError::Unauthorized)?;
        sessions::end_sessions(&mut tx, user_id, Ended::AllBut(&session_id)).await?;
        audit::record(&mut tx, parties, &Event::PasswordChanged).await?;
        Ok(())
    }
    .await;
    crate::db::finish(tx, outcome).await
}
