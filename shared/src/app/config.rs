//! Configuration from the environment (and a `.env` file when running locally).

use std::fmt;
use std::time::Duration;

pub use crate::db::statements::StatementMode;

/// Where the configuration came from is irrelevant to the rest of the code; what matters is that
/// a missing or invalid variable is reported by name before the first request.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("environment variable {0} is required but not set")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

mod sms;

pub use super::database_tls::{DatabaseTls, TrustedCa};
pub use crate::secret::Secret;
pub use sms::{signup_open, SmsConfig, SmsSender};

pub const DEFAULT_TOKEN_TTL_SECONDS: u64 = 3600;
pub const DEFAULT_SESSION_TTL_SECONDS: u64 = 30 * 24 * 3600;
pub const DEFAULT_BCRYPT_COST: u32 = 12;
pub const DEFAULT_LOGIN_MAX_FAILURES: u32 = 5;
pub const DEFAULT_LOGIN_MAX_FAILURES_TOTAL: u32 = 50;
pub const DEFAULT_LOGIN_MAX_FAILURES_PER_ADDRESS: u32 = 100;
pub const DEFAULT_LOGIN_WINDOW_SECONDS: u64 = 900;
pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 5000;
pub const DEFAULT_AUDIT_RETENTION_DAYS: u32 = 365;
/// Five minutes: a burst's connections are back within minutes, while an instance serving one
/// request every few minutes keeps its connection.
pub const DEFAULT_DB_IDLE_TIMEOUT_SECONDS: u64 = 300;
pub use crate::auth::token::MIN_SECRET_KEY_BYTES;

#[derive(Debug, Clone)]
pub struct Config {
    /// `mysql://user:password@host:port/database`; it may hold a password, hence `Secret`.
    pub database_url: Secret,
    pub database_tls: DatabaseTls,
    /// `SIGNING_KEY`: the RSA private key (PKCS#8 PEM) that signs access tokens (RS256).
    pub signing_key: Option<Secret>,
    /// `SECRET_KEY`: the HS256 key of a deployment from before RS256. With `SIGNING_KEY` it only
    /// verifies the tokens it signed before the switch, until they expire; alone, it still signs.
    pub secret_key: Option<Secret>,
    /// `TOKEN_ISSUER`: `iss`; unset, the API's base URL as requests show it.
    pub token_issuer: Option<String>,
    /// `TOKEN_AUDIENCE`: `aud`.
    pub token_audience: String,
    /// `SIGNING_KEY_PUBLISH_SECONDS`: how long a rotated key is in the JWKS before it signs.
    pub key_publish_delay: Duration,
    pub token_ttl: Duration,
    /// How long a session lasts from its login, however often it is refreshed.
    pub session_ttl: Duration,
    pub bcrypt_cost: u32,
    /// Attempts per window for one cellnumber from one client address.
    pub login_max_failures: u32,
    /// Attempts per window for one cellnumber from all addresses together.
    pub login_max_failures_total: u32,
    /// Attempts per window from one address over all cellnumbers together.
    pub login_max_failures_per_address: u32,
    pub login_window: Duration,
    /// Upper bound on the database work of one request, so an unreachable database gives a 503
    /// well within the function's timeout instead of a hung invocation.
    pub request_timeout: Duration,
    /// `DB_PROXY`: prepared statements (off, direct to MySQL) or text statements (on, behind
    /// RDS Proxy, which multiplexes only sessions without state).
    pub statement_mode: StatementMode,
    /// `DB_IDLE_TIMEOUT_SECONDS`, direct mode: the server closes a connection idle this long
    /// (its session `wait_timeout`), so a frozen instance does not hold one for hours.
    pub db_idle_timeout: Duration,
    /// `MFA_KEYS`: the keys that seal TOTP secrets, `id:base64,...` newest first. Without them
    /// the second factor cannot be turned on (and a user who has it cannot finish a login).
    pub mfa_keys: Option<Secret>,
    /// Texts: delivery, codes, the limits of the SMS bill, sign-up.
    pub sms: SmsConfig,
}

/// The value of `DB_PROXY`: `on` (text statements, no session state) or `off` (the default).
pub fn parse_statement_mode(value: Option<&str>) -> Result<StatementMode, ConfigError> {
    match value.map(str::to_ascii_lowercase).as_deref() {
        None | Some("off" | "false" | "0") => Ok(StatementMode::Prepared),
        Some("on" | "true" | "1") => Ok(StatementMode::Text),
        Some(other) => Err(ConfigError::Invalid {
            name: "DB_PROXY",
            reason: format!("expected on or off, got {other:?}"),
        }),
    }
}

