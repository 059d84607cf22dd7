//! The databases tests run on: a fresh one per test on the server at `TEST_DATABASE_URL`, named
//! with the run's prefix so a crashed run's leftovers can be dropped.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use mysql_async::prelude::Queryable;

/// The server the tests create their databases on: `TEST_DATABASE_URL`, without a database name.
pub fn server_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".to_owned())
        .trim_end_matches('/')
        .to_owned()
}

/// Every database of one test run shares this prefix, so `make test` can drop what a crashed
/// run left behind; no two runs (or tests) share a database.
pub fn run_prefix() -> String {
    static PREFIX: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PREFIX
        .get_or_init(|| {
            std::env::var("TEST_RUN_ID")
                .map(|id| format!("ut_{id}"))
                .unwrap_or_else(|_| {
                    let nanos = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .unwrap()
                        .as_nanos();
                    format!("ut_{}_{}", std::process::id(), nanos % 1_000_000_000)
                })
        })
        .clone()
}

/// A database of its own for one test, migrated, and dropped when the test ends.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    /// A database of its own, migrated.
    pub async fn new() -> Self {
        let db = Self::empty().await;
        shared::db::prepare(&db.url, shared::app::config::DatabaseTls::Off)
            .await
            .unwrap_or_else(|error| panic!("cannot migrate test database {}: {error}", db.name));
        db
    }

    /// A database of its own, created but not migrated.
    pub async fn empty() -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "{}_{}",
            run_prefix(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let url = format!("{}/{name}", server_url());
        shared::db::ensure_database(&url, shared::app::config::DatabaseTls::Off)
            .await
            .unwrap_or_else(|error| {
                panic!(
                    "cannot create test database {name} (is MariaDB running at {}?): {error}",
                    server_url()
                )
            });
        Self { name, url }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let server = server_url();
        let name = self.name.clone();
        // Drop runs outside any runtime guarantee, so the clean-up gets a runtime of its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                if let Ok(mut conn) = mysql_async::Conn::from_url(&server).await {
                    let _ = conn
                        .query_drop(format!("DROP DATABASE IF EXISTS `{name}`"))
                        .await;
                    let _ = conn.disconnect().await;
                }
            });
        })
        .join();
    }
}
