//! The API served the way `make serve` serves it: every function under `cargo lambda watch`,
//! reached over real HTTP on the real paths.

use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub struct Served {
    child: Child,
    pub base: String,
    pub log: PathBuf,
    agent: ureq::Agent,
}

pub struct HttpAnswer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl HttpAnswer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A loopback port nothing listens on, never one this process was given before: a server of
/// one test that is down for a while (killed, restarting) leaves its port free, and another test
/// given the same port would start its server there and answer the first test's clients.
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

/// What cargo sets for a test binary about its own package. A cargo started by the test would
/// pass them on to build scripts, and ring's tracks them: it, rustls and everything above would
/// be rebuilt every time a `cargo` run from a shell and one from a test take turns.
fn cargo_test_vars() -> Vec<String> {
    std::env::vars_os()
        .filter_map(|(name, _)| name.into_string().ok())
        .filter(|name| {
            name.starts_with("CARGO_PKG_")
                || name.starts_with("CARGO_BIN_EXE_")
                || [
                    "CARGO_MANIFEST_DIR",
                    "CARGO_MANIFEST_PATH",
                    "CARGO_CRATE_NAME",
                    "CARGO_PRIMARY_PACKAGE",
                    "CARGO_TARGET_TMPDIR",
                ]
                .contains(&name.as_str())
        })
        .collect()
}

pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

impl Served {
    /// Starts `cargo lambda watch` with `env` on a free loopback port and waits until it listens.
    pub fn start(env: &[(&'static str, String)]) -> Self {
        Self::start_with_instances(env, 1)
    }

    /// [`Served::start`] with up to `instances` instances of each function, as `make serve`
    /// (`CONCURRENCY`) and Lambda under parallel load run them.
    pub fn start_with_instances(env: &[(&'static str, String)], instances: usize) -> Self {
        let port = free_port();
        let log = std::env::temp_dir().join(format!("users-api-watch-{port}.log"));
        let out = File::create(&log).unwrap();
        let mut command = Command::new("cargo");
        command
            .args([
                "lambda",
                "watch",
                "--ignore-changes",
                "-A",
                "127.0.0.1",
                "-P",
                &port.to_string(),
                "--concurrency",
                &instances.to_string(),
            ])
            .current_dir(workspace_root())
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .env("LOG_FORMAT", "json")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        for name in cargo_test_vars() {
            command.env_remove(name);
        }
        Self::spawn(
            command,
            port,
            log,
            "cargo lambda is not installed: run the tests with `make test`, which installs it",
        )
    }

    /// Spawns `command`, a server of the API that listens on `port` and writes to `log`, in a
    /// process group of its own, and waits until it listens.
    pub fn spawn(mut command: Command, port: u16, log: PathBuf, missing: &str) -> Self {
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt;
            // Its own process group, so stopping it stops the functions it spawned too.
            command.process_group(0);
        }
        let mut child = command.spawn().expect(missing);
        let deadline = Instant::now() + Duration::from_secs(180);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            let exited = child.try_wait().ok().flatten();
            assert!(
                Instant::now() < deadline && exited.is_none(),
                "{:?} did not listen on {port} ({exited:?}); log: {}",
                command.get_program(),
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            // watch holds the first request to each function while it compiles the function.
            .timeout_global(Some(Duration::from_secs(300)))
            .build()
            .into();
        Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
            agent,
        }
    }

    /// One HTTP request; `body` is sent as JSON when given.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> HttpAnswer {
        let body = body.map(|body| ("application/json", body.to_string().into_bytes()));
        self.call_raw(method, path, token, body)
    }

    /// One HTTP request with a body of any content type.
    pub fn call_raw(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, Vec<u8>)>,
    ) -> HttpAnswer {
        let url = format!("{}{path}", self.base);
        let mut request = ureq::http::Request::builder().method(method).uri(&url);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let response = match body {
            Some((content_type, bytes)) => self.agent.run(
                request
                    .header("content-type", content_type)
                    .body(bytes)
                    .unwrap(),
            ),
            None => self.agent.run(request.body(()).unwrap()),
        }
        .unwrap_or_else(|error| panic!("{method} {url}: {error}"));
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        let text = response.into_body().read_to_string().unwrap_or_default();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        HttpAnswer {
            status,
            headers,
            body,
        }
    }

    /// `POST /api/users/login` with a cellnumber and password.
    pub fn login(&self, cellnumber: &str, password: &str) -> HttpAnswer {
        let body = serde_json::json!({ "cellnumber": cellnumber, "password": password });
        self.call("POST", "/api/users/login", None, Some(&body))
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        // SIGINT: what Ctrl-C sends; SAM stops its containers on it, cargo lambda watch exits.
        let _ = Command::new("kill").args(["-INT", "--", &group]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
    }
}
