//! Sign-up by SMS, off unless `SIGNUP=open`: `POST /api/users/signup` keeps the new user with a
//! code sent to its cellnumber, `POST /api/users/signup/verify` creates it with that code.
//!
//! No user row exists before its code is verified. A cellnumber that already has an account gets
//! the same 202 after the same work (bcrypt included), and a text that tells its owner instead of
//! a code. The texts count against the same limits as recovery's.

use serde::Deserialize;
use validator::Validate;

use super::code::{self, Purpose};
use super::limits;
use super::pace::send_or_wait;
use super::recovery::code_rule;
use super::store::{self, Pending, StoredCode, TextRequest};
use crate::audit::{self, Event, Parties};
use crate::auth::password;
use crate::auth::policy::Role;
use crate::auth::source_ip::SourceIp;
use crate::db::statements::{DbTx, Statements};
use crate::error::{ApiError, Detail};
use crate::sessions::{self, SessionGrant};
use crate::texts::Text;
use crate::users::validation;
use crate::App;

/// The answer of every sign-up that is not refused, whether or not the cellnumber is taken.
pub const SIGNUP_ANSWER: &str = "A text is on its way to the cellnumber";

/// `POST /api/users/signup`: the fields of `POST /api/users` a user gives itself, with their rules.
#[derive(Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    /// 1 to 100 characters once white space is trimmed from both ends (the pattern: one character
    /// that is not Unicode White_Space), with no control or format character (Unicode general
    /// category Cc or Cf: line breaks, bidi overrides, zero-width characters) anywhere.
    #[validate(custom(function = "validation::name_rule"))]
    #[schema(
        min_length = 1,
        max_length = 100,
        example = "Ada Lovelace",
        pattern = r"[^\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub name: String,
    #[validate(custom(function = "validation::cellnumber_rule"))]
    #[schema(pattern = r"^\+?[0-9]{7,15}$", example = "+15550000003")]
    pub cellnumber: String,
    /// 8 to 72 bytes of UTF-8 (bcrypt's limit): the lengths in characters only bound it.
    #[validate(custom(function = "validation::password_rule"))]
    #[schema(min_length = 8, max_length = 72, format = Password, pattern = r"^[^\u0000-\u001F\u007F]*$")]
    pub password: String,
    #[validate(custom(function = "validation::email_rule"))]
    #[serde(default)]
    #[schema(format = Email, max_length = 254)]
    pub email: Option<String>,
}

/// `POST /api/users/signup/verify`.
#[derive(Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    #[validate(custom(function = "validation::cellnumber_rule"))]
    #[schema(pattern = r"^\+?[0-9]{7,15}$", example = "+15550000003")]
    pub cellnumber: String,
    /// The code of the text: exactly 6 ASCII digits.
    #[validate(custom(function = "code_rule"))]
    #[schema(pattern = "^[0-9]{6}$", example = "123456")]
    pub code: String,
}

/// The sign-up routes exist only when `SIGNUP=open`; otherwise they answer as a path the API
/// does not have, before the body is read.
pub fn ensure_open(app: &App) -> Result<(), ApiError> {
    if app.config.sms.signup_open {
        Ok(())
    } else {
        Err(ApiError::RouteNotFound)
    }
}

