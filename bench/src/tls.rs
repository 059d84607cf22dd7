//! Cold starts with TLS to the database (`--tls`): the release binary of get-me started against a
//! private MariaDB that offers TLS with a certificate of a CA made here, once with `DB_TLS=off`
//! and once with `DB_TLS=on` and that CA (`DB_TLS_CA`), so the two differ only by the handshake
//! and the verification of the chain.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use api_tests::mariadb::PrivateMariaDb;
use api_tests::tls::CertDir;
use api_tests::{app_with, insert_user, test_env_for, token, Event, USER_CELL, USER_PASS};
use shared::config::{DatabaseTls, TrustedCa};

use crate::runtime_api::{self, RuntimeApi};
use crate::{ms, stats, Stats, COLD_STARTS};

const DATABASE: &str = "bench_tls";
const FUNCTION: &str = "get-me";

/// What one row measures: spawn to the first request for an event, and to the first response.
struct Starts {
    init: Stats,
    first_response: Stats,
}

pub async fn tls_section(binaries: &Path) -> String {
    let mut out = String::new();
    writeln!(out, "\n## Cold starts with TLS to the database\n").unwrap();
    let binary = binaries.join(FUNCTION);
    if !binary.exists() {
        writeln!(
            out,
            "Not measured: {} is missing (`cargo build --release -p {FUNCTION}`).",
            binary.display()
        )
        .unwrap();
        return out;
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
    let plain_connect = connect_times(&url, DatabaseTls::Off).await;
    let tls_connect = connect_times(&url, trusted).await;
    let ca_path = ca.certificate_path().to_owned();
    let plain = cold_starts(&binary, &event, &url, &[("DB_TLS", "off")]).await;
    let tls = cold_starts(
        &binary,
        &event,
        &url,
        &[("DB_TLS", "on"), ("DB_TLS_CA", &ca_path)],
    )
    .await;

    writeln!(out, "The release binary of {FUNCTION}, {COLD_STARTS} starts each, against one private MariaDB that offers TLS (TLS 1.3 with the server's OpenSSL; an RSA 2048 certificate from a CA made by the harness, as RDS's default CA): plain TCP, then `DB_TLS=on` with `DB_TLS_CA` naming that CA (read and checked at init). A new connection alone takes p50 {} in plain TCP and {} with TLS (max {} and {}).\n", ms(plain_connect.p50), ms(tls_connect.p50), ms(plain_connect.max), ms(tls_connect.max)).unwrap();
    writeln!(
        out,
        "| {FUNCTION} | init p50 | first response p50 | first response p99 | max |"
    )
    .unwrap();
    writeln!(out, "|---|---|---|---|---|").unwrap();
    for (label, starts) in [
        ("plain TCP (`DB_TLS=off`)", &plain),
        ("TLS (`DB_TLS=on`, `DB_TLS_CA`)", &tls),
    ] {
        writeln!(
            out,
            "| {label} | {} | {} | {} | {} |",
            ms(starts.init.p50),
            ms(starts.first_response.p50),
            ms(starts.first_response.p99),
            ms(starts.first_response.max)
        )
        .unwrap();
    }
    writeln!(
        out,
        "\nWhat TLS adds to the first response (p50): {}.",
        ms(tls
            .first_response
            .p50
            .saturating_sub(plain.first_response.p50))
    )
    .unwrap();
    out
}

/// Spawns `binary` `COLD_STARTS` times with the database settings `tls_env`, each against a
/// fresh runtime API holding `event`; every first response must be a success.
async fn cold_starts(
    binary: &Path,
    event: &str,
    url: &str,
    tls_env: &[(&'static str, &str)],
) -> Starts {
    let mut inits = Vec::new();
    let mut firsts = Vec::new();
    for _ in 0..COLD_STARTS {
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
            .expect("the release binary runs");
        let (answered, body) = api.response().await;
        let text = String::from_utf8_lossy(&body);
        assert!(text.contains("\"statusCode\":200"), "{FUNCTION}: {text}");
        firsts.push(answered - spawned);
        inits.push(api.first_next().unwrap_or(answered) - spawned);
        let _ = child.kill().await;
    }
    Starts {
        init: stats(inits),
        first_response: stats(firsts),
    }
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
