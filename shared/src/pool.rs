//! The database pool of a function instance, and the one place its credentials are renewed.
//!
//! In AWS the credentials come from a Secrets Manager secret that is rotated (RDS rotates the
//! secret it manages every 7 days by default) while instances stay warm for hours. Connections
//! already open keep working after a password change; a new one is refused with MySQL error
//! 1045. Then, and only then, the instance reads the secret again (at most once per
//! [`MIN_REREAD_INTERVAL`], one read shared by every request that met the refusal), builds a new
//! pool with the new credentials, and takes the connection again: the request that found out
//! succeeds, and so does every one after it, with no cold start.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use mysql_async::Conn;

use crate::config::{DatabaseTls, Secret};
use crate::db::{self, DbSetupError};

/// At most one read of the secret per instance in this interval, however many requests are
/// refused: a wrong password in the secret must not turn every request into a Secrets Manager call.
pub const MIN_REREAD_INTERVAL: Duration = Duration::from_secs(5);
/// MySQL's answer to a connection with wrong credentials (`ER_ACCESS_DENIED_ERROR`).
pub const ACCESS_DENIED: u16 = 1045;

pub type UrlFuture = Pin<Box<dyn Future<Output = Result<String, String>> + Send>>;
/// Reads the database URL again from where it came from (the secret).
pub type CredentialSource = Arc<dyn Fn() -> UrlFuture + Send + Sync>;

struct Current {
    pool: mysql_async::Pool,
    url: Secret,
    generation: u64,
}

pub struct DbPool {
    current: RwLock<Current>,
    tls: DatabaseTls,
    credentials: Option<CredentialSource>,
    /// When the secret was last read because of a refusal; held while it is read, so concurrent
    /// refusals wait for that one read instead of making their own.
    last_reread: tokio::sync::Mutex<Option<Instant>>,
    rereads: AtomicU64,
}

impl DbPool {
    /// A pool that connects lazily, on its first use.
    pub fn new(database_url: &str, tls: DatabaseTls) -> Result<Self, DbSetupError> {
        Ok(Self {
            current: RwLock::new(Current {
                pool: db::pool(database_url, tls)?,
                url: Secret::new(database_url),
                generation: 0,
            }),
            tls,
            credentials: None,
            last_reread: tokio::sync::Mutex::new(None),
            rereads: AtomicU64::new(0),
        })
    }

    /// Credentials that may change: on a refused connection, `source` is asked for the URL again.
    pub fn with_credential_source(mut self, source: CredentialSource) -> Self {
        self.credentials = Some(source);
        self
    }

    /// The pool in use now (a handle: clones share the connections).
    pub fn current(&self) -> mysql_async::Pool {
        self.read().pool.clone()
    }

    /// How many times the credentials were read again since the cold start.
    pub fn credential_rereads(&self) -> u64 {
        self.rereads.load(Ordering::Relaxed)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Current> {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A connection; when the server refuses the credentials and they can be read again, they
    /// are, and the connection is taken once more with the new ones.
    pub async fn get_conn(&self) -> Result<Conn, mysql_async::Error> {
        let (pool, generation) = {
            let current = self.read();
            (current.pool.clone(), current.generation)
        };
        match pool.get_conn().await {
            Err(error) if is_access_denied(&error) && self.credentials.is_some() => {
                if self.renew_credentials(generation).await {
                    self.current().get_conn().await
                } else {
                    Err(error)
                }
            }
            outcome => outcome,
        }
    }

    /// Whether the pool now has other credentials than those of `seen_generation`.
    async fn renew_credentials(&self, seen_generation: u64) -> bool {
        let Some(source) = &self.credentials else {
            return false;
        };
        let mut last_reread = self.last_reread.lock().await;
        if self.read().generation != seen_generation {
            // Another request renewed them while this one waited.
            return true;
        }
        if last_reread.is_some_and(|at| at.elapsed() < MIN_REREAD_INTERVAL) {
            return false;
        }
        *last_reread = Some(Instant::now());
        self.rereads.fetch_add(1, Ordering::Relaxed);
        let url = match source().await {
            Ok(url) => url,
            Err(error) => {
                tracing::error!(%error, "the database refused its credentials, and reading them again failed");
                return false;
            }
        };
        if url == self.read().url.expose() {
            tracing::error!(
                "the database refused its credentials, and the secret still holds the same ones"
            );
            return false;
        }
        let pool = match db::pool(&url, self.tls) {
            Ok(pool) => pool,
            Err(error) => {
                tracing::error!(%error, "the database secret changed into an unusable URL");
                return false;
            }
        };
        let old = {
            let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
            let old = std::mem::replace(&mut current.pool, pool);
            current.url = Secret::new(url);
            current.generation += 1;
            old
        };
        tracing::info!("the database credentials changed: new connections use the new ones");
        // Connections of the old pool still in use finish their requests, then close.
        tokio::spawn(async move {
            let _ = old.disconnect().await;
        });
        true
    }
}

/// Whether the server refused the connection's credentials.
pub fn is_access_denied(error: &mysql_async::Error) -> bool {
    matches!(error, mysql_async::Error::Server(server) if server.code == ACCESS_DENIED)
}
