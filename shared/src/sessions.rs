//! Sessions: one per login, ending at a fixed time or when ended (logout, a password change, an
//! admin, a refresh token's reuse). A session holds short-lived access tokens (JWTs recorded in
//! `access_token`) and one refresh token at a time, which can be spent once for a new pair.
//!
//! Ending a session is one `UPDATE` of its row: authentication joins the session and requires
//! it live, so every access token of an ended session is dead at once, and so is its refresh
//! token. [`end_sessions`] is the one place that does it.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::audit::{self, Event, Parties, RowCondition};
use crate::auth::Authenticated;
use crate::error::{mysql_codes, ApiError};
use crate::policy::Action;
use crate::source_ip::SourceIp;
use crate::sql_batch::{self, Statement};
use crate::statements::{DbConn, Statements};
use crate::token::IssuedToken;
use crate::{secure_random, App};

/// The answer of login and of refresh.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionGrant {
    /// The access token: a JWT for `Authorization: Bearer`.
    pub token: String,
    #[schema(example = "bearer", pattern = "^bearer$")]
    pub token_type: &'static str,
    /// Seconds the access token is valid for.
    pub ttl: u64,
    #[schema(minimum = 1)]
    pub user_id: u64,
    #[schema(minimum = 1, maximum = 2)]
    pub role_id: u8,
    pub created: DateTime<Utc>,
    /// When the access token expires.
    pub expires: DateTime<Utc>,
    /// Spend it at `POST /api/users/token/refresh` for a new grant; it works once.
    #[schema(min_length = 43, max_length = 512)]
    pub refresh_token: String,
    /// When the session ends, whatever is refreshed.
    pub refresh_expires: DateTime<Utc>,
    #[schema(pattern = "^[A-Za-z0-9_-]{22}$")]
    pub session_id: String,
}

/// The body of `POST /api/users/token/refresh`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RefreshRequest {
    #[schema(min_length = 1, max_length = 512)]
    pub refresh_token: String,
}

pub const MAX_REFRESH_TOKEN_CHARS: usize = 512;

/// A session as its user sees it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionView {
    #[schema(pattern = "^[A-Za-z0-9_-]{22}$")]
    pub id: String,
    pub created: DateTime<Utc>,
    /// The time of its last refresh, or null.
    pub refreshed: Option<DateTime<Utc>>,
    pub expires: DateTime<Utc>,
    /// True for the session of the token used.
    pub current: bool,
}

/// `GET /api/users/me/sessions`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionList {
    pub items: Vec<SessionView>,
}

/// At most this many sessions are listed, newest first.
pub const MAX_LISTED_SESSIONS: usize = 100;

/// Which sessions `POST /api/users/logout` ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogoutScope {
    /// The session of the token used (the default).
    Local,
    /// Every other session of the user.
    Others,
    /// All of them.
    Global,
}

impl LogoutScope {
    pub fn parse(value: Option<&str>) -> Result<Self, ApiError> {
        match value {
            None | Some("local") => Ok(Self::Local),
            Some("others") => Ok(Self::Others),
            Some("global") => Ok(Self::Global),
            Some(_) => Err(ApiError::validation(
                &["query", "scope"],
                "must be local, others or global",
            )),
        }
    }
}

/// A live session to issue a grant for.
struct Live {
    id: String,
    user_id: u64,
    role_id: u8,
    expires: DateTime<Utc>,
}

const SESSION_ID_BYTES: usize = 16;
/// 256 bits: a slow hash is not needed to protect a secret nobody can guess.
const REFRESH_TOKEN_BYTES: usize = 32;

fn new_session_id() -> Result<String, ApiError> {
    Ok(secure_random::url_safe(&secure_random::bytes::<
        SESSION_ID_BYTES,
    >()?))
}

