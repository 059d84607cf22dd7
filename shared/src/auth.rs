//! Authentication: who a request's bearer token belongs to, checked against the database.

use chrono::Utc;
use mysql_async::prelude::Queryable;

use crate::error::ApiError;
use crate::policy::{Principal, Role};
use crate::user::{user_columns, User, USER_COLUMNS};
use crate::App;

/// The signed-in user of a request: who it is, with its current role, and its record; and the
/// connection its token was checked on, which the rest of the request reuses (taking another
/// from the pool could find the first not yet returned, and pay for a new connection and its
/// statement cache).
#[derive(Debug)]
pub struct Authenticated {
    pub principal: Principal,
    pub user: User,
    /// The `jti` of the token used, so logout can revoke exactly it.
    pub jti: String,
    /// The user a route's `{id}` names, when [`authenticate_about`] read it with the token.
    subject: Option<Subject>,
    conn: mysql_async::Conn,
}

/// User `id` as the authenticating query found it (`None`: there is no such user).
#[derive(Debug)]
struct Subject {
    id: u64,
    user: Option<User>,
}

impl Authenticated {
    pub fn conn(&mut self) -> &mut mysql_async::Conn {
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

const AUTHENTICATE: &str = concat!(
    "SELECT ",
    user_columns!(u),
    " FROM access_token t JOIN users u ON u.id = t.user_id \
     WHERE t.jti = ? AND t.user_id = ? AND t.expires > UTC_TIMESTAMP(6) AND u.is_active"
);

/// [`AUTHENTICATE`] that also reads user `s` (first parameter), NULLs when it does not exist.
const AUTHENTICATE_ABOUT: &str = concat!(
    "SELECT ",
    user_columns!(u),
    ", ",
    user_columns!(s),
    " FROM access_token t JOIN users u ON u.id = t.user_id LEFT JOIN users s ON s.id = ? \
     WHERE t.jti = ? AND t.user_id = ? AND t.expires > UTC_TIMESTAMP(6) AND u.is_active"
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
    app: &App,
    authorization: Option<&str>,
) -> Result<Authenticated, ApiError> {
    authenticate_about(app, authorization, None).await
}

/// [`authenticate`] for routes about user `subject_id`: the same query reads that user too, so
/// an admin's read or update of it needs no round trip of its own.
pub async fn authenticate_about(
    app: &App,
    authorization: Option<&str>,
    subject_id: Option<u64>,
) -> Result<Authenticated, ApiError> {
    let token = bearer_token(authorization)?;
    let verified = app.tokens.verify(token, Utc::now())?;
    let mut conn = app.conn().await?;
    let row: Option<mysql_async::Row> = match subject_id {
        None => {
            conn.exec_first(AUTHENTICATE, (&verified.jti, verified.user_id))
                .await?
        }
        Some(id) => {
            conn.exec_first(AUTHENTICATE_ABOUT, (id, &verified.jti, verified.user_id))
                .await?
        }
    };
    let mut row = row.ok_or(ApiError::Unauthorized)?;
    let user = User::from_row_at(&mut row, 0)?.ok_or(ApiError::Unauthorized)?;
    let subject = match subject_id {
        Some(id) => Some(Subject {
            id,
            user: User::from_row_at(&mut row, USER_COLUMNS)?,
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
        jti: verified.jti,
        subject,
        conn,
    })
}

/// Revokes the token the request was made with, and records the logout with it (one round trip).
pub async fn logout(
    signed_in: &mut Authenticated,
    source: &crate::source_ip::SourceIp,
) -> Result<(), ApiError> {
    use crate::audit::{self, Event, Parties};
    signed_in
        .principal
        .authorize(crate::policy::Action::ActOnSelf)?;
    let user_id = signed_in.user.id;
    let statements = [
        crate::sql_batch::bind(
            "DELETE FROM access_token WHERE jti = ?",
            &[signed_in.jti.as_str().into()],
        ),
        audit::insert_after_one_row(
            Parties {
                actor_id: Some(user_id),
                target_id: Some(user_id),
                source,
            },
            &Event::Logout { scope: "local" },
        ),
    ];
    crate::sql_batch::run_in_transaction(signed_in.conn(), &statements).await?;
    Ok(())
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
