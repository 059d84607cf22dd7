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
use crate::auth::policy::Action;
use crate::auth::source_ip::SourceIp;
use crate::auth::token::IssuedToken;
use crate::auth::Authenticated;
use crate::auth::{random as secure_random, throttle};
use crate::db::batch::{self, Statement};
use crate::db::errors::codes as mysql_codes;
use crate::db::statements::{DbConn, Statements};
use crate::error::ApiError;
use crate::App;

mod endings;
mod refresh;

pub use endings::{end_all_of, end_own, logout};
pub(crate) use endings::{end_sessions, Ended};
pub use refresh::refresh;

/// The answer of login and of refresh.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionGrant {
    /// The access token: a JWT for `Authorization: Bearer`.
    pub token: String,
    #[schema(example = "bearer", pattern = "^bearer$")]
    pub token_type: &'static str,
    /// Seconds the access token is valid for: `TOKEN_TTL_SECONDS`, or less when the session
    /// ends sooner (`expires` is never later than `refreshExpires`).
    pub ttl: u64,
    #[schema(minimum = 1)]
    pub user_id: u64,
    #[schema(minimum = 1, maximum = 2)]
    pub role_id: u8,
    pub created: DateTime<Utc>,
    /// When the access token expires: never later than the session's end.
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

/// Starts a session for a user whose password was just proven against `verified_hash`, and
/// answers its first grant. The session, its first access token, the `login.succeeded` event
/// and the address as a known one of the user are written in one transaction and one round trip, and the session only while the user still
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
    let created = crate::db::now();
    let live = Live {
        id: new_session_id()?,
        user_id,
        role_id,
        expires: created + app.config.session_ttl,
    };
    let (refresh_token, refresh_hash) = new_refresh_token()?;
    let issued = app
        .tokens
        .issue(user_id, role_id, &live.id, Utc::now(), live.expires)?;
    let mut statements = vec![
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
    statements.extend(throttle::known_address_statement(user_id, source));
    match batch::run_in_transaction(conn, &statements).await {
        Ok(_) => Ok(grant_of(&live, issued, refresh_token)),
        Err(crate::db::Error::Server(error)) if error.code == mysql_codes::NO_REFERENCED_ROW => {
            Err(ApiError::InvalidCredentials)
        }
        Err(error) => Err(error.into()),
    }
}

const RECORD_ACCESS_TOKEN: &str =
    "INSERT INTO access_token (jti, user_id, session_id, created, expires, signed_with) \
     VALUES (?, ?, ?, ?, ?, ?)";

fn access_token_values(issued: &IssuedToken, live: &Live) -> [crate::db::Value; 6] {
    [
        issued.jti.as_str().into(),
        live.user_id.into(),
        live.id.as_str().into(),
        issued.issued_at.naive_utc().into(),
        issued.expires_at.naive_utc().into(),
        issued.signed_with.as_str().into(),
    ]
}

fn grant_of(live: &Live, issued: IssuedToken, refresh_token: String) -> SessionGrant {
    tracing::Span::current().record("user_id", live.user_id);
    SessionGrant {
        token: issued.token,
        token_type: "bearer",
        // The token's real lifetime: shorter than the configured one near the session's end.
        ttl: u64::try_from((issued.expires_at - issued.issued_at).num_seconds()).unwrap_or(0),
        user_id: live.user_id,
        role_id: live.role_id,
        created: issued.issued_at,
        expires: issued.expires_at,
        refresh_token,
        refresh_expires: live.expires,
        session_id: live.id.clone(),
    }
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
