//! Spending a refresh token: rotation in one transaction, and a replay ending the session.

use chrono::{NaiveDateTime, Utc};

use super::endings::end_recorded;
use super::{
    access_token_values, grant_of, new_refresh_token, now, secure_random, Ended, Live,
    RefreshRequest, SessionGrant, MAX_REFRESH_TOKEN_CHARS,
};
use crate::audit::{Event, Parties};
use crate::error::{mysql_codes, ApiError};
use crate::source_ip::SourceIp;
use crate::sql_batch::{self, Statement};
use crate::statements::{DbConn, Statements};
use crate::token::IssuedToken;
use crate::App;

/// The live session whose current or previous refresh token hashes to the given hash, with its
/// user's role and whether the token is the current one.
const FIND_BY_REFRESH: &str = "SELECT s.id, s.user_id, u.role_id, s.expires, s.refresh_hash = ? \
     FROM session s JOIN users u ON u.id = s.user_id \
     WHERE (s.refresh_hash = ? OR s.previous_refresh_hash = ?) \
       AND s.ended IS NULL AND s.expires > UTC_TIMESTAMP(6) AND u.is_active";

/// Spends a refresh token for a new grant. A spent token presented again, or one that loses a
/// race with another refresh of itself, is taken as theft: the whole session ends.
pub async fn refresh(
    app: &App,
    request: RefreshRequest,
    source: &SourceIp,
) -> Result<SessionGrant, ApiError> {
    let presented = request.refresh_token;
    if presented.is_empty() || presented.chars().count() > MAX_REFRESH_TOKEN_CHARS {
        return Err(ApiError::validation(
            &["body", "refreshToken"],
            "must be 1 to 512 characters",
        ));
    }
    let presented_hash = secure_random::sha256(presented.as_bytes());
    let hash = &presented_hash[..];
    let mut conn = app.conn().await?;
    let found: Option<(String, u64, u8, NaiveDateTime, bool)> =
        conn.first(FIND_BY_REFRESH, (hash, hash, hash)).await?;
    let Some((id, user_id, role_id, expires, is_current)) = found else {
        return Err(ApiError::Unauthorized);
    };
    let live = Live {
        id,
        user_id,
        role_id,
        expires: expires.and_utc(),
    };
    let (refresh_token, new_hash) = new_refresh_token()?;
    let issued = app.tokens.issue(user_id, role_id, Utc::now())?;
    let rotated = is_current && rotate(&mut conn, &live, hash, &new_hash, &issued).await?;
    if rotated {
        return Ok(grant_of(app, &live, issued, refresh_token));
    }
    // Not current, or spent by a concurrent refresh since it was read: a replay.
    let parties = Parties {
        actor_id: None,
        target_id: Some(user_id),
        source,
    };
    let event = Event::RefreshReused {
        session_id: &live.id,
    };
    end_recorded(
        &mut conn,
        user_id,
        Ended::One(&live.id),
        parties,
        &event,
        true,
    )
    .await?;
    tracing::warn!(
        session_id = %live.id,
        user_id,
        "refresh token reused: the session is ended"
    );
    Err(ApiError::Unauthorized)
}

/// Replaces the session's refresh hash `presented` by `next` and records the new access token,
/// in one transaction and one round trip (one commit); false, with nothing written, when
/// `presented` is no longer its current one (spent since it was read), or the session is gone
/// with its user. Concurrent rotations of one session lock its row by the primary key first:
/// found through the unique index of the hash, two of them deadlock (each holding the index
/// entry the other's insert of the new hash waits for). A deadlock that happens all the same is
/// the race lost.
async fn rotate(
    conn: &mut DbConn,
    live: &Live,
    presented: &[u8],
    next: &[u8; 32],
    issued: &IssuedToken,
) -> Result<bool, ApiError> {
    let statements = [
        Statement::new(
            "UPDATE session FORCE INDEX (PRIMARY) \
             SET previous_refresh_hash = refresh_hash, refresh_hash = ?, refreshed = ? \
             WHERE id = ? AND refresh_hash = ? AND ended IS NULL",
            &[
                next.to_vec().into(),
                now().naive_utc().into(),
                live.id.as_str().into(),
                presented.to_vec().into(),
            ],
        ),
        // Only the rotation above can have written `next` (256 random bits) into the session.
        Statement::new(
            "INSERT INTO access_token (jti, user_id, session_id, created, expires) \
             SELECT ?, ?, ?, ?, ? FROM session WHERE id = ? AND refresh_hash = ?",
            [
                access_token_values(issued, live).as_slice(),
                &[live.id.as_str().into(), next.to_vec().into()],
            ]
            .concat(),
        ),
    ];
    match sql_batch::run_in_transaction(conn, &statements).await {
        Ok(outcomes) => Ok(outcomes[0].affected_rows == 1),
        Err(mysql_async::Error::Server(error))
            if [mysql_codes::DEADLOCK, mysql_codes::NO_REFERENCED_ROW].contains(&error.code) =>
        {
            Ok(false)
        }
        Err(error) => Err(error.into()),
    }
}
