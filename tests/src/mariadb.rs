//! A MariaDB server of one test's own, so the test may kill, freeze and restart it without
//! touching the shared server every other test runs against.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const MARIADBD: &str = "/usr/sbin/mariadbd";
const INSTALL_DB: &str = "/usr/bin/mariadb-install-db";
/// A fresh datadir takes about a second to initialise; a slow, shared machine gets far more.
const READY_WITHIN: Duration = Duration::from_secs(30);

/// A `mariadbd` with its own datadir, port and socket under a temporary directory. Dropping it
/// kills the server (frozen or not) and removes the directory, also when the test panics.
pub struct PrivateMariaDb {
    dir: PathBuf,
    port: u16,
    child: Option<Child>,
    /// Server options beyond ours (a restart keeps them).
    options: Vec<String>,
    /// Whether privileges are checked (a datadir made by `mariadb-install-db`).
    grant_tables: bool,
}

impl PrivateMariaDb {
    /// Starts a server on an empty datadir and waits until it answers a query.
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// [`Self::start`] with more server options, such as `--max-connections=40`: settings the
    /// shared server every other test uses must not be given.
    pub async fn start_with(options: &[&str]) -> Self {
        Self::start_configured(options, false).await
    }

    /// [`Self::start_with`] on a datadir with grant tables (about 5 s more), so privileges are
    /// checked, and what the server does only for users without SUPER (such as `init_connect`)
    /// happens. Root connects over TCP without a password and has every privilege.
    pub async fn start_with_grant_tables(options: &[&str]) -> Self {
        Self::start_configured(options, true).await
    }

