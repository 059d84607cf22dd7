//! Spending a refresh token: rotation in one transaction, and a replay ending the session.

use chrono::{NaiveDateTime, Utc};

use super::endings::end_recorded;
use super::{
    access_token_values, grant_of, new_refresh_token, secure_random, Ended, Live, RefreshRequest,
    SessionGrant, MAX_REFRESH_TOKEN_CHARS,
};
use crate::audit::{Event, Parties};
use crate::auth::source_ip::SourceIp;
use crate::auth::token::IssuedToken;
use crate::db::batch::{self, Statement};
use crate::db::errors::codes as mysql_codes;
use crate::db::statements::{DbConn, Statements};
use crate::error::ApiError;
use crate::App;

/// The live session whose current refresh token, or one it has spent, hashes to the given
/// hash, with its user's role, whether the token is the current one, and how often the session
/// was refreshed. Each hash is found by a unique key; the session then by its primary key.
const FIND_BY_REFRESH: &str = "SELECT s.id, s.user_id, u.role_id, s.expires, s.refresh_hash = ?, \
       s.refreshes \
     FROM session s JOIN users u ON u.id = s.user_id \
     WHERE s.id = COALESCE((SELECT id FROM session WHERE refresh_hash = ?), \
                           (SELECT session_id FROM spent_refresh WHERE hash = ?)) \
       AND s.ended IS NULL AND s.expires > UTC_TIMESTAMP(6) AND u.is_active";

/// A session refreshed this many times is refused further refreshes (401: sign in again), so a
/// client refreshing in a loop cannot grow its session's spent hashes without bound. Far above
/// what a client refreshing when its token expires needs: [`max_refreshes`].
const MIN_MAX_REFRESHES: u64 = 10_000;

/// The refreshes one session may have: twice what a client needs that refreshes each time its
/// access token expires, and at least [`MIN_MAX_REFRESHES`].
fn max_refreshes(app: &App) -> u64 {
    let session = app.config.session_ttl.as_secs();
    let token = app.tokens.ttl().as_secs().max(1);
    (2 * session / token).max(MIN_MAX_REFRESHES)
}

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
    let found: Option<(String, u64, u8, NaiveDateTime, bool, u64)> =
        conn.first(FIND_BY_REFRESH, (hash, hash, hash)).await?;
    let Some((id, user_id, role_id, expires, is_current, refreshes)) = found else {
        return Err(ApiError::Unauthorized);
    };
    // Only the current token can reach the cap; refused, it stays current and unspent.
    if is_current && refreshes >= max_refreshes(app) {
        return Err(ApiError::Unauthorized);
    }
    let live = Live {
        id,
        user_id,
        role_id,
        expires: expires.and_utc(),
    };
    let (refresh_token, new_hash) = new_refresh_token()?;
    let issued = app
        .tokens
        .issue(user_id, role_id, &live.id, Utc::now(), live.expires)?;
    // The session ends within this second: there is nothing left to grant.
    if issued.expires_at <= issued.issued_at {
        return Err(ApiError::Unauthorized);
    }
    let rotated = is_current && rotate(&mut conn, &live, hash, &new_hash, &issued).await?;
    if rotated {
        return Ok(grant_of(&live, issued, refresh_token));
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

/// Replaces the session's refresh hash `presented` by `next`, remembers `presented` as spent,
/// and records the new access token, in one transaction and one round trip (one commit); false,
/// with nothing written, when `presented` is no longer its current one (spent since it was
/// read), or the session is gone with its user. Concurrent rotations of one session lock its
/// row by the primary key first: found through the unique index of the hash, two of them
/// deadlock (each holding the index entry the other's insert of the new hash waits for). A
/// deadlock that happens all the same is the race lost.
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
             SET refresh_hash = ?, refreshed = ?, refreshes = refreshes + 1 \
             WHERE id = ? AND refresh_hash = ? AND ended IS NULL",
            &[
                next.to_vec().into(),
                crate::db::now().naive_utc().into(),
                live.id.as_str().into(),
                presented.to_vec().into(),
            ],
        ),
        // Only the rotation above can have written `next` (256 random bits) into the session:
        // these two write exactly when it did.
        Statement::new(
            "INSERT INTO spent_refresh (hash, session_id) \
             SELECT ?, id FROM session WHERE id = ? AND refresh_hash = ?",
            [
                presented.to_vec().into(),
                live.id.as_str().into(),
                next.to_vec().into(),
            ],
        ),
        Statement::new(
            "INSERT INTO access_token (jti, user_id, session_id, created, expires, signed_with) \
             SELECT ?, ?, ?, ?, ?, ? FROM session WHERE id = ? AND refresh_hash = ?",
            [
                access_token_values(issued, live).as_slice(),
                &[live.id.as_str().into(), next.to_vec().into()],
            ]
            .concat(),
        ),
    ];
    match batch::run_in_transaction(conn, &statements).await {
        Ok(outcomes) => Ok(outcomes[0].affected_rows == 1),
        Err(crate::db::Error::Server(error))
            if [mysql_codes::DEADLOCK, mysql_codes::NO_REFERENCED_ROW].contains(&error.code) =>
        {
            Ok(false)
        }
        Err(error) => Err(error.into()),
    }
}