/// Keeps the new user with a code and texts the code to its cellnumber; a cellnumber that has an
/// account gets a text that says so, and nothing is kept. The same 202 either way (429 beyond
/// the address's or the deployment's hourly limit).
pub async fn signup(
    app: &App,
    request: SignupRequest,
    source: &SourceIp,
) -> Result<Detail, ApiError> {
    ensure_open(app)?;
    let key = code::hashing_key(app)?;
    validation::check(&request)?;
    let config = &app.config.sms;
    let cellnumber = request.cellnumber.as_str();
    // Hashed for a taken cellnumber too, so both take the same time.
    let password_hash = password::hash(&request.password, app.config.bcrypt_cost).await?;
    let new_code = code::new_code()?;
    let text_request = TextRequest {
        purpose: Purpose::Signup,
        cellnumber,
        source,
        prefix_allowed: limits::prefix_allowed(cellnumber, &config.allowed_prefixes),
        code_hash: code::hash(&key, Purpose::Signup, cellnumber, &new_code),
        pending: Some(Pending {
            name: request.name.trim(),
            email: request.email.as_deref(),
            password_hash: &password_hash,
        }),
    };
    let mut conn = app.conn().await?;
    let requested = store::request_text(&mut conn, config, &text_request).await?;
    if let Err(error) = store::remove_stale(&mut conn, config).await {
        tracing::warn!(%error, "stale SMS rows were not removed");
    }
    drop(conn);
    let sends = limits::verdict(&requested.counts, config).sends()?;
    let text = sends.then(|| Text {
        to: cellnumber.to_owned(),
        body: if requested.has_account {
            code::already_registered_text()
        } else {
            code::signup_text(&new_code, config.code_ttl)
        },
    });
    send_or_wait(app, text).await;
    Ok(Detail::new(SIGNUP_ANSWER))
}

/// Creates the user a sign-up kept, with its live code, and signs it in: its id and the first
/// session's grant. Every other code is 400; a cellnumber or e-mail address taken since is 409.
pub async fn verify(
    app: &App,
    request: VerifyRequest,
    source: &SourceIp,
) -> Result<(u64, SessionGrant), ApiError> {
    ensure_open(app)?;
    let key = code::hashing_key(app)?;
    validation::check(&request)?;
    let cellnumber = request.cellnumber.as_str();
    let mut conn = app.conn().await?;
    let stored = store::take_try(
        &mut conn,
        Purpose::Signup,
        cellnumber,
        app.config.sms.code_max_attempts,
    )
    .await?
    .ok_or(ApiError::SmsCodeRefused)?;
    if !code::matches(
        &key,
        Purpose::Signup,
        cellnumber,
        &request.code,
        &stored.code_hash,
    ) {
        return Err(ApiError::SmsCodeRefused);
    }
    let (Some(name), Some(password_hash)) = (&stored.name, &stored.password_hash) else {
        return Err(ApiError::Internal("a sign-up code without its user".into()));
    };
    let mut tx = conn.begin().await?;
    let outcome = create(&mut tx, cellnumber, name, &stored, source).await;
    let user_id = crate::db::finish(tx, outcome).await?;
    let role = Role::User.id();
    let grant = sessions::start(app, &mut conn, user_id, role, password_hash, source).await?;
    Ok((user_id, grant))
}

/// The user (role 2, active) with its `signup.completed` event, and the code spent, in the
/// caller's transaction: the user's row first, the order every writer locks in.
async fn create(
    tx: &mut DbTx<'_>,
    cellnumber: &str,
    name: &str,
    stored: &StoredCode,
    source: &SourceIp,
) -> Result<u64, ApiError> {
    let created = crate::db::now().naive_utc();
    let inserted = tx
        .run(
            "INSERT INTO users (name, cellnumber, email, email_key, password_hash, role_id, \
             is_active, created, updated) VALUES (?, ?, ?, ?, ?, ?, TRUE, ?, ?)",
            (
                name,
                cellnumber,
                stored.email.as_deref(),
                stored.email.as_deref().map(validation::email_key),
                stored.password_hash.as_deref(),
                Role::User.id(),
                created,
                created,
            ),
        )
        .await
        .map_err(crate::users::conflict_or)?;
    let user_id = inserted
        .last_insert_id
        .ok_or_else(|| ApiError::Internal("insert returned no id".into()))?;
    store::spend(tx, Purpose::Signup, cellnumber, &stored.code_hash).await?;
    let parties = Parties {
        actor_id: Some(user_id),
        target_id: Some(user_id),
        source,
    };
    audit::record(tx, parties, &Event::SignupCompleted).await?;
    Ok(user_id)
}
