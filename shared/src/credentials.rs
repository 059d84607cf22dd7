//! Proving a password: login, and the password change that asks for the current one. Both go
//! through the login throttle before bcrypt, so neither is an unthrottled password oracle.

use chrono::{DateTime, Utc};
use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use serde::{Deserialize, Serialize};

use crate::audit::{self, Event, LoginFailure, Parties};
use crate::auth::Authenticated;
use crate::error::{mysql_codes, ApiError};
use crate::policy::Action;
use crate::source_ip::SourceIp;
use crate::throttle::{self, Limits};
use crate::validation::{self, PasswordChange};
use crate::{password, App};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schema(example = "+15550000001")]
    pub cellnumber: String,
    pub password: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginResponse {
    pub token: String,
    #[schema(example = "bearer", pattern = "^bearer$")]
    pub token_type: &'static str,
    /// Seconds the token is valid for.
    pub ttl: u64,
    #[schema(minimum = 1)]
    pub user_id: u64,
    #[schema(minimum = 1, maximum = 2)]
    pub role_id: u8,
    pub created: DateTime<Utc>,
    pub expires: DateTime<Utc>,
}

/// Records the token only while the user still has the hash its password was checked against
/// and is active: a user deleted, disabled, or whose password an admin reset, during the bcrypt
/// of a login must not leave that login with a live token.
const RECORD_TOKEN: &str = "INSERT INTO access_token (jti, user_id, created, expires) \
     SELECT ?, id, ?, ? FROM users WHERE id = ? AND password_hash = ? AND is_active";