/// Whether `id` could be a session id at all (anything else is not looked up).
fn is_session_id(id: &str) -> bool {
    id.len() == 22
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A new refresh token and the hash that is stored of it.
fn new_refresh_token() -> Result<(String, [u8; 32]), ApiError> {
    let token = secure_random::url_safe(&secure_random::bytes::<REFRESH_TOKEN_BYTES>()?);
    let hash = secure_random::sha256(token.as_bytes());
    Ok((token, hash))
}

/// Now, at the microsecond precision the columns keep.
fn now() -> DateTime<Utc> {
    use chrono::{DurationRound, TimeDelta};
    Utc::now()
        .duration_trunc(TimeDelta::microseconds(1))
        .unwrap_or_else(|_| Utc::now())
}

/// Starts a session for a user whose password was just proven against `verified_hash`, and
/// answers its first grant. The session, its first access token and the `login.succeeded` event
/// are written in one transaction and one round trip, and the session only while the user still
/// has that hash and is active: a user deleted, disabled, or whose password an admin reset,
/// during the bcrypt of a login must not leave that login with a live session.
pub(crate) async fn start(
    app: &App,
    conn: &mut DbConn,
    user_id: u64,
    role_id: u8,
    verified_hash: &str,
    source: &SourceIp,
) -> Result<SessionGrant, ApiError> {
    let created = now();
    let live = Live {
        id: new_session_id()?,
        user_id,
        role_id,
        expires: created + app.config.session_ttl,
    };
    let (refresh_token, refresh_hash) = new_refresh_token()?;
    let issued = app.tokens.issue(user_id, role_id, Utc::now())?;
    let statements = [
        Statement::new(
            "INSERT INTO session (id, user_id, created, expires, refresh_hash) \
             SELECT ?, id, ?, ?, ? FROM users WHERE id = ? AND password_hash = ? AND is_active",
            &[
                live.id.as_str().into(),
                created.naive_utc().into(),
                live.expires.naive_utc().into(),
                refresh_hash.to_vec().into(),
                user_id.into(),
                verified_hash.into(),
            ],
        ),
        // Without the session just inserted, its foreign key fails this and the batch.
        Statement::new(RECORD_ACCESS_TOKEN, access_token_values(&issued, &live)),
        audit::insert_if_row(
            Parties {
                actor_id: None,
                target_id: Some(user_id),
                source,
            },
            &Event::LoginSucceeded {
                session_id: &live.id,
            },
            RowCondition::new("session WHERE id = ?", [live.id.as_str().into()]),
        ),
    ];
    match sql_batch::run_in_transaction(conn, &statements).await {
        Ok(_) => Ok(grant_of(app, &live, issued, refresh_token)),
        Err(mysql_async::Error::Server(error)) if error.code == mysql_codes::NO_REFERENCED_ROW => {
            Err(ApiError::InvalidCredentials)
        }
        Err(error) => Err(error.into()),
    }
}

const RECORD_ACCESS_TOKEN: &str =
    "INSERT INTO access_token (jti, user_id, session_id, created, expires) VALUES (?, ?, ?, ?, ?)";

fn access_token_values(issued: &IssuedToken, live: &Live) -> [mysql_async::Value; 5] {
    [
        issued.jti.as_str().into(),
        live.user_id.into(),
        live.id.as_str().into(),
        issued.issued_at.naive_utc().into(),
        issued.expires_at.naive_utc().into(),
    ]
}

fn grant_of(app: &App, live: &Live, issued: IssuedToken, refresh_token: String) -> SessionGrant {
    tracing::Span::current().record("user_id", live.user_id);
    SessionGrant {
        token: issued.token,
        token_type: "bearer",
        ttl: app.tokens.ttl().as_secs(),
        user_id: live.user_id,
        role_id: live.role_id,
        created: issued.issued_at,
        expires: issued.expires_at,
        refresh_token,
        refresh_expires: live.expires,
        session_id: live.id.clone(),
    }
}

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
    end_recorded_on(
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

/// Which of a user's sessions [`end_sessions`] ends.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Ended<'a> {
    One(&'a str),
    AllBut(&'a str),
    All,
}

/// The condition that finds the live sessions of `user_id` that `which` names.
fn live_sessions(user_id: u64, which: Ended<'_>) -> (String, Vec<mysql_async::Value>) {
    let mut params = vec![mysql_async::Value::from(user_id)];
    let condition = match which {
        Ended::One(id) => {
            params.push(id.into());
            "AND id = ?"
        }
        Ended::AllBut(id) => {
            params.push(id.into());
            "AND id <> ?"
        }
        Ended::All => "",
    };
    (format!("user_id = ? AND ended IS NULL {condition}"), params)
}

fn end_sql(user_id: u64, which: Ended<'_>) -> (String, Vec<mysql_async::Value>) {
    let (condition, params) = live_sessions(user_id, which);
    (
        format!("UPDATE session SET ended = UTC_TIMESTAMP(6) WHERE {condition}"),
        params,
    )
}

/// Ends sessions of `user_id` inside the caller's transaction; how many were live. Their access
/// tokens and refresh tokens stop working at once.
pub(crate) async fn end_sessions<Q: Statements>(
    db: &mut Q,
    user_id: u64,
    which: Ended<'_>,
) -> Result<u64, ApiError> {
    let (sql, params) = end_sql(user_id, which);
    Ok(db.run(&sql, params).await?.affected_rows)
}

/// Ends sessions and records `event` in one transaction and one round trip; how many ended.
/// `only_if_one` (for [`Ended::One`]) writes the event only when that session was live.
async fn end_recorded(
    signed_in: &mut Authenticated,
    user_id: u64,
    which: Ended<'_>,
    parties: Parties<'_>,
    event: &Event<'_>,
    only_if_one: bool,
) -> Result<u64, ApiError> {
    end_recorded_on(
        signed_in.conn(),
        user_id,
        which,
        parties,
        event,
        only_if_one,
    )
    .await
}

async fn end_recorded_on(
    conn: &mut DbConn,
    user_id: u64,
    which: Ended<'_>,
    parties: Parties<'_>,
    event: &Event<'_>,
    only_if_one: bool,
) -> Result<u64, ApiError> {
    let (sql, params) = end_sql(user_id, which);
    let end = Statement::new(sql, params);
    let (statements, end_at) = if only_if_one {
        let (condition, params) = live_sessions(user_id, which);
        let session = RowCondition::new(format!("session WHERE {condition}"), params);
        ([audit::insert_if_row(parties, event, session), end], 1)
    } else {
        ([end, audit::insert(parties, event)], 0)
    };
    let outcomes = sql_batch::run_in_transaction(conn, &statements).await?;
    Ok(outcomes[end_at].affected_rows)
}

/// The signed-in user's live sessions, newest first.
pub async fn list(signed_in: &mut Authenticated) -> Result<SessionList, ApiError> {
    signed_in.principal.authorize(Action::ActOnSelf)?;
    let user_id = signed_in.user.id;
    let rows: Vec<(String, NaiveDateTime, Option<NaiveDateTime>, NaiveDateTime)> = signed_in
        .conn()
        .rows(
            "SELECT id, created, refreshed, expires FROM session \
             WHERE user_id = ? AND ended IS NULL AND expires > UTC_TIMESTAMP(6) \
             ORDER BY created DESC, id DESC LIMIT ?",
            (user_id, MAX_LISTED_SESSIONS as u64),
        )
        .await?;
    let items = rows
        .into_iter()
        .map(|(id, created, refreshed, expires)| SessionView {
            current: id == signed_in.session_id,
            id,
            created: created.and_utc(),
            refreshed: refreshed.map(|at| at.and_utc()),
            expires: expires.and_utc(),
        })
        .collect();
    Ok(SessionList { items })
}

/// Ends one of the signed-in user's sessions; another user's or an unknown id is 404.
pub async fn end_own(
    signed_in: &mut Authenticated,
    session_id: &str,
    source: &SourceIp,
) -> Result<(), ApiError> {
    signed_in.principal.authorize(Action::ActOnSelf)?;
    if !is_session_id(session_id) {
        return Err(ApiError::SessionNotFound);
    }
    let user_id = signed_in.user.id;
    let parties = Parties {
        actor_id: Some(user_id),
        target_id: Some(user_id),
        source,
    };
    let event = Event::SessionRevoked { session_id };
    match end_recorded(
        signed_in,
        user_id,
        Ended::One(session_id),
        parties,
        &event,
        true,
    )
    .await?
    {
        0 => Err(ApiError::SessionNotFound),
        _ => Ok(()),
    }
}

/// `POST /api/users/logout`: ends the sessions `scope` names.
pub async fn logout(
    signed_in: &mut Authenticated,
    scope: LogoutScope,
    source: &SourceIp,
) -> Result<(), ApiError> {
    signed_in.principal.authorize(Action::ActOnSelf)?;
    let user_id = signed_in.user.id;
    let current = signed_in.session_id.clone();
    let (which, name) = match scope {
        LogoutScope::Local => (Ended::One(&current), "local"),
        LogoutScope::Others => (Ended::AllBut(&current), "others"),
        LogoutScope::Global => (Ended::All, "global"),
    };
    let parties = Parties {
        actor_id: Some(user_id),
        target_id: Some(user_id),
        source,
    };
    let event = Event::Logout { scope: name };
    end_recorded(signed_in, user_id, which, parties, &event, false).await?;
    Ok(())
}

/// An admin signs user `id` out everywhere; 404 when there is no such user.
pub async fn end_all_of(
    signed_in: &mut Authenticated,
    id: u64,
    source: &SourceIp,
) -> Result<(), ApiError> {
    signed_in.principal.authorize(Action::EndSessionsOfUser)?;
    let exists = match signed_in.take_subject(id) {
        Some(found) => found.is_some(),
        None => signed_in
            .conn()
            .first::<u8>("SELECT 1 FROM users WHERE id = ?", (id,))
            .await?
            .is_some(),
    };
    if !exists {
        return Err(ApiError::NotFound);
    }
    let parties = Parties {
        actor_id: Some(signed_in.user.id),
        target_id: Some(id),
        source,
    };
    end_recorded(
        signed_in,
        id,
        Ended::All,
        parties,
        &Event::SessionsRevoked,
        false,
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_and_refresh_tokens_are_random_and_url_safe() {
        let id = new_session_id().unwrap();
        assert!(is_session_id(&id), "{id}");
        assert_ne!(id, new_session_id().unwrap());
        let (token, hash) = new_refresh_token().unwrap();
        assert_eq!(token.len(), 43, "256 bits in unpadded base64");
        assert!(token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(hash, secure_random::sha256(token.as_bytes()));
        assert_ne!(token, new_refresh_token().unwrap().0);
    }

    #[test]
    fn only_well_formed_session_ids_are_looked_up() {
        for bad in [
            "",
            "short",
            "' OR 1=1 --aaaaaaaaaaaa",
            &"a".repeat(23),
            "aaaaaaaaaaaaaaaaaaaaa/",
        ] {
            assert!(!is_session_id(bad), "{bad}");
        }
    }

    #[test]
    fn logout_scopes() {
        assert_eq!(LogoutScope::parse(None).unwrap(), LogoutScope::Local);
        assert_eq!(
            LogoutScope::parse(Some("local")).unwrap(),
            LogoutScope::Local
        );
        assert_eq!(
            LogoutScope::parse(Some("others")).unwrap(),
            LogoutScope::Others
        );
        assert_eq!(
            LogoutScope::parse(Some("global")).unwrap(),
            LogoutScope::Global
        );
        for bad in ["", "Global", "all", "local "] {
            assert!(LogoutScope::parse(Some(bad)).is_err(), "{bad}");
        }
    }
}
