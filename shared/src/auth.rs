//! Sign-in and authentication.

use chrono::{DateTime, Utc};
use mysql_async::prelude::Queryable;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::policy::{Principal, Role};
use crate::users::{user_columns, User, USER_COLUMNS};
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
     WHERE t.jti = ? AND t.user_id = ? AND t.expires > UTC_TIMESTAMP(6)"
);

/// [`AUTHENTICATE`] that also reads user `s` (first parameter), NULLs when it does not exist.
const AUTHENTICATE_ABOUT: &str = concat!(
    "SELECT ",
    user_columns!(u),
    ", ",
    user_columns!(s),
    " FROM access_token t JOIN users u ON u.id = t.user_id LEFT JOIN users s ON s.id = ? \
     WHERE t.jti = ? AND t.user_id = ? AND t.expires > UTC_TIMESTAMP(6)"
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
    let verified = app.tokens.verify(token, Utc::now()).await?;
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

/// The user's id, hash and role, and the throttle's failure count and seconds left in its
/// window; each part is NULL when its row does not exist.
type LoginLookupRow = (
    Option<u64>,
    Option<String>,
    Option<u8>,
    Option<u32>,
    Option<i64>,
);

/// Checks the password and issues a token. An unknown cellnumber and a wrong password give the
/// same error after the same bcrypt work, and both count against the cellnumber's throttle.
pub async fn login(app: &App, request: LoginRequest) -> Result<LoginResponse, ApiError> {
    let config = &app.config;
    // A cellnumber no user can have (the column is ASCII, and MySQL refuses to compare it with
    // other characters) gets the answer of a wrong password after the same bcrypt work.
    if !crate::validation::is_cellnumber(&request.cellnumber) {
        password::verify(&request.password, &password::dummy_hash(config.bcrypt_cost)).await;
        return Err(ApiError::InvalidCredentials);
    }
    let mut conn = app.conn().await?;
    let window_seconds = config.login_window.as_secs();
    // One round trip: the user (if any) and the throttle state (if any) of this cellnumber.
    let row: Option<LoginLookupRow> = conn
        .exec_first(
            "SELECT u.id, u.password_hash, u.role_id, f.failures, \
                    TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(6), f.window_start + INTERVAL ? SECOND) \
             FROM (SELECT 1) AS one \
             LEFT JOIN users u ON u.cellnumber = ? \
             LEFT JOIN login_failure f ON f.cellnumber = ?",
            (window_seconds, &request.cellnumber, &request.cellnumber),
        )
        .await?;
    let (user_id, password_hash, role_id, failures, window_left) =
        row.unwrap_or((None, None, None, None, None));
    if let (Some(failures), Some(window_left)) = (failures, window_left) {
        if failures >= config.login_max_failures && window_left >= 0 {
            return Err(ApiError::TooManyRequests {
                retry_after_seconds: window_left as u64 + 1,
            });
        }
    }

    let matched = match (&password_hash, request.password.len()) {
        (Some(hash), 1..=password::MAX_PASSWORD_BYTES) => {
            password::verify(&request.password, hash).await
        }
        // Same cost as a real check, so timing does not tell whether the cellnumber exists.
        _ => {
            password::verify(&request.password, &password::dummy_hash(config.bcrypt_cost)).await;
            false
        }
    };
    let (Some(user_id), Some(role_id), true) = (user_id, role_id, matched) else {
        record_failure(&mut conn, &request.cellnumber, window_seconds).await?;
        return Err(ApiError::InvalidCredentials);
    };

    let issued = app.tokens.issue(user_id, role_id, Utc::now())?;
    conn.exec_drop(
        "INSERT INTO access_token (jti, user_id, created, expires) VALUES (?, ?, ?, ?)",
        (
            &issued.jti,
            user_id,
            issued.issued_at.naive_utc(),
            issued.expires_at.naive_utc(),
        ),
    )
    .await?;
    if failures.is_some() {
        conn.exec_drop(
            "DELETE FROM login_failure WHERE cellnumber = ?",
            (&request.cellnumber,),
        )
        .await?;
    }
    remove_expired(&mut conn, window_seconds).await;
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

/// Counts a failed login; a failure after the window has passed starts a new window.
async fn record_failure(
    conn: &mut mysql_async::Conn,
    cellnumber: &str,
    window_seconds: u64,
) -> Result<(), ApiError> {
    conn.exec_drop(
        "INSERT INTO login_failure (cellnumber, failures, window_start) \
         VALUES (?, 1, UTC_TIMESTAMP(6)) \
         ON DUPLICATE KEY UPDATE \
           failures = IF(window_start <= UTC_TIMESTAMP(6) - INTERVAL ? SECOND, 1, failures + 1), \
           window_start = IF(window_start <= UTC_TIMESTAMP(6) - INTERVAL ? SECOND, \
                             UTC_TIMESTAMP(6), window_start)",
        (cellnumber, window_seconds, window_seconds),
    )
    .await?;
    Ok(())
}

/// Keeps `access_token` and `login_failure` from growing without bound, a bounded batch per
/// login; a failure here must not fail the login it rides on.
async fn remove_expired(conn: &mut mysql_async::Conn, window_seconds: u64) {
    let cleanup = format!(
        "DELETE FROM access_token WHERE expires < UTC_TIMESTAMP(6) LIMIT 500; \
         DELETE FROM login_failure WHERE window_start < UTC_TIMESTAMP(6) - INTERVAL {window_seconds} SECOND LIMIT 500"
    );
    if let Err(error) = conn.query_drop(cleanup).await {
        tracing::warn!(%error, "expired token clean-up failed");
    }
}

/// Revokes the token the request was made with.
pub async fn logout(signed_in: &mut Authenticated) -> Result<(), ApiError> {
    signed_in
        .principal
        .authorize(crate::policy::Action::ActOnSelf)?;
    let jti = signed_in.jti.clone();
    signed_in
        .conn()
        .exec_drop("DELETE FROM access_token WHERE jti = ?", (jti,))
        .await?;
    Ok(())
}

/// Changes the signed-in user's password after checking the current one, and revokes every
/// other token of the user (the one used stays valid).
pub async fn change_password(
    app: &App,
    signed_in: &mut Authenticated,
    change: crate::validation::PasswordChange,
) -> Result<(), ApiError> {
    signed_in
        .principal
        .authorize(crate::policy::Action::ActOnSelf)?;
    crate::validation::check(&change)?;
    let user_id = signed_in.user.id;
    let jti = signed_in.jti.clone();
    let conn = signed_in.conn();
    let stored: Option<String> = conn
        .exec_first("SELECT password_hash FROM users WHERE id = ?", (user_id,))
        .await?;
    let stored = stored.ok_or(ApiError::Unauthorized)?;
    let current_ok = change.current_password.len() <= password::MAX_PASSWORD_BYTES
        && password::verify(&change.current_password, &stored).await;
    if !current_ok {
        return Err(ApiError::WrongCurrentPassword);
    }
    let new_hash = password::hash(&change.new_password, app.config.bcrypt_cost).await?;
    let mut tx = conn.start_transaction(Default::default()).await?;
    tx.exec_drop(
        "UPDATE users SET password_hash = ?, \
         updated = GREATEST(UTC_TIMESTAMP(6), updated + INTERVAL 1 MICROSECOND) WHERE id = ?",
        (new_hash, user_id),
    )
    .await?;
    tx.exec_drop(
        "DELETE FROM access_token WHERE user_id = ? AND jti <> ?",
        (user_id, jti),
    )
    .await?;
    tx.commit().await?;
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
