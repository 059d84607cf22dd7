//! Cold starts with TLS to the database (`--tls`): the release binary of get-me started against a
//! private MariaDB that offers TLS with a certificate of a CA made here, once with `DB_TLS=off`
//! and once with `DB_TLS=on` and that CA (`DB_TLS_CA`), so the two differ only by the handshake
//! and the verification of the chain.

use std::path::Path;
use std::time::{Duration, Instant};

use api_tests::mariadb::PrivateMariaDb;
use api_tests::tls::CertDir;
use api_tests::{app_with, insert_user, test_env_for, token, Event, USER_CELL, USER_PASS};
use mysql_async::prelude::Queryable;
use shared::app::config::{DatabaseTls, TrustedCa};

use crate::cold_start::COLD_STARTS;
use crate::runtime_api::{self, RuntimeApi};
use crate::stats::{stats, Stats};

const DATABASE: &str = "bench_tls";
pub const FUNCTION: &str = "get-me";

/// What one row measures: spawn to the first request for an event, and to the first response.
#[derive(Default)]
struct Starts {
    inits: Vec<Duration>,
    first_responses: Vec<Duration>,
}

impl Starts {
    fn add(&mut self, (init, first_response): (Duration, Duration)) {
        self.inits.push(init);
        self.first_responses.push(first_response);
    }

    fn stats(self) -> StartStats {
        StartStats {
            init: stats(self.inits),
            first_response: stats(self.first_responses),
        }
    }
}

pub struct StartStats {
    pub init: Stats,
    pub first_response: Stats,
}

pub struct TlsStarts {
    /// The TLS version and cipher the connections negotiate.
    pub version: String,
    pub cipher: String,
    /// Opening a connection alone, without TLS and with it.
    pub plain_connect: Stats,
    pub tls_connect: Stats,
    pub plain: StartStats,
    pub tls: StartStats,
}

/// `Err` names the binary that is missing from `binaries`.
pub async fn measure(binaries: &Path) -> Result<TlsStarts, String> {
    let binary = binaries.join(FUNCTION);
    if !binary.exists() {
        return Err(binary.display().to_string());
    }
    let certs = CertDir::new();
    let ca = certs.ca("bench");
    let options = certs
        .server(&ca, "server", &["IP:127.0.0.1", "DNS:localhost"])
        .server_options();
    let options: Vec<&str> = options.iter().map(String::as_str).collect();
    let server = PrivateMariaDb::start_with(&options).await;
    let url = server.database_url(DATABASE);
    shared::db::prepare(&url, DatabaseTls::Off).await.unwrap();
    let setup = app_with(&url, &[]);
    insert_user(&setup, 2, USER_CELL, USER_PASS).await;
    let event = Event::v2(FUNCTION)
        .bearer(&token(&setup, USER_CELL, USER_PASS).await)
        .to_json();
    drop(setup);

    let trusted = DatabaseTls::PrivateCa(TrustedCa::read(ca.certificate_path()).unwrap());
    let (version, cipher) = negotiated(&url, trusted.clone()).await;
    let plain_connect = connect_times(&url, DatabaseTls::Off).await;
    let tls_connect = connect_times(&url, trusted).await;
    let ca_path = ca.certificate_path().to_owned();
    let plain_env = [("DB_TLS", "off")];
    let tls_env = [("DB_TLS", "on"), ("DB_TLS_CA", ca_path.as_str())];
    // Alternated, so a busy moment of the machine weighs on both rows alike.
    let (mut plain, mut tls) = (Starts::default(), Starts::default());
    for _ in 0..COLD_STARTS {
        plain.add(cold_start(&binary, &event, &url, &plain_env).await);
        tls.add(cold_start(&binary, &event, &url, &tls_env).await);
    }
    Ok(TlsStarts {
        version,
        cipher,
        plain_connect,
        tls_connect,
        plain: plain.stats(),
        tls: tls.stats(),
    })
}

/// Spawns `binary` with the database settings `tls_env` against a fresh runtime API holding
/// `event`; returns spawn to its first request for an event, and to its response (a success).
async fn cold_start(
    binary: &Path,
    event: &str,
    url: &str,
    tls_env: &[(&'static str, &str)],
) -> (Duration, Duration) {
    let mut api = RuntimeApi::start().await;
    api.push(event.to_owned());
    let mut env = test_env_for(url);
    env.extend(
        tls_env
            .iter()
            .map(|(name, value)| (*name, value.to_string())),
    );
    let spawned = Instant::now();
    let mut child = runtime_api::lambda_process(binary, &api, FUNCTION, env)
        .spawn()
        .expect("the binary runs");
    let (answered, body) = api.response().await;
    let text = String::from_utf8_lossy(&body);
    assert!(text.contains("\"statusCode\":200"), "{FUNCTION}: {text}");
    let _ = child.kill().await;
    (
        api.first_next().unwrap_or(answered) - spawned,
        answered - spawned,
    )
}

/// The TLS version and cipher a verified connection negotiates.
async fn negotiated(url: &str, tls: DatabaseTls) -> (String, String) {
    let opts = mysql_async::Opts::from_url(url).unwrap();
    let mut conn = shared::db::connect_server(opts, tls).await.unwrap();
    let rows: Vec<(String, String)> = conn
        .query("SHOW SESSION STATUS WHERE Variable_name IN ('Ssl_version', 'Ssl_cipher')")
        .await
        .unwrap();
    conn.disconnect().await.unwrap();
    let value = |name: &str| {
        rows.iter()
            .find(|(variable, _)| variable == name)
            .map(|(_, value)| value.clone())
            .unwrap_or_default()
    };
    (value("Ssl_version"), value("Ssl_cipher"))
}

/// How long opening a connection takes (disconnecting is not counted).
async fn connect_times(url: &str, tls: DatabaseTls) -> Stats {
    let opts = mysql_async::Opts::from_url(url).unwrap();
    let mut samples: Vec<Duration> = Vec::new();
    for _ in 0..COLD_STARTS {
        let started = Instant::now();
        let conn = shared::db::connect_server(opts.clone(), tls.clone())
            .await
            .unwrap();
        samples.push(started.elapsed());
        conn.disconnect().await.unwrap();
    }
    stats(samples)
}
