//! The one error type of the API and the one place that decides its status and `detail` body.

use serde::Serialize;

use crate::db::errors::codes;
use serde_json::{json, Value};

/// One invalid input: where it is (`["body", "cellnumber"]`) and what is wrong with it, in the
/// shape FastAPI clients already parse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    #[schema(min_items = 1)]
    pub loc: Vec<String>,
    #[schema(min_length = 1)]
    pub msg: String,
}

impl FieldError {
    pub fn new(loc: &[&str], msg: impl Into<String>) -> Self {
        Self {
            loc: loc.iter().map(|part| part.to_string()).collect(),
            msg: msg.into(),
        }
    }
}

/// A `{"detail": ...}` body of a success that has nothing else to say.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Detail {
    pub detail: &'static str,
}

impl Detail {
    pub fn new(detail: &'static str) -> Self {
        Self { detail }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Missing, malformed, expired, revoked or forged token.
    #[error("not authenticated")]
    Unauthorized,
    /// Wrong password or unknown cellnumber: one variant so the two cannot be told apart.
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("forbidden")]
    Forbidden,
    /// The right password of an account an admin disabled.
    #[error("account disabled")]
    AccountDisabled,
    /// A password change whose current password does not match.
    #[error("wrong current password")]
    WrongCurrentPassword,
    /// A second step of login with a wrong code, or a spent, expired, exhausted or unknown
    /// `mfaToken`: one variant, so none of them can be told apart.
    #[error("second-factor login refused")]
    MfaLoginRefused,
    /// A wrong first code when turning the second factor on.
    #[error("wrong enrolment code")]
    MfaEnrolmentCodeRefused,
    /// A wrong code (TOTP or recovery) where a signed-in user must prove the second factor.
    #[error("wrong second-factor code")]
    MfaCodeRefused,
    /// An SMS code (recovery or sign-up) that is wrong, expired, spent, replaced or out of tries,
    /// or one for an unknown cellnumber or a disabled account: one variant, so none of them can
    /// be told apart.
    #[error("invalid or expired SMS code")]
    SmsCodeRefused,
    #[error("user not found")]
    NotFound,
    /// No live session of the signed-in user has that id.
    #[error("session not found")]
    SessionNotFound,
    /// A path the API does not have (the contract's own 404, before any authentication).
    #[error("no such route")]
    RouteNotFound,
    /// A path of the API with a method it does not serve; `allow` lists those it does.
    #[error("method not allowed")]
    MethodNotAllowed { allow: String },
    #[error("conflict: {0}")]
    Conflict(&'static str),
    #[error("request body too large")]
    PayloadTooLarge,
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("too many failed logins")]
    TooManyRequests { retry_after_seconds: u64 },
    /// Requests for a text beyond the client address's or the deployment's hourly limit.
    #[error("too many texts asked for")]
    TooManyTexts { retry_after_seconds: u64 },
    /// The database did not answer (down, unreachable, or slower than the request timeout).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Anything unexpected; the text is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

pub const MAX_BODY_BYTES: usize = 64 * 1024;

impl ApiError {
    pub fn validation(loc: &[&str], msg: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(loc, msg)])
    }

    pub fn status(&self) -> u16 {
        match self {
            Self::MfaEnrolmentCodeRefused | Self::SmsCodeRefused => 400,
            Self::Unauthorized | Self::InvalidCredentials | Self::MfaLoginRefused => 401,
            Self::Forbidden
            | Self::WrongCurrentPassword
            | Self::AccountDisabled
            | Self::MfaCodeRefused => 403,
            Self::NotFound | Self::SessionNotFound | Self::RouteNotFound => 404,
            Self::MethodNotAllowed { .. } => 405,
            Self::Conflict(_) => 409,
            Self::PayloadTooLarge => 413,
            Self::UnsupportedMediaType => 415,
            Self::Validation(_) => 422,
            Self::TooManyRequests { .. } | Self::TooManyTexts { .. } => 429,
            Self::Internal(_) => 500,
            Self::Unavailable(_) => 503,
        }
    }

    /// The `detail` of the body: a sentence, or for validation a list of `{loc, msg}`.
    pub fn detail(&self) -> Value {
        let text = match self {
            Self::Unauthorized => "Could not validate credentials",
            Self::InvalidCredentials => "Incorrect cellnumber or password",
            Self::Forbidden => "Not enough permissions",
            Self::AccountDisabled => "Account disabled",
            Self::WrongCurrentPassword => "Current password is incorrect",
            Self::MfaLoginRefused | Self::MfaEnrolmentCodeRefused | Self::MfaCodeRefused => {
                "Invalid code"
            }
            Self::SmsCodeRefused => "Invalid or expired code",
            Self::NotFound => "User not found",
            Self::SessionNotFound => "Session not found",
            Self::RouteNotFound => "Not Found",
            Self::MethodNotAllowed { .. } => "Method Not Allowed",
            Self::Conflict(reason) => reason,
            Self::PayloadTooLarge => "Request body exceeds 64 KiB",
            Self::UnsupportedMediaType => "Content-Type must be application/json",
            Self::Validation(errors) => return json!(errors),
            Self::TooManyRequests { .. } => "Too many failed login attempts; try again later",
            Self::TooManyTexts { .. } => "Too many requests for a code; try again later",
            Self::Unavailable(_) => "Service temporarily unavailable; try again shortly",
            Self::Internal(_) => "Internal server error",
        };
        Value::String(text.to_owned())
    }

    /// Extra headers the status calls for.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        match self {
            Self::Unauthorized | Self::InvalidCredentials | Self::MfaLoginRefused => {
                vec![("www-authenticate", "Bearer".to_owned())]
            }
            Self::TooManyRequests {
                retry_after_seconds,
            }
            | Self::TooManyTexts {
                retry_after_seconds,
            } => vec![("retry-after", retry_after_seconds.max(&1).to_string())],
            Self::Unavailable(_) => vec![("retry-after", "1".to_owned())],
            Self::MethodNotAllowed { allow } => vec![("allow", allow.clone())],
            _ => Vec::new(),
        }
    }

    /// The JSON body: `{"detail": ...}`.
    pub fn body(&self) -> Value {
        json!({ "detail": self.detail() })
    }
}

