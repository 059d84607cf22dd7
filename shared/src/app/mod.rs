//! What a function instance creates once per cold start and reuses for every request.

pub mod config;
pub mod database_tls;
pub mod logging;
pub mod secrets;

use crate::db::pool::SessionSettings;
use crate::db::statements::DbConn;

use std::collections::HashMap;

use crate::app::config::{load_dotenv, Config, ConfigError, DatabaseConfig};
use crate::app::secrets::{Resolved, SecretsError};
use crate::auth::key_ring::{KeyRing, KeyVersion};
use crate::auth::sealing::SealingKeys;
use crate::auth::token::TokenKeys;
use crate::db::pool::DbPool;
use crate::db::DbSetupError;
use crate::error::ApiError;

pub struct App {
    pub config: Config,
    /// The instance's pool; in AWS it renews its credentials when the secret is rotated.
    pub pool: DbPool,
    pub tokens: TokenKeys,
    /// The keys of `MFA_KEYS` (checked when the configuration was read).
    pub sealing_keys: Option<SealingKeys>,
    /// Where texts go (`SMS_SENDER`): the outbox, or with SNS nowhere unless the function was
    /// started by `http::run_sending_texts` (the SNS client is linked into those alone).
    pub texts: Box<dyn crate::texts::TextSender>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Database(#[from] DbSetupError),
    #[error(transparent)]
    Secrets(#[from] SecretsError),
}

/// The environment (after `.env`), with the values held in Secrets Manager filled in, and the
/// secrets they came from.
async fn resolved_environment() -> Result<(HashMap<String, String>, Resolved), StartupError> {
    load_dotenv();
    let mut vars: HashMap<String, String> = std::env::vars().collect();
    let resolved = secrets::resolve(&mut vars).await?;
    Ok((vars, resolved))
}

/// The token keys: in AWS the versions of the secret (read again when it is rotated); locally
/// `SIGNING_KEY`, with `SECRET_KEY` as the HS256 key of before the switch.
fn signing_keys(config: &Config, resolved: &mut Resolved) -> Result<TokenKeys, ConfigError> {
    let versions = match std::mem::take(&mut resolved.signing_key_versions) {
        versions if !versions.is_empty() => versions,
        _ => [&config.signing_key, &config.secret_key]
            .into_iter()
            .flatten()
            .map(|key| KeyVersion::given(key.expose()))
            .collect(),
    };
    let ring = KeyRing::new(&versions, config.key_publish_delay).map_err(|reason| {
        ConfigError::Invalid {
            name: "SIGNING_KEY",
            reason,
        }
    })?;
    let mut keys =
        TokenKeys::with_ring(ring, config.token_ttl).with_audience(&config.token_audience);
    if let Some(issuer) = &config.token_issuer {
        keys = keys.with_issuer(issuer);
    }
    Ok(match resolved.signing_key.take() {
        Some(secret) => keys.with_source(secret.into_source()),
        None => keys,
    })
}

/// The pool of `url`, renewing its credentials from the secret they came from, if any.
fn rotating_pool(
    url: &str,
    tls: crate::app::config::DatabaseTls,
    session: SessionSettings,
    resolved: &mut Resolved,
) -> Result<DbPool, DbSetupError> {
    let pool = DbPool::with_session(url, tls, session)?;
    Ok(match resolved.database.take() {
        Some(secret) => pool.with_credential_source(secret.into_source()),
        None => pool,
    })
}

/// What the `migrate` function keeps per instance: the database, and the bcrypt cost for the
/// admin it may bootstrap.
pub struct Database {
    pub pool: DbPool,
    pub bcrypt_cost: u32,
    /// The user the HTTP functions connect as, to create or bring up to date after migrating.
    pub app_user: Option<crate::db::account::AppUser>,
    /// How long audit events are kept: the scheduled purge removes older ones.
    pub audit_retention_days: u32,
}

impl Database {
    pub async fn load() -> Result<Self, StartupError> {
        let (vars, mut resolved) = resolved_environment().await?;
        let config = DatabaseConfig::from_lookup(&|name: &str| vars.get(name).cloned())?;
        let app_user = secrets::app_user(&vars).await?;
        let audit_retention_days =
            crate::app::config::audit_retention_days(&|name: &str| vars.get(name).cloned())?;
        Ok(Self {
            app_user,
            audit_retention_days,
            pool: rotating_pool(
                config.database_url.expose(),
                config.database_tls.clone(),
                SessionSettings::default(),
                &mut resolved,
            )?,
            bcrypt_cost: config.bcrypt_cost,
        })
    }

    pub fn new(config: DatabaseConfig) -> Result<Self, StartupError> {
        Ok(Self {
            pool: DbPool::new(config.database_url.expose(), config.database_tls.clone())?,
            bcrypt_cost: config.bcrypt_cost,
            app_user: None,
            audit_retention_days: crate::app::config::DEFAULT_AUDIT_RETENTION_DAYS,
        })
    }
}

impl App {
    /// Reads the configuration (and, in AWS, the secrets it names), then builds the pool (which
    /// connects lazily) and the token keys.
    pub async fn load() -> Result<Self, StartupError> {
        let (vars, resolved) = resolved_environment().await?;
        Self::assemble(
            Config::from_lookup(|name| vars.get(name).cloned())?,
            resolved,
        )
    }

    pub fn new(config: Config) -> Result<Self, StartupError> {
        Self::assemble(config, Resolved::default())
    }

    fn assemble(config: Config, mut resolved: Resolved) -> Result<Self, StartupError> {
        let pool = rotating_pool(
            config.database_url.expose(),
            config.database_tls.clone(),
            SessionSettings::for_requests(
                config.statement_mode,
                config.request_timeout,
                config.db_idle_timeout,
            ),
            &mut resolved,
        )?;
        let tokens = signing_keys(&config, &mut resolved)?;
        let sealing_keys =
            match &config.mfa_keys {
                Some(keys) => Some(SealingKeys::parse(keys.expose()).map_err(|reason| {
                    ConfigError::Invalid {
                        name: "MFA_KEYS",
                        reason,
                    }
                })?),
                None => None,
            };
        Ok(Self {
            texts: crate::texts::sender_without_sns(&config.sms.sender),
            sealing_keys,
            config,
            pool,
            tokens,
        })
    }

    /// A connection from the instance's pool; a connection the server closed while the instance
    /// was frozen is noticed and replaced by the pool, not handed out.
    pub async fn conn(&self) -> Result<DbConn, ApiError> {
        Ok(self.pool.conn().await?)
    }
}