impl Config {
    /// The login throttle's limits.
    pub fn login_limits(&self) -> crate::auth::throttle::Limits {
        crate::auth::throttle::Limits {
            per_pair: self.login_max_failures,
            per_address: self.login_max_failures_per_address,
            total: self.login_max_failures_total,
            window: self.login_window,
        }
    }

    /// The parsing itself, over any source of variables, so it is testable without touching the
    /// process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &'static str| non_empty(&lookup, name);
        let DatabaseConfig {
            database_url,
            database_tls,
            bcrypt_cost,
        } = DatabaseConfig::from_lookup(&lookup)?;
        let signing_key = get("SIGNING_KEY");
        if let Some(pem) = &signing_key {
            crate::auth::signing_key::RsaKey::from_pem(pem).map_err(|error| {
                ConfigError::Invalid {
                    name: "SIGNING_KEY",
                    reason: error.to_string(),
                }
            })?;
        }
        let secret_key = get("SECRET_KEY");
        if secret_key
            .as_ref()
            .is_some_and(|key| key.len() < MIN_SECRET_KEY_BYTES)
        {
            return Err(ConfigError::Invalid {
                name: "SECRET_KEY",
                reason: format!("must be at least {MIN_SECRET_KEY_BYTES} bytes long"),
            });
        }
        if signing_key.is_none() && secret_key.is_none() {
            return Err(ConfigError::Missing("SIGNING_KEY"));
        }
        let token_issuer = get("TOKEN_ISSUER");
        if let Some(issuer) = &token_issuer {
            if !(issuer.starts_with("https://") || issuer.starts_with("http://")) {
                return Err(ConfigError::Invalid {
                    name: "TOKEN_ISSUER",
                    reason: "must be an http(s) URL".into(),
                });
            }
        }
        let key_publish_seconds = parse_number(
            "SIGNING_KEY_PUBLISH_SECONDS",
            get("SIGNING_KEY_PUBLISH_SECONDS"),
            crate::auth::token::DEFAULT_PUBLISH_DELAY.as_secs(),
            0..=7 * 24 * 3600,
        )?;
        let session_ttl_seconds = parse_number(
            "SESSION_TTL_SECONDS",
            get("SESSION_TTL_SECONDS"),
            DEFAULT_SESSION_TTL_SECONDS,
            300..=365 * 24 * 3600,
        )?;
        // An access token never outlives its session (it is cut at the session's end), so a
        // longer lifetime is a configuration mistake, not a wish that can be served.
        let token_ttl_seconds = parse_number(
            "TOKEN_TTL_SECONDS",
            get("TOKEN_TTL_SECONDS"),
            DEFAULT_TOKEN_TTL_SECONDS.min(session_ttl_seconds),
            60..=30 * 24 * 3600,
        )?;
        if token_ttl_seconds > session_ttl_seconds {
            return Err(ConfigError::Invalid {
                name: "TOKEN_TTL_SECONDS",
                reason: format!(
                    "must not exceed SESSION_TTL_SECONDS ({session_ttl_seconds}), got \
                     {token_ttl_seconds}"
                ),
            });
        }
        let login_max_failures = parse_number(
            "LOGIN_MAX_FAILURES",
            get("LOGIN_MAX_FAILURES"),
            DEFAULT_LOGIN_MAX_FAILURES,
            1..=1000,
        )?;
        let login_max_failures_total = parse_number(
            "LOGIN_MAX_FAILURES_TOTAL",
            get("LOGIN_MAX_FAILURES_TOTAL"),
            DEFAULT_LOGIN_MAX_FAILURES_TOTAL.max(login_max_failures),
            1..=100_000,
        )?;
        if login_max_failures_total < login_max_failures {
            return Err(ConfigError::Invalid {
                name: "LOGIN_MAX_FAILURES_TOTAL",
                reason: "must be at least LOGIN_MAX_FAILURES".to_owned(),
            });
        }
        let login_max_failures_per_address = parse_number(
            "LOGIN_MAX_FAILURES_PER_ADDRESS",
            get("LOGIN_MAX_FAILURES_PER_ADDRESS"),
            DEFAULT_LOGIN_MAX_FAILURES_PER_ADDRESS.max(login_max_failures),
            1..=100_000,
        )?;
        if login_max_failures_per_address < login_max_failures {
            return Err(ConfigError::Invalid {
                name: "LOGIN_MAX_FAILURES_PER_ADDRESS",
                reason: "must be at least LOGIN_MAX_FAILURES".to_owned(),
            });
        }
        let login_window_seconds = parse_number(
            "LOGIN_WINDOW_SECONDS",
            get("LOGIN_WINDOW_SECONDS"),
            DEFAULT_LOGIN_WINDOW_SECONDS,
            1..=7 * 24 * 3600,
        )?;
        let request_timeout_ms = parse_number(
            "REQUEST_TIMEOUT_MS",
            get("REQUEST_TIMEOUT_MS"),
            DEFAULT_REQUEST_TIMEOUT_MS,
            100..=60_000,
        )?;
        let db_idle_timeout_seconds = parse_number(
            "DB_IDLE_TIMEOUT_SECONDS",
            get("DB_IDLE_TIMEOUT_SECONDS"),
            DEFAULT_DB_IDLE_TIMEOUT_SECONDS,
            10..=28_800,
        )?;
        let mfa_keys = get("MFA_KEYS");
        if let Some(keys) = &mfa_keys {
            crate::auth::sealing::SealingKeys::parse(keys).map_err(|reason| {
                ConfigError::Invalid {
                    name: "MFA_KEYS",
                    reason,
                }
            })?;
        }
        Ok(Self {
            sms: sms::sms_config(&lookup)?,
            mfa_keys: mfa_keys.map(Secret::new),
            statement_mode: parse_statement_mode(get("DB_PROXY").as_deref())?,
            db_idle_timeout: Duration::from_secs(db_idle_timeout_seconds),
            database_url,
            database_tls,
            signing_key: signing_key.map(Secret::new),
            secret_key: secret_key.map(Secret::new),
            token_issuer,
            token_audience: get("TOKEN_AUDIENCE")
                .unwrap_or_else(|| crate::auth::token::DEFAULT_AUDIENCE.to_owned()),
            key_publish_delay: Duration::from_secs(key_publish_seconds),
            token_ttl: Duration::from_secs(token_ttl_seconds),
            session_ttl: Duration::from_secs(session_ttl_seconds),
            bcrypt_cost,
            login_max_failures,
            login_max_failures_total,
            login_max_failures_per_address,
            login_window: Duration::from_secs(login_window_seconds),
            request_timeout: Duration::from_millis(request_timeout_ms),
        })
    }
}