impl From<mysql_async::Error> for ApiError {
    /// The text kept (and logged with a 5xx) is the error's summary: a server's message may quote
    /// the values of the statement (see `db_error`).
    fn from(error: mysql_async::Error) -> Self {
        let text = format!("database: {}", crate::db::errors::Summarized(&error));
        match error {
            // The connection failed or broke: the database is unreachable, not the request wrong.
            mysql_async::Error::Io(_) | mysql_async::Error::Driver(_) => Self::Unavailable(text),
            mysql_async::Error::Server(ref server) if codes::TRANSIENT.contains(&server.code) => {
                Self::Unavailable(text)
            }
            // A server set up to speak another character set: an operator's fix, not the request's.
            mysql_async::Error::Other(ref refused)
                if refused.is::<crate::db::session_charset::UnsupportedCharset>() =>
            {
                Self::Unavailable(refused.to_string())
            }
            _ => Self::Internal(text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_has_a_json_detail_and_a_client_visible_status() {
        let errors = [
            ApiError::Unauthorized,
            ApiError::InvalidCredentials,
            ApiError::Forbidden,
            ApiError::MfaLoginRefused,
            ApiError::MfaEnrolmentCodeRefused,
            ApiError::MfaCodeRefused,
            ApiError::SmsCodeRefused,
            ApiError::NotFound,
            ApiError::RouteNotFound,
            ApiError::MethodNotAllowed {
                allow: "GET".into(),
            },
            ApiError::Conflict("Cellnumber already registered"),
            ApiError::PayloadTooLarge,
            ApiError::UnsupportedMediaType,
            ApiError::validation(&["body", "name"], "field required"),
            ApiError::TooManyRequests {
                retry_after_seconds: 30,
            },
            ApiError::TooManyTexts {
                retry_after_seconds: 30,
            },
            ApiError::Unavailable("Connection refused (os error 111)".into()),
            ApiError::Internal("SELECT secret FROM users".into()),
        ];
        for error in errors {
            let body = error.body().to_string();
            assert!(body.starts_with("{\"detail\":"), "{body}");
            assert!(!body.contains("SELECT"), "{body}");
            assert!(!body.contains("os error"), "{body}");
            assert!((400..600).contains(&error.status()));
        }
    }

    #[test]
    fn unauthorized_asks_for_a_bearer_token_and_throttling_says_when() {
        assert_eq!(
            ApiError::Unauthorized.headers(),
            vec![("www-authenticate", "Bearer".to_owned())]
        );
        assert_eq!(
            ApiError::TooManyRequests {
                retry_after_seconds: 42
            }
            .headers(),
            vec![("retry-after", "42".to_owned())]
        );
    }

    fn server_error(code: u16) -> mysql_async::Error {
        mysql_async::Error::Server(mysql_async::ServerError {
            code,
            message: "from the server".into(),
            state: "HY000".into(),
        })
    }

    #[test]
    fn an_unreachable_or_interrupted_database_is_503_and_a_bad_statement_500() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(
            ApiError::from(mysql_async::Error::from(refused)).status(),
            503
        );
        // 1040: a burst of instances beyond the server's max_connections (`users-bench --burst`).
        for code in [1040, 1053, 1290, 1317, 1467, 1927, 2013] {
            assert_eq!(ApiError::from(server_error(code)).status(), 503, "{code}");
        }
        // A syntax error or an unknown column is a bug here, not an outage.
        for code in [1064, 1054] {
            assert_eq!(ApiError::from(server_error(code)).status(), 500, "{code}");
        }
    }

    #[test]
    fn a_database_error_keeps_no_text_of_the_server() {
        let error = mysql_async::Error::Server(mysql_async::ServerError {
            code: 1062,
            message: "Duplicate entry 'ada@example.com' for key 'x'".into(),
            state: "23000".into(),
        });
        let text = ApiError::from(error).to_string();
        assert_eq!(
            text,
            "internal error: database: server error 1062 (SQLSTATE 23000)"
        );
    }

    #[test]
    fn a_session_in_another_character_set_is_503_and_its_charset_only_logged() {
        let refused = crate::db::session_charset::UnsupportedCharset {
            variable: "character_set_client",
            charset: Some("gbk".into()),
        };
        let error = ApiError::from(mysql_async::Error::Other(refused.into()));
        assert_eq!(error.status(), 503);
        assert!(error.to_string().contains("character_set_client is gbk"));
        assert!(!error.body().to_string().contains("gbk"));
        let other = mysql_async::Error::Other("a row did not convert".into());
        assert_eq!(ApiError::from(other).status(), 500);
    }

    #[test]
    fn validation_detail_is_a_list_of_loc_and_msg() {
        let body = ApiError::validation(&["body", "cellnumber"], "bad").body();
        assert_eq!(body["detail"][0]["loc"][1], "cellnumber");
        assert_eq!(body["detail"][0]["msg"], "bad");
    }
}
