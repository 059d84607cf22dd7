//! The MySQL pool, database creation and migrations.

pub mod account;
pub mod batch;
pub mod errors;
pub mod pool;
pub mod session_charset;
pub(crate) mod sockets;
pub mod statements;
pub mod tls;

/// The driver's types the rest of the crate names: a row, a value, an error, a connection, and
/// how a value is read from a column. Only `db` talks to the driver itself.
pub use mysql_async::prelude::FromValue;
pub use mysql_async::{Conn, Error, Row, Value};

use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Opts, OptsBuilder, Pool, PoolConstraints, PoolOpts, SslOpts};

use crate::db::pool::SessionSettings;
use crate::db::tls::DatabaseTls;

use crate::db::errors::{summarize_migration, Summarized};

mod embedded {
    refinery::embed_migrations!("../migrations");
}

/// A Lambda instance serves one request at a time, so it never needs more than one connection;
/// the second is headroom for the rare overlap of a request with a connection being recycled.
const MAX_CONNECTIONS: usize = 2;
/// Close connections idle for longer than this ourselves, well before a server's or proxy's
/// idle timeout (MySQL's default is 8 h, RDS Proxy's 30 min) closes them under us.
const IDLE_CONNECTION_TTL: Duration = Duration::from_secs(240);
/// How much sooner than the server the pool gives up an idle connection: a request that takes
/// one just before the server's limit must not have it closed under it.
const IDLE_MARGIN: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum DbSetupError {
    #[error("DATABASE_URL is not a valid MySQL URL: {0}")]
    InvalidUrl(String),
    #[error("DATABASE_URL must name a database, e.g. mysql://root@127.0.0.1:3306/users_dev")]
    MissingDatabaseName,
    #[error("database name {0:?} may only contain letters, digits, _ and $")]
    InvalidDatabaseName(String),
    // The database's errors are shown summarized (`db_error`): this text reaches logs.
    #[error("cannot reach MySQL at {address}: {}", Summarized(source))]
    Unreachable {
        address: String,
        source: mysql_async::Error,
    },
    #[error("MySQL refused the operation: {}", Summarized(.0))]
    Server(#[from] mysql_async::Error),
    #[error("migration failed: {}", summarize_migration(.0))]
    Migration(#[from] refinery::Error),
    #[error("the application database user cannot be set up: {0}")]
    InvalidAppUser(String),
    #[error("another migration run held the migration lock for longer than {0:?}; try again when it is done")]
    MigrationLockBusy(Duration),
}

fn parse(database_url: &str) -> Result<Opts, DbSetupError> {
    Opts::from_url(database_url).map_err(|error| DbSetupError::InvalidUrl(error.to_string()))
}

/// The TCP port of a URL (3306 when it names none).
pub fn port_of(database_url: &str) -> Result<u16, DbSetupError> {
    Ok(parse(database_url)?.tcp_port())
}

/// `host:port` of a URL, for messages that must not print its password.
pub fn address_of(database_url: &str) -> String {
    match parse(database_url) {
        Ok(opts) => format!("{}:{}", opts.ip_or_hostname(), opts.tcp_port()),
        Err(_) => "an unparseable DATABASE_URL".to_owned(),
    }
}

/// A pool of the migrations and tools: the server's session defaults, prepared statements.
/// Creating it does not connect: the first query does.
pub fn pool(database_url: &str, tls: DatabaseTls) -> Result<Pool, DbSetupError> {
    Ok(Pool::new(builder(database_url, tls, IDLE_CONNECTION_TTL)?))
}

/// The pool of one function instance, whose new connections are set up as `session` says and
/// refused unless their session speaks utf8mb4. Creating it does not connect, so a cold start
/// does no network work before it has a request to serve.
pub fn pool_with_session(
    database_url: &str,
    tls: DatabaseTls,
    session: SessionSettings,
) -> Result<Pool, DbSetupError> {
    let opening_query = session.opening_query();
    // The server closes a connection idle for its session's `wait_timeout`; the pool gives it up
    // a few seconds before. (The driver also checks a pooled connection's socket before handing
    // it out, and would find it closed; this keeps that to the connections of frozen instances.)
    let idle_limit = session
        .idle_timeout_seconds
        .map(|seconds| Duration::from_secs(seconds).saturating_sub(IDLE_MARGIN))
        .map_or(IDLE_CONNECTION_TTL, |limit| {
            limit.clamp(Duration::from_secs(1), IDLE_CONNECTION_TTL)
        });
    let builder = builder(database_url, tls, idle_limit)?.after_connect(move |conn| {
        let opening_query = opening_query.clone();
        Box::pin(async move { open_session(conn, opening_query).await })
    });
    Ok(Pool::new(builder))
}

/// Runs a new connection's opening query (its settings, then [`session_charset::QUERY`]) and
/// fails unless the session speaks utf8mb4: the error ends the connection, and the request that
/// wanted it answers 503.
async fn open_session(
    conn: &mut mysql_async::Conn,
    opening_query: String,
) -> Result<(), mysql_async::Error> {
    let mut result = conn.query_iter(opening_query).await?;
    let mut charsets = None;
    while !result.is_empty() {
        let rows: Vec<session_charset::Answer> = result.collect().await?;
        if let Some(row) = rows.into_iter().next() {
            charsets = Some(row);
        }
    }
    session_charset::check(charsets).map_err(|refused| mysql_async::Error::Other(refused.into()))
}

/// Options of a pool whose connections are not used again after `idle_limit` without a query.
fn builder(
    database_url: &str,
    tls: DatabaseTls,
    idle_limit: Duration,
) -> Result<OptsBuilder, DbSetupError> {
    let opts = parse(database_url)?;
    if opts.db_name().is_none() {
        return Err(DbSetupError::MissingDatabaseName);
    }
    let pool_opts = PoolOpts::default()
        .with_constraints(PoolConstraints::new(0, MAX_CONNECTIONS).expect("0 <= max"))
        .with_inactive_connection_ttl(idle_limit)
        // A reset would drop the prepared-statement cache and cost a round trip per request;
        // no query here leaves session state behind.
        .with_reset_connection(false);
    Ok(OptsBuilder::from_opts(opts)
        .pool_opts(pool_opts)
        // Asking the server for its socket path and reconnecting costs round trips at connect,
        // and RDS has no local socket.
        .prefer_socket(false)
        // Given, the driver does not ask the server for them (`SELECT @@max_allowed_packet,
        // @@wait_timeout`) on every new connection. Our largest statement is a few kilobytes.
        // The driver discards, rather than hands out, a connection idle longer than its
        // `wait_timeout`: also the one a frozen instance finds after it thaws.
        .max_allowed_packet(Some(MAX_PACKET))
        .wait_timeout(Some(idle_limit.as_secs().max(1) as usize))
        .tcp_nodelay(true)
        .ssl_opts(ssl_opts(&tls)))
}

/// What the driver assumes of the server's `max_allowed_packet` (MySQL's default since 8.0 is
/// 64 MiB, MariaDB's 16 MiB; 4 MiB is the smallest default of the versions we support).
const MAX_PACKET: usize = 4 * 1024 * 1024;

/// The public roots of Amazon RDS and RDS Proxy; see `certs/README.md`.
const RDS_CA_BUNDLE: &[u8] = include_bytes!("../../certs/rds-ca-bundle.pem");

/// The driver's TLS options; with any of them set it refuses a server that does not offer TLS
/// (no fall back to plain text) and verifies the certificate's chain and its name (the URL's host).
fn ssl_opts(tls: &DatabaseTls) -> Option<SslOpts> {
    match tls {
        DatabaseTls::Off => None,
        DatabaseTls::On => Some(SslOpts::default()),
        // Only the private CA: with the web roots too, any public CA could vouch for a name of
        // the private network.
        DatabaseTls::PrivateCa(ca) => Some(
            SslOpts::default()
                .with_root_certs(vec![ca.pem().to_vec().into()])
                .with_disable_built_in_roots(true),
        ),
        DatabaseTls::Rds => Some(SslOpts::default().with_root_certs(vec![RDS_CA_BUNDLE.into()])),
    }
}

/// The database named in the URL, created when missing (locally; in AWS it exists already).
pub async fn ensure_database(database_url: &str, tls: DatabaseTls) -> Result<(), DbSetupError> {
    let opts = parse(database_url)?;
    let name = opts
        .db_name()
        .ok_or(DbSetupError::MissingDatabaseName)?
        .to_owned();
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$')
    {
        return Err(DbSetupError::InvalidDatabaseName(name));
    }
    let mut conn = connect_server(opts, tls).await?;
    conn.query_drop(format!(
        "CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
    ))
    .await?;
    conn.disconnect().await?;
    Ok(())
}

/// Ends a transaction: commits when `outcome` is Ok, rolls back otherwise, so no row lock
/// outlives a refused change (a dropped transaction is rolled back only when its connection is
/// next used, which may be the next request of this instance).
pub async fn finish<T, E: From<mysql_async::Error>>(
    tx: crate::db::statements::DbTx<'_>,
    outcome: Result<T, E>,
) -> Result<T, E> {
    match outcome {
        Ok(value) => {
            tx.commit().await?;
            Ok(value)
        }
        Err(error) => {
            if let Err(rollback) = tx.rollback().await {
                tracing::warn!(rollback = %Summarized(&rollback), "rollback failed");
            }
            Err(error)
        }
    }
}

/// How long a migration run waits for another one (a deploy's custom resource and an operator's
/// `migrate` at once) to finish before it gives up.
pub const MIGRATION_LOCK_WAIT: Duration = Duration::from_secs(20);

/// The named lock of one database's migrations: `GET_LOCK` names are server-wide, so the name
/// carries the database (hashed, since a name may be 64 characters at most).
const MIGRATION_LOCK: &str = "CONCAT('users-api migrations ', LEFT(SHA2(DATABASE(), 256), 32))";

/// Applies every migration not yet applied; returns how many ran. One run at a time per
/// database: the run holds a named lock, waiting for it at most [`MIGRATION_LOCK_WAIT`].
pub async fn migrate(pool: &Pool) -> Result<usize, DbSetupError> {
    migrate_waiting(pool, MIGRATION_LOCK_WAIT).await
}

/// [`migrate`] with another bound on the wait for the lock. The wait is bounded by the server
/// (`GET_LOCK`'s timeout), never by cutting the client off: a statement of a migration that a
/// client abandons still runs to its end on the server, and MySQL commits DDL statement by
/// statement, so a cut-off run is a half-applied one.
pub async fn migrate_waiting(pool: &Pool, lock_wait: Duration) -> Result<usize, DbSetupError> {
    // The lock lives as long as this session: a run that dies releases it with its connection.
    let mut lock = pool.get_conn().await?;
    let acquired: Option<Option<i64>> = lock
        .exec_first(
            format!("SELECT GET_LOCK({MIGRATION_LOCK}, ?)"),
            (lock_wait.as_secs(),),
        )
        .await?;
    if acquired.flatten() != Some(1) {
        return Err(DbSetupError::MigrationLockBusy(lock_wait));
    }
    let outcome = async {
        accept_repeatable_rewrites(&mut lock).await?;
        let mut runner_pool = pool.clone();
        Ok::<_, DbSetupError>(
            embedded::migrations::runner()
                .set_abort_divergent(true)
                .run_async(&mut runner_pool)
                .await?,
        )
    }
    .await;
    if let Err(error) = lock
        .query_drop(format!("DO RELEASE_LOCK({MIGRATION_LOCK})"))
        .await
    {
        tracing::warn!(
            error = %Summarized(&error),
            "releasing the migration lock failed; it ends with the session"
        );
    }
    Ok(outcome?.applied_migrations().len())
}

/// V1 to V3 were rewritten to be repeatable (`IF NOT EXISTS`, `INSERT IGNORE`) after databases
/// had applied them as first written: the same schema, another checksum. These are the first
/// checksums; a database that recorded one of them is given the current one, so refinery does
/// not take the rewrite for a divergent migration. Any other difference still aborts the run.
const REWRITTEN_CHECKSUMS: &[(u32, &str)] = &[
    (1, "12660748002497764459"),
    (2, "11876955030244711485"),
    (3, "6268127714158883667"),
];

async fn accept_repeatable_rewrites(conn: &mut mysql_async::Conn) -> Result<(), DbSetupError> {
    let history: Option<String> = conn
        .query_first(
            "SELECT table_name FROM information_schema.tables \
             WHERE table_schema = DATABASE() AND table_name = 'refinery_schema_history'",
        )
        .await?;
    if history.is_none() {
        return Ok(());
    }
    for migration in embedded::migrations::runner().get_migrations() {
        let version = migration.version() as u32;
        let Some((_, first)) = REWRITTEN_CHECKSUMS.iter().find(|(v, _)| *v == version) else {
            continue;
        };
        conn.exec_drop(
            "UPDATE refinery_schema_history SET checksum = ? WHERE version = ? AND checksum = ?",
            (migration.checksum().to_string(), version, *first),
        )
        .await?;
    }
    Ok(())
}

/// Applies the migrations up to `version` only, outside the lock: for tests that need a
/// database as an earlier release left it.
pub async fn migrate_until(pool: &Pool, version: u32) -> Result<usize, DbSetupError> {
    let mut pool = pool.clone();
    let report = embedded::migrations::runner()
        .set_target(refinery::Target::Version(version as i32))
        .run_async(&mut pool)
        .await?;
    Ok(report.applied_migrations().len())
}

/// Creates the database when missing, then migrates it: what `make migrate` and the tests run.
pub async fn prepare(database_url: &str, tls: DatabaseTls) -> Result<usize, DbSetupError> {
    ensure_database(database_url, tls.clone()).await?;
    let pool = pool(database_url, tls)?;
    let applied = migrate(&pool).await;
    pool.disconnect().await.ok();
    applied
}

/// Connects to the server of `url` (its database need not exist) and disconnects.
pub async fn ping_server(url: &str, tls: DatabaseTls) -> Result<(), DbSetupError> {
    let conn = connect_server(parse(url)?, tls).await?;
    conn.disconnect().await?;
    Ok(())
}

/// A connection to the server of `opts`, without selecting a database.
pub async fn connect_server(
    opts: Opts,
    tls: DatabaseTls,
) -> Result<mysql_async::Conn, DbSetupError> {
    let address = format!("{}:{}", opts.ip_or_hostname(), opts.tcp_port());
    let server_opts = OptsBuilder::from_opts(opts)
        .db_name(None::<String>)
        .prefer_socket(false)
        .ssl_opts(ssl_opts(&tls));
    mysql_async::Conn::new(server_opts)
        .await
        .map_err(|source| DbSetupError::Unreachable { address, source })
}

/// Drops every database whose name starts with `prefix`: the clean-up of a test run.
pub async fn drop_databases_with_prefix(url: &str, prefix: &str) -> Result<usize, DbSetupError> {
    if prefix.len() < 4
        || !prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return Err(DbSetupError::InvalidDatabaseName(prefix.to_owned()));
    }
    let mut conn = connect_server(parse(url)?, DatabaseTls::Off).await?;
    let names: Vec<String> = conn
        .exec(
            "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE CONCAT(?, '%')",
            (prefix.replace('_', "\\_"),),
        )
        .await?;
    for name in &names {
        conn.query_drop(format!("DROP DATABASE IF EXISTS `{name}`"))
            .await?;
    }
    conn.disconnect().await?;
    Ok(names.len())
}

/// Now, at the microsecond precision the `DATETIME(6)` columns keep, so what a request answers is
/// what it stored.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::{DurationRound, TimeDelta, Utc};
    Utc::now()
        .duration_trunc(TimeDelta::microseconds(1))
        .unwrap_or_else(|_| Utc::now())
}
