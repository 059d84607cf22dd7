//! Authentication: who a request's bearer token belongs to, checked against the database.

pub mod account;
pub mod discovery;
pub mod key_ring;
pub mod key_rotation;
pub mod password;
pub mod policy;
pub mod random;
pub mod sealing;
pub mod signing_key;
pub mod source_ip;
pub mod throttle;
pub mod token;

use chrono::Utc;

use crate::auth::account::{user_columns, User, USER_COLUMNS};
use crate::auth::policy::{Principal, Role};
use crate::auth::token::TokenKeys;
use crate::db::pool::DbPool;
use crate::db::statements::{DbConn, Statements};
use crate::error::ApiError;

/// The signed-in user of a request: who it is, with its current role, and its record; and the
/// connection its token was checked on, which the rest of the request reuses (taking another
/// from the pool could find the first not yet returned, and pay for a new connection and its
/// statement cache).
#[derive(Debug)]
pub struct Authenticated {
    pub principal: Principal,
    pub user: User,
    /// The session of the token used: logout ends it, a password change keeps only it.
    pub session_id: String,
    /// The user a route's `{id}` names, when [`authenticate_about`] read it with the token.
    subject: Option<Subject>,
    conn: DbConn,
}

/// User `id` as the authenticating query found it (`None`: there is no such user).
#[derive(Debug)]
struct Subject {
    id: u64,
    user: Option<User>,
}

impl Authenticated {
    pub fn conn(&mut self) -> &mut DbConn {
        &mut self.conn
    }

    /// User `id` as authentication read it: `Some(None)` when there is no such user, `None`
    /// when authentication did not read it (it must then be read).
    pub(crate) fn take_subject(&mut self, id: u64) -> Option<Option<User>> {
        match self.subject.take() {
            Some(subject) if subject.id == id => Some(subject.user),
            other => {
                self.subject = other;
                None
            }
        }
    }
}

/// The token's row, its session (live) and its user, joined: one round trip decides. The row
/// must say the token was signed with the algorithm and key that verified it: an HS256 token is
/// accepted only where its record is one of before the switch.
macro_rules! authenticate_from {
    () => {
        " FROM access_token t JOIN session ses ON ses.id = t.session_id \
         JOIN users u ON u.id = t.user_id"
    };
}
macro_rules! authenticate_where {
    () => {
        " WHERE t.jti = ? AND t.user_id = ? AND t.signed_with = ? \
         AND t.expires > UTC_TIMESTAMP(6) \
         AND ses.ended IS NULL AND ses.expires > UTC_TIMESTAMP(6) AND u.is_active"
    };
}

const AUTHENTICATE: &str = concat!(
    "SELECT ",
    user_columns!(u),
    ", t.session_id",
    authenticate_from!(),
    authenticate_where!()
);

/// [`AUTHENTICATE`] that also reads user `s` (first parameter), NULLs when it does not exist.
const AUTHENTICATE_ABOUT: &str = concat!(
    "SELECT ",
    user_columns!(u),
    ", t.session_id, ",
    user_columns!(s),
    authenticate_from!(),
    " LEFT JOIN users s ON s.id = ?",
    authenticate_where!()
);

/// The token of an `Authorization: Bearer <token>` header value.
pub fn bearer_token(authorization: Option<&str>) -> Result<&str, ApiError> {
    let value = authorization.ok_or(ApiError::Unauthorized)?.trim();
    let (scheme, token) = value.split_once(' ').ok_or(ApiError::Unauthorized)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::Unauthorized);
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(ApiError::Unauthorized);
    }
    Ok(token)
}

/// Signature and expiry first (no I/O), then one query that confirms the token's row exists and
/// is unexpired and reads its user's current record and role.
pub async fn authenticate(
    tokens: &TokenKeys,
    pool: &DbPool,
    authorization: Option<&str>,
) -> Result<Authenticated, ApiError> {
    authenticate_about(tokens, pool, authorization, None).await
}

/// [`authenticate`] for routes about user `subject_id`: the same query reads that user too, so
/// an admin's read or update of it needs no round trip of its own.
pub async fn authenticate_about(
    tokens: &TokenKeys,
    pool: &DbPool,
    authorization: Option<&str>,
    subject_id: Option<u64>,
) -> Result<Authenticated, ApiError> {
    let token = bearer_token(authorization)?;
    let verified = tokens.verify(token, Utc::now()).await?;
    let mut conn = pool.conn().await?;
    let row: Option<crate::db::Row> = match subject_id {
        None => {
            conn.first(
                AUTHENTICATE,
                (&verified.jti, verified.user_id, &verified.signed_with),
            )
            .await?
        }
        Some(id) => {
            conn.first(
                AUTHENTICATE_ABOUT,
                (id, &verified.jti, verified.user_id, &verified.signed_with),
            )
            .await?
        }
    };
    let mut row = row.ok_or(ApiError::Unauthorized)?;
    let user = User::from_row_at(&mut row, 0)?.ok_or(ApiError::Unauthorized)?;
    let session_id: String = row
        .take_opt(USER_COLUMNS)
        .and_then(Result::ok)
        .ok_or_else(|| ApiError::Internal("the token's session id is missing".into()))?;
    let subject = match subject_id {
        Some(id) => Some(Subject {
            id,
            user: User::from_row_at(&mut row, USER_COLUMNS + 1)?,
        }),
        None => None,
    };
    let role = Role::try_from(user.role_id).map_err(ApiError::Internal)?;
    tracing::Span::current().record("user_id", user.id);
    Ok(Authenticated {
        principal: Principal {
            user_id: user.id,
            role,
        },
        user,
        session_id,
        subject,
        conn,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_read_from_the_header_value() {
        assert_eq!(
            bearer_token(Some("Bearer abc.def.ghi")).unwrap(),
            "abc.def.ghi"
        );
        assert_eq!(bearer_token(Some("bearer   abc")).unwrap(), "abc");
        for bad in [
            None,
            Some(""),
            Some("Bearer"),
            Some("Bearer "),
            Some("Basic abc"),
            Some("abc"),
        ] {
            assert!(
                matches!(bearer_token(bad), Err(ApiError::Unauthorized)),
                "{bad:?}"
            );
        }
    }
}