pub(super) fn non_empty(lookup: &impl Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    lookup(name)
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

/// The part of the configuration that only touches the database: all the `migrate` function
/// needs (it never signs tokens, so it is never given the key).
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    pub database_url: Secret,
    pub database_tls: DatabaseTls,
    pub bcrypt_cost: u32,
}

impl DatabaseConfig {
    pub fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let database_url =
            non_empty(lookup, "DATABASE_URL").ok_or(ConfigError::Missing("DATABASE_URL"))?;
        if !database_url.starts_with("mysql://") {
            return Err(ConfigError::Invalid {
                name: "DATABASE_URL",
                reason: "expected mysql://user:password@host:port/database".into(),
            });
        }
        Ok(Self {
            database_url: Secret::new(database_url),
            database_tls: DatabaseTls::from_lookup(lookup)?,
            bcrypt_cost: parse_number(
                "BCRYPT_COST",
                non_empty(lookup, "BCRYPT_COST"),
                DEFAULT_BCRYPT_COST,
                bcrypt_cost_range(),
            )?,
        })
    }
}

/// `AUDIT_RETENTION_DAYS`: audit events older than this are removed, by the `migrate` function
/// only (the request path may not delete them).
pub fn audit_retention_days(lookup: &impl Fn(&str) -> Option<String>) -> Result<u32, ConfigError> {
    parse_number(
        "AUDIT_RETENTION_DAYS",
        non_empty(lookup, "AUDIT_RETENTION_DAYS"),
        DEFAULT_AUDIT_RETENTION_DAYS,
        1..=36_500,
    )
}

/// Loads `.env` from the working directory when there is one; variables already set win.
/// Only that directory: a `.env` found further up belongs to something else.
pub fn load_dotenv() {
    let _ = dotenvy::from_path(".env");
}

/// The costs bcrypt itself accepts.
pub fn bcrypt_cost_range() -> std::ops::RangeInclusive<u32> {
    4..=31
}

fn parse_number<T>(
    name: &'static str,
    value: Option<String>,
    default: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + fmt::Display + Copy,
{
    let Some(value) = value else {
        return Ok(default);
    };
    let out_of_range = || ConfigError::Invalid {
        name,
        reason: format!(
            "expected a whole number from {} to {}, got {value:?}",
            range.start(),
            range.end()
        ),
    };
    let parsed: T = value.parse().map_err(|_| out_of_range())?;
    if range.contains(&parsed) {
        Ok(parsed)
    } else {
        Err(out_of_range())
    }
}

#[cfg(test)]
mod tests;