/// Checks the password and issues a token. An unknown cellnumber and a wrong password give the
/// same error after the same bcrypt work, and both count against the cellnumber's throttle.
pub async fn login(
    app: &App,
    request: LoginRequest,
    source: &SourceIp,
) -> Result<LoginResponse, ApiError> {
    let config = &app.config;
    // A cellnumber no user can have (the column is ASCII, and MySQL refuses to compare it with
    // other characters) gets the answer of a wrong password after the same bcrypt work.
    if !validation::is_cellnumber(&request.cellnumber) {
        password::verify(&request.password, &password::dummy_hash(config.bcrypt_cost)).await;
        record_unusable_cellnumber(app, &request.cellnumber, source).await;
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
    if !matches!(outcome, Ok(_) | Err(ApiError::Unavailable(_))) {
        // Failures run the clean-up too, so a flood of made-up cellnumbers cannot grow the
        // throttle's table without bound; a refused login's event rides on the same query.
        let event = refused
            .map(|reason| audit::login_failed_statement(source, &request.cellnumber, reason));
        remove_expired(&mut conn, &app.config, event).await;
    }
    outcome
}

/// The `login.failed` event of a cellnumber no user can have, which was refused before any query.
async fn record_unusable_cellnumber(app: &App, cellnumber: &str, source: &SourceIp) {
    let parties = Parties {
        actor_id: None,
        target_id: None,
        source,
    };
    let event = Event::LoginFailed {
        cellnumber,
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
    conn: &mut Conn,
    request: &LoginRequest,
    source: &SourceIp,
) -> Result<LoginResponse, ApiError> {
    let config = &app.config;
    throttle::reserve(conn, Limits::of(config), &request.cellnumber, source).await?;
    let user: Option<(u64, String, u8, bool)> = conn
        .exec_first(
            "SELECT id, password_hash, role_id, is_active FROM users WHERE cellnumber = ?",
            (&request.cellnumber,),
        )
        .await?;
    let matched = match &user {
        Some((_, hash, _, _)) if request.password.len() <= password::MAX_PASSWORD_BYTES => {
            password::verify(&request.password, hash).await
        }
        // Same cost as a real check, so timing does not tell whether the cellnumber exists.
        _ => {
            password::verify(&request.password, &password::dummy_hash(config.bcrypt_cost)).await;
            false
        }
    };
    let (Some((user_id, verified_hash, role_id, is_active)), true) = (user, matched) else {
        return Err(ApiError::InvalidCredentials);
    };
    // Only after the password is proven, so the answer tells nothing to whoever does not know it.
    if !is_active {
        return Err(ApiError::AccountDisabled);
    }

    let issued = app.tokens.issue(user_id, role_id, Utc::now())?;
    // The token and its event in one transaction and one round trip.
    let statements = [
        crate::sql_batch::bind(
            RECORD_TOKEN,
            &[
                issued.jti.as_str().into(),
                issued.issued_at.naive_utc().into(),
                issued.expires_at.naive_utc().into(),
                user_id.into(),
                verified_hash.as_str().into(),
            ],
        ),
        audit::insert_after_one_row(
            Parties {
                actor_id: None,
                target_id: Some(user_id),
                source,
            },
            // Today a session is its access token; sessions of their own replace the jti here.
            &Event::LoginSucceeded {
                session_id: &issued.jti,
            },
        ),
    ];
    let recorded = crate::sql_batch::run_in_transaction(conn, &statements).await;
    match recorded {
        Ok(outcomes) if outcomes[0].affected_rows == 1 => {}
        Ok(_) => return Err(ApiError::InvalidCredentials),
        Err(mysql_async::Error::Server(error)) if error.code == mysql_codes::NO_REFERENCED_ROW => {
            return Err(ApiError::InvalidCredentials)
        }
        Err(error) => return Err(error.into()),
    }
    throttle::succeeded(conn, &request.cellnumber, source).await?;
    upgrade_hash(
        conn,
        user_id,
        &request.password,
        &verified_hash,
        config.bcrypt_cost,
    )
    .await;
    remove_expired(conn, config, None).await;
    tracing::Span::current().record("user_id", user_id);
    Ok(LoginResponse {
        token: issued.token,
        token_type: "bearer",
        ttl: app.tokens.ttl().as_secs(),
        user_id,
        role_id,
        created: issued.issued_at,
        expires: issued.expires_at,
    })
}

/// Re-hashes a proven password whose hash has another cost than the configured one. Unknown
/// cellnumbers are checked against a dummy hash of the configured cost, so a known cellnumber
/// with an older, cheaper hash would otherwise answer measurably faster. Best effort: the login
/// it rides on has already succeeded.
async fn upgrade_hash(conn: &mut Conn, user_id: u64, password: &str, hash: &str, cost: u32) {
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
        .exec_drop(
            "UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?",
            (upgraded, user_id, hash),
        )
        .await
    {
        tracing::warn!(%error, "password hash upgrade failed");
    }
}

/// Keeps `access_token`, `login_attempt` and `audit_event` from growing without bound, a bounded
/// batch per login; a failure here must not fail the login it rides on. A refused login's
/// `event` goes first in the same query.
async fn remove_expired(conn: &mut Conn, config: &crate::Config, event: Option<String>) {
    let mut cleanup = event.map(|event| event + "; ").unwrap_or_default();
    cleanup.push_str(&format!(
        "DELETE FROM access_token WHERE expires < UTC_TIMESTAMP(6) LIMIT 500; {}; {}",
        throttle::remove_stale_statement(config.login_window),
        audit::remove_expired_statement(config.audit_retention_days),
    ));
    if let Err(error) = conn.query_drop(cleanup).await {
        tracing::warn!(%error, "expired row clean-up failed");
    }
}

/// Changes the signed-in user's password after checking the current one, and revokes every
/// other token of the user (the one used stays valid). A wrong current password counts as a
/// failed login of the user's cellnumber from `source`.
///
/// The change commits only if, at commit time, the stored hash is still the one the current
/// password was checked against and the caller's token is still live: an admin reset, a logout
/// or another change that lands during the bcrypt work wins, and this request gets 401.
pub async fn change_password(
    app: &App,
    signed_in: &mut Authenticated,
    change: PasswordChange,
    source: &SourceIp,
) -> Result<(), ApiError> {
    let parties = Parties {
        actor_id: Some(signed_in.user.id),
        target_id: Some(signed_in.user.id),
        source,
    };
    signed_in.principal.authorize(Action::ActOnSelf)?;
    validation::check(&change)?;
    let user_id = signed_in.user.id;
    let cellnumber = signed_in.user.cellnumber.clone();
    let jti = signed_in.jti.clone();
    let conn = signed_in.conn();
    throttle::reserve(conn, Limits::of(&app.config), &cellnumber, source).await?;
    let stored: Option<String> = conn
        .exec_first("SELECT password_hash FROM users WHERE id = ?", (user_id,))
        .await?;
    let stored = stored.ok_or(ApiError::Unauthorized)?;
    let current_ok = change.current_password.len() <= password::MAX_PASSWORD_BYTES
        && password::verify(&change.current_password, &stored).await;
    if !current_ok {
        return Err(ApiError::WrongCurrentPassword);
    }
    throttle::succeeded(conn, &cellnumber, source).await?;
    let new_hash = password::hash(&change.new_password, app.config.bcrypt_cost).await?;
    let mut tx = conn.start_transaction(Default::default()).await?;
    let outcome = async {
        // The user's row first, then its tokens: the order every other writer locks them in.
        tx.exec_drop(
            "UPDATE users SET password_hash = ?, \
             updated = GREATEST(UTC_TIMESTAMP(6), updated + INTERVAL 1 MICROSECOND) \
             WHERE id = ? AND password_hash = ?",
            (&new_hash, user_id, &stored),
        )
        .await?;
        if tx.affected_rows() != 1 {
            return Err(ApiError::Unauthorized);
        }
        let live: Option<u8> = tx
            .exec_first(
                "SELECT 1 FROM access_token \
                 WHERE jti = ? AND user_id = ? AND expires > UTC_TIMESTAMP(6) FOR UPDATE",
                (&jti, user_id),
            )
            .await?;
        live.ok_or(ApiError::Unauthorized)?;
        tx.exec_drop(
            "DELETE FROM access_token WHERE user_id = ? AND jti <> ?",
            (user_id, &jti),
        )
        .await?;
        audit::record(&mut tx, parties, &Event::PasswordChanged).await?;
        Ok(())
    }
    .await;
    crate::db::finish(tx, outcome).await
}
