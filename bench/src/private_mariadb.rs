//! A `mariadbd` of the bench's own, on a temporary datadir and port, started with settings the
//! shared server must not be given (a small `max_connections`). A trimmed copy of the tests'
//! `PrivateMariaDb` (tests/src/mariadb.rs), which has no way to pass server options.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const MARIADBD: &str = "/usr/sbin/mariadbd";
/// An empty datadir starts in about a second; a slow, shared machine gets far more.
const READY_WITHIN: Duration = Duration::from_secs(30);

pub struct PrivateMariaDb {
    dir: PathBuf,
    port: u16,
    child: Child,
}

impl PrivateMariaDb {
    /// Starts a server on an empty datadir with `max_connections` and waits until it answers.
    pub async fn start(max_connections: u32) -> Self {
        let dir = std::env::temp_dir().join(format!("users-bench-mariadb-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("data")).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map(|address| address.port())
            .unwrap();
        let path = dir.display();
        let child = Command::new(MARIADBD)
            .args([
                "--no-defaults".to_owned(),
                format!("--datadir={path}/data"),
                format!("--socket={path}/mariadb.sock"),
                format!("--pid-file={path}/mariadb.pid"),
                format!("--log-error={path}/error.log"),
                format!("--port={port}"),
                "--bind-address=127.0.0.1".to_owned(),
                format!("--max-connections={max_connections}"),
                // The bench may run as root; mariadbd refuses to unless told so.
                "--user=root".to_owned(),
                // No grant tables: no mariadb-install-db, and root connects without a password.
                // Every session then has every privilege, including the one that lets a
                // session past max_connections (MariaDB keeps one extra slot for it).
                "--skip-grant-tables".to_owned(),
                "--skip-name-resolve".to_owned(),
                "--innodb-buffer-pool-size=16M".to_owned(),
                "--innodb-log-file-size=8M".to_owned(),
                "--innodb-data-file-path=ibdata1:4M:autoextend".to_owned(),
                "--innodb-temp-data-file-path=ibtmp1:4M:autoextend".to_owned(),
                // The default would ask the kernel for more files than a container allows.
                "--open-files-limit=1024".to_owned(),
                // Durability stays at its default (a flush at every commit): the scenario
                // counts acknowledged writes against rows, which a laxer setting would void.
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {MARIADBD}: {error}"));
        let mut server = Self { dir, port, child };
        server.wait_ready().await;
        server
    }

    /// The server's URL without a database, as root (no grant tables: no password).
    pub fn url(&self) -> String {
        format!("mysql://root@127.0.0.1:{}", self.port)
    }

    pub fn database_url(&self, database: &str) -> String {
        format!("{}/{database}", self.url())
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }

    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("mariadbd exited with {status}; log:\n{}", self.log());
            }
            let attempt = tokio::time::timeout(
                Duration::from_secs(2),
                shared::db::ping_server(&self.url(), shared::config::DatabaseTls::Off),
            )
            .await;
            if let Ok(Ok(())) = attempt {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "mariadbd did not answer on port {} within {READY_WITHIN:?}; log:\n{}",
                self.port,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for PrivateMariaDb {
    fn drop(&mut self) {
        // The data is thrown away: no clean shutdown needed.
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
