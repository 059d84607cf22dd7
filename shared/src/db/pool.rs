//! The database pool of a function instance, and the one place its credentials are renewed.
//!
//! In AWS the credentials come from a Secrets Manager secret that is rotated (RDS rotates the
//! secret it manages every 7 days by default) while instances stay warm for hours. Connections
//! already open keep working after a password change; a new one is refused with MySQL error
//! 1045. Then, and only then, the instance reads the secret again (at most once per
//! [`MIN_REREAD_INTERVAL`], one read shared by every request that met the refusal), builds a new
//! pool with the new credentials, and takes the connection again: the request that found out
//! succeeds, and so does every one after it, with no cold start.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use mysql_async::Conn;

use crate::db::session_charset;
use crate::db::sockets;
use crate::db::statements::{DbConn, StatementMode};
use crate::db::tls::DatabaseTls;
use crate::db::{self, DbSetupError};
use crate::secret::Secret;

/// At most one read of the secret per instance in this interval, however many requests are
/// refused: a wrong password in the secret must not turn every request into a Secrets Manager call.
pub const MIN_REREAD_INTERVAL: Duration = Duration::from_secs(5);
/// After the server refused a new connection for its `max_connections`, this instance opens no
/// new connection for this long: it answers 503 (with `Retry-After: 1`, the same second) at once.
/// In a burst beyond the budget every starved instance would otherwise knock again with each
/// request, and each knock costs the full database a TCP handshake and a refusal
/// (`users-bench --burst` counts them).
pub const TOO_MANY_CONNECTIONS_PAUSE: Duration = Duration::from_secs(1);

pub type UrlFuture = Pin<Box<dyn Future<Output = Result<String, String>> + Send>>;
/// Reads the database URL again from where it came from (the secret).
pub type CredentialSource = Arc<dyn Fn() -> UrlFuture + Send + Sync>;

struct Current {
    pool: mysql_async::Pool,
    url: Secret,
    generation: u64,
}

/// The sockets of this pool's connections, by the server's connection id, so that a timed-out
/// request's connections can be closed at once (see [`DbPool::abandon`]).
#[derive(Default)]
struct Owned {
    ids: HashSet<u32>,
    inodes: HashSet<u64>,
}

/// Sockets some pool of this process has claimed (tests run many instances in one process).
static CLAIMED: Mutex<std::collections::BTreeSet<u64>> =
    Mutex::new(std::collections::BTreeSet::new());
/// New connections of all the pools of the process are made one at a time, so the socket that
/// appears during one is that connection's.
static CONNECTING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub struct DbPool {
    current: RwLock<Current>,
    tls: DatabaseTls,
    session: SessionSettings,
    port: u16,
    owned: Mutex<Owned>,
    credentials: Option<CredentialSource>,
    /// When the secret was last read because of a refusal; held while it is read, so concurrent
    /// refusals wait for that one read instead of making their own.
    last_reread: tokio::sync::Mutex<Option<Instant>>,
    rereads: AtomicU64,
    /// Until when new connections are not tried, after the server refused one as too many.
    refused_until: Mutex<Option<Instant>>,
}

impl DbPool {
    /// A pool that connects lazily, on its first use, with the server's session defaults and
    /// prepared statements.
    pub fn new(database_url: &str, tls: DatabaseTls) -> Result<Self, DbSetupError> {
        Self::with_session(database_url, tls, SessionSettings::default())
    }