    async fn start_configured(options: &[&str], grant_tables: bool) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "users-api-mariadb-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("data")).unwrap();
        let mut server = Self {
            dir,
            port: crate::serve::free_port(),
            child: None,
            options: options.iter().map(|option| option.to_string()).collect(),
            grant_tables,
        };
        if grant_tables {
            server.install_grant_tables();
        }
        // A port free a moment ago may be taken by the time the server binds it (by another
        // program, or a client's outgoing connection); then try another.
        for _ in 0..3 {
            server.spawn();
            match server.wait_ready().await {
                Ready::Ours => return server,
                Ready::PortTaken => {
                    server.kill();
                    server.port = crate::serve::free_port();
                }
            }
        }
        panic!(
            "mariadbd found no free port in 3 tries; log:\n{}",
            server.log()
        );
    }

    /// The server's URL without a database, as user root (no password; without grant tables
    /// any password works).
    pub fn url(&self) -> String {
        format!("mysql://root@127.0.0.1:{}", self.port)
    }

    pub fn database_url(&self, database: &str) -> String {
        format!("{}/{database}", self.url())
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("the server is running").id()
    }

    /// The server's error log, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }

    fn install_grant_tables(&self) {
        let output = Command::new(INSTALL_DB)
            .args([
                "--no-defaults".to_owned(),
                format!("--datadir={}/data", self.dir.display()),
                "--user=root".to_owned(),
                // Root accounts for 127.0.0.1 and ::1 too, with no password.
                "--auth-root-authentication-method=normal".to_owned(),
                "--skip-test-db".to_owned(),
            ])
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|error| panic!("cannot run {INSTALL_DB}: {error}"));
        assert!(
            output.status.success(),
            "{INSTALL_DB} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    fn spawn(&mut self) {
        let dir = self.dir.display();
        let mut args = vec![
            "--no-defaults".to_owned(),
            format!("--datadir={dir}/data"),
            format!("--socket={dir}/mariadb.sock"),
            format!("--pid-file={dir}/mariadb.pid"),
            format!("--log-error={dir}/error.log"),
            format!("--port={}", self.port),
            "--bind-address=127.0.0.1".to_owned(),
            // The tests run as root; mariadbd refuses to unless told so.
            "--user=root".to_owned(),
            "--skip-name-resolve".to_owned(),
            "--innodb-buffer-pool-size=16M".to_owned(),
            "--innodb-log-file-size=8M".to_owned(),
            "--innodb-data-file-path=ibdata1:4M:autoextend".to_owned(),
            "--innodb-temp-data-file-path=ibtmp1:4M:autoextend".to_owned(),
            // The default would ask the kernel for more files than a container allows, and warn.
            "--open-files-limit=1024".to_owned(),
            // Durability stays at its default (a flush at every commit): the tests prove that no
            // acknowledged write is lost, which a laxer setting would make meaningless.
        ];
        if !self.grant_tables {
            // No grant tables, so no mariadb-install-db (5 s): an empty datadir starts in about
            // a second, and root connects without a password.
            args.push("--skip-grant-tables".to_owned());
        }
        let child = Command::new(MARIADBD)
            .args(args)
            .args(&self.options)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {MARIADBD}: {error}"));
        self.child = Some(child);
    }

    /// Waits until this server answers on its port. A server that answers there but is not
    /// ours (its socket is another's), or ours exiting because it could not bind the port, means
    /// the port is taken.
    async fn wait_ready(&mut self) -> Ready {
        let deadline = Instant::now() + READY_WITHIN;
        let our_socket = format!("{}/mariadb.sock", self.dir.display());
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                let log = self.log();
                if log.contains("Bind on TCP/IP port") {
                    return Ready::PortTaken;
                }
                panic!("mariadbd exited with {status}; log:\n{log}");
            }
            let attempt =
                tokio::time::timeout(Duration::from_secs(2), self.socket_of_answering_server())
                    .await;
            match attempt {
                Ok(Some(socket)) if socket == our_socket => return Ready::Ours,
                Ok(Some(_)) => return Ready::PortTaken,
                Ok(None) | Err(_) => {}
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

    /// `@@socket` of whatever server answers on this port, if one does.
    async fn socket_of_answering_server(&self) -> Option<String> {
        use mysql_async::prelude::Queryable;
        let opts = mysql_async::Opts::from_url(&self.url()).ok()?;
        let mut conn = shared::db::connect_server(opts, shared::app::config::DatabaseTls::Off)
            .await
            .ok()?;
        let socket: Option<String> = conn.query_first("SELECT @@socket").await.ok()?;
        let _ = conn.disconnect().await;
        socket
    }

    /// SIGKILL, the way a crash or an out-of-memory kill ends it: open connections are reset and
    /// new ones refused.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, as a reboot or a failover ends it: the server closes every connection itself,
    /// then exits.
    pub fn shut_down(&mut self) {
        if let Some(mut child) = self.child.take() {
            self.signal_pid(child.id(), "TERM");
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same datadir and port (after a crash recovery when it was
    /// killed) and waits until it answers.
    pub async fn restart(&mut self) {
        self.kill();
        self.spawn();
        if let Ready::PortTaken = self.wait_ready().await {
            panic!(
                "port {} was taken while mariadbd was down; log:\n{}",
                self.port,
                self.log()
            );
        }
    }

    /// SIGSTOP: the server keeps its sockets but answers nothing, and the kernel still completes
    /// new TCP handshakes, so only a client's own timeouts get it out.
    pub fn freeze(&self) {
        self.signal("STOP");
        self.wait_for_state(|state| state == 'T');
    }

    /// SIGCONT after [`freeze`](Self::freeze).
    pub fn thaw(&self) {
        self.signal("CONT");
        self.wait_for_state(|state| state != 'T');
    }

    fn signal(&self, name: &str) {
        self.signal_pid(self.pid(), name);
    }

    fn signal_pid(&self, pid: u32, name: &str) {
        let status = Command::new("kill")
            .args([format!("-{name}"), pid.to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{name} {pid}");
    }

    /// The signal is delivered asynchronously; a test that measures the outage must know when it
    /// really began.
    fn wait_for_state(&self, wanted: impl Fn(char) -> bool) {
        let path = format!("/proc/{}/stat", self.pid());
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let stat = std::fs::read_to_string(&path).unwrap_or_default();
            // The state follows the command name, which is in parentheses.
            let state = stat
                .rsplit_once(") ")
                .and_then(|(_, rest)| rest.chars().next());
            if state.is_some_and(&wanted) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "mariadbd {} did not change state: {stat}",
                self.pid()
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

enum Ready {
    Ours,
    PortTaken,
}

impl Drop for PrivateMariaDb {
    fn drop(&mut self) {
        // SIGKILL ends a stopped process too; the data is thrown away, so no clean shutdown.
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
