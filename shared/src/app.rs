//! What a function instance creates once per cold start and reuses for every request.

use mysql_async::{Conn, Pool};

use std::collections::HashMap;

use crate::config::{load_dotenv, Config, ConfigError, DatabaseConfig};
use crate::db::{self, DbSetupError};
use crate::error::ApiError;
use crate::secrets::{self, SecretsError};
use crate::token::TokenKeys;

pub struct App {
    pub config: Config,
    pub pool: Pool,
    pub tokens: TokenKeys,
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

/// The environment (after `.env`), with the values held in Secrets Manager filled in.
async fn resolved_environment() -> Result<HashMap<String, String>, StartupError> {
    load_dotenv();
    let mut vars: HashMap<String, String> = std::env::vars().collect();
    secrets::resolve(&mut vars).await?;
    Ok(vars)
}

/// What the `migrate` function keeps per instance: the database, and the bcrypt cost for the
/// admin it may bootstrap.
pub struct Database {
    pub pool: Pool,
    pub bcrypt_cost: u32,
}

impl Database {
    pub async fn load() -> Result<Self, StartupError> {
        let vars = resolved_environment().await?;
        Self::new(DatabaseConfig::from_lookup(&|name: &str| {
            vars.get(name).cloned()
        })?)
    }

    pub fn new(config: DatabaseConfig) -> Result<Self, StartupError> {
        Ok(Self {
            pool: db::pool(config.database_url.expose(), config.database_tls)?,
            bcrypt_cost: config.bcrypt_cost,
        })
    }
}

impl App {
    /// Reads the configuration (and, in AWS, the secrets it names), then builds the pool (which
    /// connects lazily) and the token keys.
    pub async fn load() -> Result<Self, StartupError> {
        let vars = resolved_environment().await?;
        Self::new(Config::from_lookup(|name| vars.get(name).cloned())?)
    }

    pub fn new(config: Config) -> Result<Self, StartupError> {
        let pool = db::pool(config.database_url.expose(), config.database_tls)?;
        let tokens = TokenKeys::new(config.secret_key.expose().as_bytes(), config.token_ttl);
        Ok(Self {
            config,
            pool,
            tokens,
        })
    }

    /// A connection from the instance's pool; a connection the server closed while the instance
    /// was frozen is noticed and replaced by the pool, not handed out.
    pub async fn conn(&self) -> Result<Conn, ApiError> {
        Ok(self.pool.get_conn().await?)
    }
}
