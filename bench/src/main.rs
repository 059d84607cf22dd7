//! `make bench`: measures what users pick Rust on Lambda for, on this machine, and prints a
//! markdown report (also written to bench/results.md):
//! cold starts through a Lambda Runtime API (also with TLS to the database), warm latency in
//! process and over HTTP under `cargo lambda watch`, MySQL round trips per request, a burst of
//! instances against a small connection budget, peak memory, package sizes, bcrypt.
//!
//! Run it through `make bench`, which builds what it measures first.

mod burst;
mod runtime_api;
mod search;
mod tls;
mod tokens;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use api_tests::round_trips::RoundTripProxy;
use api_tests::{call, insert_user, test_app_with, test_env, token, Answer, Event, Fixture};
use mysql_async::prelude::Queryable;
use serde_json::json;
use shared::App;

use runtime_api::RuntimeApi;

const COLD_STARTS: usize = 20;
fn warm_reads() -> usize {
    if quick() {
        50
    } else {
        2000
    }
}

fn warm_writes() -> usize {
    if quick() {
        20
    } else {
        300
    }
}

/// `--quick`: a few iterations of each measurement and two functions' cold starts, to check the
/// harness itself.
fn quick() -> bool {
    std::env::args().any(|a| a == "--quick")
}
const WARM_INVOCATIONS_FOR_RSS: usize = 300;

pub(crate) struct Stats {
    p50: Duration,
    p99: Duration,
    max: Duration,
    mean: Duration,
}