    /// A pool whose new connections are set up as `session` says.
    pub fn with_session(
        database_url: &str,
        tls: DatabaseTls,
        session: SessionSettings,
    ) -> Result<Self, DbSetupError> {
        Ok(Self {
            current: RwLock::new(Current {
                pool: db::pool_with_session(database_url, tls.clone(), session)?,
                url: Secret::new(database_url),
                generation: 0,
            }),
            tls,
            port: db::port_of(database_url)?,
            session,
            owned: Mutex::new(Owned::default()),
            credentials: None,
            last_reread: tokio::sync::Mutex::new(None),
            rereads: AtomicU64::new(0),
            refused_until: Mutex::new(None),
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

    /// A connection for a request's statements, sent in the pool's statement mode.
    pub async fn conn(&self) -> Result<DbConn, mysql_async::Error> {
        Ok(DbConn::new(self.get_conn().await?, self.session.mode))
    }

    /// The statement mode of the pool's connections.
    pub fn statement_mode(&self) -> StatementMode {
        self.session.mode
    }

    /// A connection of the driver itself (tools and tests; requests use [`Self::conn`]); when
    /// the server refuses the credentials and they can be read again, they
    /// are, and the connection is taken once more with the new ones.
    pub async fn get_conn(&self) -> Result<Conn, mysql_async::Error> {
        let (pool, generation) = {
            let current = self.read();
            (current.pool.clone(), current.generation)
        };
        match self.checkout(&pool).await {
            Err(error) if is_access_denied(&error) && self.credentials.is_some() => {
                if self.renew_credentials(generation).await {
                    self.checkout(&self.current()).await
                } else {
                    Err(error)
                }
            }
            // The pool was replaced while this request waited for it (new credentials found by
            // a concurrent request, or a timeout): the new one is asked instead.
            Err(_) if self.read().generation != generation => self.checkout(&self.current()).await,
            outcome => outcome,
        }
    }

    /// A connection of `pool`, whose socket is known when it is a new one; none, without asking
    /// the server, while a refusal for too many connections is recent.
    async fn checkout(&self, pool: &mysql_async::Pool) -> Result<Conn, mysql_async::Error> {
        let idle = pool.metrics().connections_in_pool.load(Ordering::Relaxed);
        if idle == 0 {
            self.refuse_while_paused()?;
        }
        let outcome = self.take(pool, idle).await;
        if let Err(mysql_async::Error::Server(server)) = &outcome {
            if server.code == crate::db::errors::codes::TOO_MANY_CONNECTIONS {
                *lock(&self.refused_until) = Some(Instant::now() + TOO_MANY_CONNECTIONS_PAUSE);
            }
        }
        outcome
    }

    fn refuse_while_paused(&self) -> Result<(), mysql_async::Error> {
        let mut refused_until = lock(&self.refused_until);
        match *refused_until {
            Some(until) if Instant::now() < until => {
                Err(mysql_async::Error::Server(mysql_async::ServerError {
                    code: crate::db::errors::codes::TOO_MANY_CONNECTIONS,
                    message: "not tried: the server refused a connection as too many less than \
                              a second ago"
                        .into(),
                    state: "08004".into(),
                }))
            }
            Some(_) => {
                *refused_until = None;
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// A connection of `pool` (`idle` of its connections were idle), whose socket is known when
    /// it is a new one.
    async fn take(
        &self,
        pool: &mysql_async::Pool,
        idle: usize,
    ) -> Result<Conn, mysql_async::Error> {
        if idle > 0 || !cfg!(target_os = "linux") {
            let conn = pool.get_conn().await?;
            // An idle connection that turned out dead is replaced by a new one on the way.
            if !lock(&self.owned).ids.contains(&conn.id()) {
                self.claim(conn.id(), None);
            }
            return Ok(conn);
        }
        let _one_at_a_time = CONNECTING.lock().await;
        let before: HashSet<u64> = sockets::connected_to(self.port)
            .iter()
            .map(|socket| socket.inode)
            .collect();
        let conn = pool.get_conn().await?;
        if !lock(&self.owned).ids.contains(&conn.id()) {
            self.claim(conn.id(), Some(&before));
        }
        Ok(conn)
    }

    /// Records the socket of new connection `id`: the one socket to the database's port that no
    /// pool has claimed (and that did not exist `before` it, when known). Left unclaimed when
    /// that is not one socket (another client of the database connecting at the same moment).
    fn claim(&self, id: u32, before: Option<&HashSet<u64>>) {
        let now = sockets::connected_to(self.port);
        let mut claimed = lock(&CLAIMED);
        let live: HashSet<u64> = now.iter().map(|socket| socket.inode).collect();
        claimed.retain(|inode| live.contains(inode));
        let candidates: Vec<u64> = now
            .iter()
            .map(|socket| socket.inode)
            .filter(|inode| !claimed.contains(inode))
            .filter(|inode| before.is_none_or(|before| !before.contains(inode)))
            .collect();
        let mut owned = lock(&self.owned);
        owned.inodes.retain(|inode| live.contains(inode));
        if let [inode] = candidates[..] {
            claimed.insert(inode);
            owned.inodes.insert(inode);
            owned.ids.insert(id);
        }
    }

    /// After a request timed out: every connection of this pool is closed at once (its socket
    /// shut down), whatever it was doing, so the server rolls back any transaction and releases
    /// its locks now rather than when it notices the client gone (`wait_timeout`, 8 hours by
    /// default), and a fresh pool takes its place. Lambda freezes the instance right after the
    /// response, so nothing done later would run in time.
    pub fn abandon(&self) {
        let inodes = {
            let mut owned = lock(&self.owned);
            owned.ids.clear();
            std::mem::take(&mut owned.inodes)
        };
        let mut closed = 0;
        for socket in sockets::connected_to(self.port) {
            if inodes.contains(&socket.inode) {
                sockets::shut_down(&socket);
                closed += 1;
            }
        }
        lock(&CLAIMED).retain(|inode| !inodes.contains(inode));
        let url = self.read().url.clone();
        match db::pool_with_session(url.expose(), self.tls.clone(), self.session) {
            Ok(pool) => {
                let old = {
                    let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
                    current.generation += 1;
                    std::mem::replace(&mut current.pool, pool)
                };
                if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                    runtime.spawn(async move {
                        let _ = old.disconnect().await;
                    });
                }
            }
            Err(error) => tracing::error!(%error, "a new pool could not be made"),
        }
        tracing::warn!(
            closed,
            "the request timed out: the instance's database connections were closed, so the server rolls back what they held"
        );
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
        let pool = match db::pool_with_session(&url, self.tls.clone(), self.session) {
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

/// How long a statement of a request may wait for a row lock, in MySQL's whole seconds: half the
/// request timeout (at least 1 s), so a request blocked by a lock gets the server's 503 (lock wait
/// timeout) rather than being cut off by its own timeout.
pub fn lock_wait_seconds(request_timeout: Duration) -> u64 {
    (request_timeout.as_millis() as u64 / 2 / 1000).max(1)
}

/// How a pool's connections send statements and set up their sessions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionSettings {
    pub mode: StatementMode,
    /// The session's `innodb_lock_wait_timeout`, in seconds (`None`: the server's).
    pub lock_wait_seconds: Option<u64>,
    /// The session's `wait_timeout`: the server closes the connection after this many idle
    /// seconds (`None`: the server's, 8 hours by default).
    pub idle_timeout_seconds: Option<u64>,
}

impl SessionSettings {
    /// The sessions of request-serving connections. Direct (prepared statements): each new
    /// connection bounds its lock waits by the request timeout and asks the server to close it
    /// after `idle_timeout` idle, since a frozen instance cannot close its own. Behind a proxy
    /// (text statements): no session setting at all, since any `SET` would pin the session to
    /// one database connection; the proxy's initialization query sets the lock-wait bound on
    /// the database connections, and its idle client timeout closes the idle clients.
    pub fn for_requests(
        mode: StatementMode,
        request_timeout: Duration,
        idle_timeout: Duration,
    ) -> Self {
        match mode {
            StatementMode::Prepared => Self {
                mode,
                lock_wait_seconds: Some(lock_wait_seconds(request_timeout)),
                idle_timeout_seconds: Some(idle_timeout.as_secs().max(1)),
            },
            StatementMode::Text => Self {
                mode,
                ..Self::default()
            },
        }
    }

    /// What a new connection runs first: its `SET SESSION` (if any) and
    /// [`session_charset::QUERY`], as one text query and one round trip.
    pub fn opening_query(&self) -> String {
        let mut settings = Vec::new();
        if let Some(seconds) = self.lock_wait_seconds {
            settings.push(format!("innodb_lock_wait_timeout = {seconds}"));
        }
        if let Some(seconds) = self.idle_timeout_seconds {
            settings.push(format!("wait_timeout = {seconds}"));
        }
        if settings.is_empty() {
            session_charset::QUERY.to_owned()
        } else {
            format!(
                "SET SESSION {}; {}",
                settings.join(", "),
                session_charset::QUERY
            )
        }
    }
}

/// Whether the server refused the connection's credentials.
pub fn is_access_denied(error: &mysql_async::Error) -> bool {
    matches!(error, mysql_async::Error::Server(server) if server.code == crate::db::errors::codes::ACCESS_DENIED)
}
