//! What a function instance creates once per cold start and reuses for every request.

use mysql_async::{Conn, Pool};

use crate::config::{Config, ConfigError};
use crate::db::{self, DbSetupError};
use crate::error::ApiError;
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
}

impl App {
    /// Reads the configuration and builds the pool (which connects lazily) and the token keys.
    pub fn from_env() -> Result<Self, StartupError> {
        Self::new(Config::from_env()?)
    }

    pub fn new(config: Config) -> Result<Self, StartupError> {
        let pool = db::pool(config.database_url.expose())?;
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