pub(crate) fn stats(mut samples: Vec<Duration>) -> Stats {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    let total: Duration = samples.iter().sum();
    Stats {
        p50: at(0.5),
        p99: at(0.99),
        max: *samples.last().unwrap(),
        mean: total / samples.len() as u32,
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

pub(crate) fn us(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"))
}

/// The tests' fixture, with twenty more users so a page of the list has some weight.
async fn fixture() -> Fixture {
    let f = api_tests::fixture().await;
    for n in 0..20 {
        insert_user(&f.app, 2, &format!("+1555100{n:04}"), "some-password-1").await;
    }
    f
}

/// The event that one start (or invocation) `n` of `function` answers: a realistic, successful
/// request that needs no state from the one before.
async fn event_for(f: &Fixture, function: &str, n: usize) -> String {
    let user_id = f.user_id.to_string();
    let event = match function {
        "login" => Event::v2("login").json_body(&json!({ "cellnumber": "+15550000002", "password": "user-password-2" })),
        "logout" => Event::v2("logout").bearer(&token(&f.app, "+15550000002", "user-password-2").await),
        "get-me" => Event::v2("get-me").bearer(&f.user),
        "refresh-token" => {
            let grant = api_tests::login(&f.app, "+15550000002", "user-password-2").await;
            Event::v2("refresh-token").json_body(&json!({ "refreshToken": grant.body["refreshToken"] }))
        }
        "list-sessions" => Event::v2("list-sessions").bearer(&f.admin),
        "change-password" => Event::v2("change-password")
            .bearer(&f.user)
            .json_body(&json!({ "currentPassword": "not-the-password", "newPassword": "unused-password-1" })),
        "create-user" => Event::v2("create-user").bearer(&f.admin).json_body(&json!({
            "name": "Bench", "cellnumber": unique_cellnumber("+16", n), "password": "bench-password-1"
        })),
        "list-users" => Event::v2("list-users").bearer(&f.admin),
        "get-user" => Event::v2("get-user").bearer(&f.admin).path_param("id", &user_id),
        "update-user" => Event::v2("update-user")
            .bearer(&f.admin)
            .path_param("id", &user_id)
            .json_body(&json!({ "name": format!("Renamed {n}") })),
        "delete-user" => {
            let victim = insert_user(&f.app, 2, &unique_cellnumber("+17", n), "victim-password").await;
            Event::v2("delete-user").bearer(&f.admin).path_param("id", &victim.to_string())
        }
        "update-me" => Event::v2("update-me")
            .bearer(&f.user)
            .json_body(&json!({ "name": format!("Myself {n}") })),
        "list-audit" => Event::v2("list-audit").bearer(&f.admin),
        "docs" => Event::v2("docs"),
        "migrate" => return json!({ "action": "migrate" }).to_string(),
        other => panic!("no event for {other}"),
    };
    event.to_json()
}

/// A cellnumber no other request of this run uses.
fn unique_cellnumber(prefix: &str, n: usize) -> String {
    format!(
        "{prefix}{:03}{:08}",
        std::process::id() % 1000,
        n % 100_000_000
    )
}

/// Events of the cold-start runs are numbered apart from the in-process ones.
const COLD_START_EVENTS: usize = 50_000_000;
/// And those of the in-process runs in proxy mode apart from the direct ones.
const PROXY_MODE_EVENTS: usize = 20_000_000;

struct ColdStart {
    function: String,
    init: Stats,
    first_response: Stats,
    peak_rss_kib: u64,
    warm_via_runtime: Stats,
}

/// Spawns the release binary `COLD_STARTS` times against a fresh runtime API each, timing spawn
/// to first response; the last instance then serves more events for its peak memory.
async fn cold_starts(f: &Fixture, function: &str, binary: &Path) -> ColdStart {
    let mut inits = Vec::new();
    let mut firsts = Vec::new();
    let mut warm = Vec::new();
    let mut peak_rss_kib = 0;
    for start in 0..COLD_STARTS {
        let mut api = RuntimeApi::start().await;
        api.push(event_for(f, function, COLD_START_EVENTS + start).await);
        let spawned = Instant::now();
        let mut env = test_env(&f.db);
        env.push(("RUST_LOG", "info".to_owned()));
        let mut child = runtime_api::lambda_process(binary, &api, function, env)
            .spawn()
            .expect("the release binary runs");
        let (answered, body) = api.response().await;
        let text = String::from_utf8_lossy(&body);
        assert!(!text.contains("\"statusCode\":5"), "{function}: {text}");
        firsts.push(answered - spawned);
        inits.push(api.first_next().unwrap_or(answered) - spawned);
        if start == COLD_STARTS - 1 {
            for n in 0..WARM_INVOCATIONS_FOR_RSS {
                let event = event_for(f, function, COLD_START_EVENTS + COLD_STARTS + n).await;
                tokio::task::yield_now().await;
                let sent = Instant::now();
                api.push(event);
                let (answered, _) = api.response().await;
                warm.push(answered - sent);
            }
            peak_rss_kib = peak_rss(child.id().unwrap());
        }
        let _ = child.kill().await;
    }
    ColdStart {
        function: function.to_owned(),
        init: stats(inits),
        first_response: stats(firsts),
        peak_rss_kib,
        warm_via_runtime: stats(warm),
    }
}

fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// How long a new MySQL connection takes (the part of a cold start spent connecting).
async fn connect_times(url: &str) -> Stats {
    let mut samples = Vec::new();
    for _ in 0..COLD_STARTS {
        let started = Instant::now();
        let conn = mysql_async::Conn::new(
            mysql_async::OptsBuilder::from_opts(mysql_async::Opts::from_url(url).unwrap())
                .prefer_socket(false),
        )
        .await
        .unwrap();
        samples.push(started.elapsed());
        conn.disconnect().await.unwrap();
    }
    stats(samples)
}

/// One query's round trip on a warm connection with a prepared statement: the floor of any
/// request that reads the database.
async fn round_trip_times(app: &App) -> Stats {
    let mut conn = app.pool.get_conn().await.unwrap();
    let mut samples = Vec::new();
    for _ in 0..warm_reads() {
        let started = Instant::now();
        let _: Option<u8> = conn.exec_first("SELECT ?", (1u8,)).await.unwrap();
        samples.push(started.elapsed());
    }
    stats(samples)
}

/// Times `n` requests to `function`, after one warm-up; each event is made before its timing
/// starts, and the pool gets its connection back between calls, as it does between two
/// invocations of a Lambda instance.
/// `n` warm invocations of `function` on `app` (an instance of either statement mode), their
/// events numbered from `first` (so no two runs create the same user).
async fn timed(f: &Fixture, app: &App, function: &str, n: usize, first: usize) -> Stats {
    let answer = call_endpoint(f, app, function, first + 99_999).await;
    assert!(answer.status < 400, "{function}: {}", answer.body);
    let mut samples = Vec::with_capacity(n);
    for i in first..first + n {
        let event = Event::from_json(&event_for(f, function, i).await);
        tokio::task::yield_now().await;
        let started = Instant::now();
        let answer = dispatch(app, function, event).await;
        samples.push(started.elapsed());
        assert!(answer.status < 400, "{function}: {}", answer.body);
    }
    stats(samples)
}

struct Endpoint {
    route: &'static str,
    function: &'static str,
}

const ENDPOINTS: [Endpoint; 13] = [
    Endpoint {
        route: "GET /api/users/me",
        function: "get-me",
    },
    Endpoint {
        route: "POST /api/users/token/refresh",
        function: "refresh-token",
    },
    Endpoint {
        route: "GET /api/users/me/sessions",
        function: "list-sessions",
    },
    Endpoint {
        route: "GET /api/users/{id}",
        function: "get-user",
    },
    Endpoint {
        route: "GET /api/users",
        function: "list-users",
    },
    Endpoint {
        route: "PATCH /api/users/{id}",
        function: "update-user",
    },
    Endpoint {
        route: "PATCH /api/users/me",
        function: "update-me",
    },
    Endpoint {
        route: "GET /api/audit",
        function: "list-audit",
    },
    Endpoint {
        route: "POST /api/users",
        function: "create-user",
    },
    Endpoint {
        route: "DELETE /api/users/{id}",
        function: "delete-user",
    },
    Endpoint {
        route: "POST /api/users/logout",
        function: "logout",
    },
    Endpoint {
        route: "POST /api/users/login",
        function: "login",
    },
    Endpoint {
        route: "GET /api/openapi.json",
        function: "docs",
    },
];

/// A request to `function` as the in-process benchmark and the round-trip count make it.
async fn call_endpoint(f: &Fixture, app: &App, function: &str, i: usize) -> Answer {
    let event = Event::from_json(&event_for(f, function, i).await);
    dispatch(app, function, event).await
}

async fn dispatch(app: &App, function: &str, event: Event) -> Answer {
    match function {
        "get-me" => call!(get_me, app, event),
        "refresh-token" => call!(refresh_token, app, event),
        "list-sessions" => call!(list_sessions, app, event),
        "get-user" => call!(get_user, app, event),
        "list-users" => call!(list_users, app, event),
        "update-user" => call!(update_user, app, event),
        "create-user" => call!(create_user, app, event),
        "delete-user" => call!(delete_user, app, event),
        "logout" => call!(logout, app, event),
        "login" => call!(login, app, event),
        "update-me" => call!(update_me, app, event),
        "list-audit" => call!(list_audit, app, event),
        "docs" => Answer::from_response(docs::handler(event.request()).await.unwrap()),
        other => panic!("{other}"),
    }
}

async fn count_round_trips(f: &Fixture, function: &str) -> u64 {
    let upstream = api_tests::server_url()
        .rsplit('@')
        .next()
        .unwrap()
        .to_owned();
    let proxy = RoundTripProxy::start(upstream).await;
    let url = format!("mysql://root@127.0.0.1:{}/{}", proxy.port, f.db.name);
    let app = test_app_with(&f.db, &[("DATABASE_URL", &url)]);
    call_endpoint(f, &app, function, 900_000).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    proxy.reset();
    let answer = call_endpoint(f, &app, function, 900_001).await;
    assert!(answer.status < 400, "{function}: {}", answer.body);
    proxy.round_trips()
}

struct HttpLoad {
    route: &'static str,
    p50: String,
    p99: String,
    requests_per_second: String,
}

/// `wrk` at one connection (one Lambda instance serves one request at a time) against the
/// functions under `cargo lambda watch --release`.
async fn http_load(f: &Fixture) -> Option<Vec<HttpLoad>> {
    if std::process::Command::new("wrk")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("wrk is not installed: skipping the HTTP measurements (make bench installs it)");
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut watch = tokio::process::Command::new("cargo")
        .args([
            "lambda",
            "watch",
            "--release",
            "--ignore-changes",
            "-A",
            "127.0.0.1",
            "-P",
            &port.to_string(),
        ])
        .current_dir(workspace())
        .envs(test_env(&f.db))
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .process_group(0)
        .spawn()
        .ok()?;
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        if Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let routes: [(&'static str, String, &String); 4] = [
        ("GET /api/users/me", "/api/users/me".to_owned(), &f.user),
        (
            "GET /api/users/{id}",
            format!("/api/users/{}", f.user_id),
            &f.admin,
        ),
        ("GET /api/users", "/api/users".to_owned(), &f.admin),
        (
            "GET /api/openapi.json",
            "/api/openapi.json".to_owned(),
            &f.admin,
        ),
    ];
    let mut results = Vec::new();
    for (route, path, token) in routes {
        let url = format!("{base}{path}");
        let header = format!("Authorization: Bearer {token}");
        // The first request builds the function (release) and starts it: not measured.
        let _ = tokio::process::Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-m", "900", "-H", &header, &url])
            .status()
            .await;
        let output = tokio::process::Command::new("wrk")
            .args(["-t1", "-c1", "-d10s", "--latency", "-H", &header, &url])
            .output()
            .await
            .ok()?;
        let text = String::from_utf8_lossy(&output.stdout).to_string();
        let field = |prefix: &str| {
            text.lines()
                .map(str::trim)
                .find(|line| line.starts_with(prefix))
                .and_then(|line| line.split_whitespace().nth(1))
                .unwrap_or("?")
                .to_owned()
        };
        let non_2xx = text.contains("Non-2xx");
        assert!(!non_2xx, "{route} answered errors under load:\n{text}");
        results.push(HttpLoad {
            route,
            p50: field("50%"),
            p99: field("99%"),
            requests_per_second: field("Requests/sec:"),
        });
    }
    let _ = std::process::Command::new("kill")
        .args(["-TERM", "--", &format!("-{}", watch.id().unwrap_or(0))])
        .status();
    let _ = watch.kill().await;
    Some(results)
}

fn bcrypt_table(template: &str) -> (String, Vec<(u32, Duration)>) {
    let mut rows = Vec::new();
    for cost in 10..=13 {
        let mut samples = Vec::new();
        for _ in 0..3 {
            let started = Instant::now();
            bcrypt::hash("benchmark-password", cost).unwrap();
            samples.push(started.elapsed());
        }
        rows.push((cost, stats(samples).p50));
    }
    // The memory sizes template.yaml gives the functions that hash or verify.
    let mut sizes: Vec<(String, u32)> = Vec::new();
    let mut current: Option<String> = None;
    for line in template.lines() {
        if let Some(binary) = line.trim().strip_prefix("Binary: ") {
            current = Some(binary.to_owned());
        }
        if let (Some(function), Some(size)) = (&current, line.trim().strip_prefix("MemorySize: ")) {
            if let Ok(size) = size.parse() {
                sizes.push((function.clone(), size));
                current = None;
            }
        }
    }
    let mut out = String::new();
    writeln!(out, "| cost | ms per hash here |").unwrap();
    writeln!(out, "|---|---|").unwrap();
    for (cost, time) in &rows {
        writeln!(out, "| {cost} | {:.0} |", time.as_secs_f64() * 1e3).unwrap();
    }
    let cost_12 = rows.iter().find(|(c, _)| *c == 12).unwrap().1;
    writeln!(out).unwrap();
    writeln!(out, "Expected bcrypt time of one login (cost 12) at the memory sizes of template.yaml, taking this machine's core as Lambda's vCPU (a function gets one full vCPU at 1,769 MB and a proportional share below):").unwrap();
    writeln!(out).unwrap();
    writeln!(
        out,
        "| function | MemorySize | CPU share | bcrypt at cost 12 |"
    )
    .unwrap();
    writeln!(out, "|---|---|---|---|").unwrap();
    for (function, size) in sizes.iter().filter(|(f, _)| {
        [
            "login",
            "change-password",
            "create-user",
            "update-user",
            "migrate",
        ]
        .contains(&f.as_str())
    }) {
        let share = (*size as f64 / 1769.0).min(1.0);
        writeln!(
            out,
            "| {function} | {size} MB | {:.2} vCPU | {:.0} ms |",
            share,
            cost_12.as_secs_f64() * 1e3 / share
        )
        .unwrap();
    }
    (out, rows)
}

fn zip_sizes() -> String {
    let dir = target_dir().join("lambda");
    let mut rows = Vec::new();
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for entry in entries.flatten() {
            let zip = entry.path().join("bootstrap.zip");
            if let Ok(meta) = std::fs::metadata(&zip) {
                rows.push((entry.file_name().to_string_lossy().to_string(), meta.len()));
            }
        }
    }
    rows.sort();
    if rows.is_empty() {
        return "No zips under target/lambda: run `make build` (make bench does).\n".to_owned();
    }
    let mut out = String::from("| function | arm64 zip |\n|---|---|\n");
    for (function, size) in rows {
        writeln!(out, "| {function} | {:.2} MB |", size as f64 / 1e6).unwrap();
    }
    out
}

/// `--issue15`: only the search and audit sections (they need no release binaries).
fn issue15_only() -> bool {
    std::env::args().any(|a| a == "--issue15")
}

/// `--burst`: only the burst section (it needs the release binaries of get-me and create-user).
fn burst_only() -> bool {
    std::env::args().any(|a| a == "--burst")
}

/// `--tls`: only the cold starts with TLS to the database beside those without (it needs the
/// release binary of get-me).
fn tls_only() -> bool {
    std::env::args().any(|a| a == "--tls")
}

/// Which build's binaries to start: release (make bench), or debug for a quick check.
fn binaries() -> PathBuf {
    target_dir().join(std::env::var("BENCH_PROFILE").unwrap_or_else(|_| "release".into()))
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    if burst_only() {
        println!("{}", burst::burst_section(&binaries()).await);
        return;
    }
    if std::env::args().any(|a| a == "--tokens") {
        println!(
            "{}",
            tokens::tokens_section(if quick() { 50 } else { 2000 }).await
        );
        return;
    }
    if tls_only() {
        println!("{}", tls::tls_section(&binaries()).await);
        return;
    }
    if issue15_only() {
        shared::logging::init();
        let mut report = search::search_section(if quick() { 5 } else { 50 }).await;
        report.push_str(&search::audit_cost_section(warm_writes()).await);
        println!("{report}");
        return;
    }
    let only_quick = quick();
    let f = fixture().await;
    let release = binaries();
    let template = std::fs::read_to_string(workspace().join("template.yaml")).unwrap();
    let mut report = String::new();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let server_version: String = {
        let mut conn = f.app.pool.get_conn().await.unwrap();
        conn.query_first("SELECT VERSION()")
            .await
            .unwrap()
            .unwrap_or_default()
    };
    writeln!(report, "# Benchmark results\n").unwrap();
    writeln!(report, "Machine: {cpu}, {cores} cores; MySQL: MariaDB {server_version} on 127.0.0.1 (TCP). Release builds (x86_64 here; the deployed ones are arm64). Produced by `make bench`.\n").unwrap();

    // --- round trips and warm latency in process ------------------------------------------------
    let rtt = round_trip_times(&f.app).await;
    writeln!(report, "## Warm requests, in process\n").unwrap();
    writeln!(report, "Each handler called with an API Gateway (v2) event, as the runtime would, on a warm instance (pool connected, statements prepared). One MySQL round trip (`SELECT ?`, prepared) takes p50 {} here; \"beyond the database\" is the p50 less that many round trips. Writes that hash passwords use bcrypt cost 4 here (the cost itself is measured below). The last two columns are the same requests on an instance in proxy mode (`DB_PROXY=on`: text statements, values escaped into them), on the same direct connection: what the statement mode itself costs, without a proxy's hop.\n", us(rtt.p50)).unwrap();
    writeln!(
        report,
        "| endpoint | MySQL round trips | p50 | p99 | mean | beyond the database (p50) | p50, DB_PROXY=on | p99, DB_PROXY=on |"
    )
    .unwrap();
    writeln!(report, "|---|---|---|---|---|---|---|---|").unwrap();
    let proxied = api_tests::app_with(&f.db.url, &[("DB_PROXY", "on")]);
    for endpoint in ENDPOINTS {
        let trips = if endpoint.function == "docs" {
            0
        } else {
            count_round_trips(&f, endpoint.function).await
        };
        let n = if [
            "get-me",
            "list-sessions",
            "get-user",
            "list-users",
            "list-audit",
            "docs",
        ]
        .contains(&endpoint.function)
        {
            warm_reads()
        } else {
            warm_writes()
        };
        let s = timed(&f, &f.app, endpoint.function, n, 0).await;
        let text = timed(&f, &proxied, endpoint.function, n, PROXY_MODE_EVENTS).await;
        let beyond = s.p50.saturating_sub(rtt.p50 * trips as u32);
        writeln!(
            report,
            "| {} | {trips} | {} | {} | {} | {} | {} | {} |",
            endpoint.route,
            us(s.p50),
            us(s.p99),
            us(s.mean),
            us(beyond),
            us(text.p50),
            us(text.p99)
        )
        .unwrap();
        eprintln!("in process: {} done", endpoint.route);
    }

    // --- issue 15: search on 100,000 users, the audit event's cost -------------------------------
    report.push_str(&search::search_section(if only_quick { 5 } else { 50 }).await);
    report.push_str(&search::audit_cost_section(warm_writes()).await);

    // --- cold starts ---------------------------------------------------------------------------
    let connect = connect_times(&f.db.url).await;
    writeln!(report, "\n## Cold starts\n").unwrap();
    writeln!(report, "From spawning the release binary to its first response, through a minimal Lambda Runtime API in the harness, {COLD_STARTS} starts each. *Init* is spawn to the first request for an event (configuration, pool, token keys; no I/O). The first request then opens the MySQL connection: a new connection takes p50 {} here (max {}), shown apart in the last column. Peak RSS is the instance's high-water mark after {WARM_INVOCATIONS_FOR_RSS} more invocations; warm p50 is per invocation through the runtime API.\n", ms(connect.p50), ms(connect.max)).unwrap();
    writeln!(report, "| function | init p50 | first response p50 | max | first response without the MySQL connect (p50) | peak RSS | warm p50 via runtime API |").unwrap();
    writeln!(report, "|---|---|---|---|---|---|---|").unwrap();
    let functions = [
        "get-me",
        "refresh-token",
        "list-sessions",
        "get-user",
        "list-users",
        "login",
        "logout",
        "change-password",
        "create-user",
        "update-user",
        "delete-user",
        "update-me",
        "list-audit",
        "docs",
        "migrate",
    ];
    for function in functions {
        if only_quick && !["get-me", "docs"].contains(&function) {
            continue;
        }
        let binary = release.join(function);
        if !binary.exists() {
            eprintln!(
                "{} is missing: build it with `cargo build --release -p {function}`",
                binary.display()
            );
            continue;
        }
        let c = cold_starts(&f, function, &binary).await;
        let uses_db = function != "docs";
        let without_connect = if uses_db {
            c.first_response.p50.saturating_sub(connect.p50)
        } else {
            c.first_response.p50
        };
        writeln!(
            report,
            "| {} | {} | {} | {} | {} | {:.1} MB | {} |",
            c.function,
            ms(c.init.p50),
            ms(c.first_response.p50),
            ms(c.first_response.max),
            ms(without_connect),
            c.peak_rss_kib as f64 / 1024.0,
            us(c.warm_via_runtime.p50)
        )
        .unwrap();
        eprintln!("cold starts: {function} done");
    }

    report.push_str(&tls::tls_section(&release).await);

    // --- a burst of instances against a small connection budget ------------------------------
    report.push_str(&burst::burst_section(&release).await);

    // --- over HTTP -------------------------------------------------------------------------------
    if !only_quick {
        writeln!(
            report,
            "\n## Warm requests over HTTP under `cargo lambda watch --release`\n"
        )
        .unwrap();
        writeln!(report, "`wrk -t1 -c1 -d10s --latency` (concurrency 1: a Lambda instance serves one request at a time). This includes cargo-lambda's emulator, which turns each request into an invocation through its own runtime API, so it is an upper bound for the function's share.\n").unwrap();
        match http_load(&f).await {
            Some(rows) => {
                writeln!(report, "| endpoint | p50 | p99 | requests/s |").unwrap();
                writeln!(report, "|---|---|---|---|").unwrap();
                for row in rows {
                    writeln!(
                        report,
                        "| {} | {} | {} | {} |",
                        row.route, row.p50, row.p99, row.requests_per_second
                    )
                    .unwrap();
                }
            }
            None => writeln!(
                report,
                "Not measured: `cargo lambda watch` or `wrk` was not available."
            )
            .unwrap(),
        }
    }

    // --- sizes and bcrypt ------------------------------------------------------------------------
    writeln!(
        report,
        "\n## Deployment packages (`cargo lambda build --release --arm64 --output-format zip`)\n"
    )
    .unwrap();
    write!(report, "{}", zip_sizes()).unwrap();
    writeln!(report, "\n## bcrypt\n").unwrap();
    let (bcrypt, _) = bcrypt_table(&template);
    write!(report, "{bcrypt}").unwrap();

    println!("{report}");
    let out = workspace().join("bench").join("results.md");
    std::fs::write(&out, &report).unwrap();
    eprintln!("written to {}", out.display());
}
