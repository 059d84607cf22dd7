//! A local Secrets Manager: moto's server on a loopback port of its own, stopped when dropped.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Moto {
    pub fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "moto_server is not installed: run the tests with `make test`, which installs it",
            );
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto_server did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Lambda's environment for the AWS SDK, pointed at this server: dummy credentials, a region.
    ///
    /// # Safety
    /// Sets process environment variables: call it only from a test binary whose other threads
    /// do not read the environment meanwhile (one test per binary).
    pub unsafe fn set_aws_environment(&self) {
        for (name, value) in [
            ("AWS_ENDPOINT_URL", self.endpoint.as_str()),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", "eu-west-1"),
        ] {
            // SAFETY: the caller's.
            unsafe { std::env::set_var(name, value) };
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `(host, port)` of the shared test server, for `DB_HOST` and `DB_PORT`.
pub fn test_server_address() -> (String, String) {
    let server = crate::server_url();
    let address = server.rsplit('@').next().unwrap().to_owned();
    let (host, port) = address.split_once(':').unwrap_or((&address, "3306"));
    (host.to_owned(), port.to_owned())
}
