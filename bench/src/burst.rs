//! The burst scenario (`--burst`): many instances of the real function binaries start at once
//! against a MariaDB whose connection budget is smaller than the burst, as a traffic spike does
//! to a small RDS instance. It shows what the instances beyond the budget answer (503 fast, not
//! 500 and not a hang), that no acknowledged write is lost, and what the statement mode
//! (`DB_PROXY`) costs.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use serde_json::{json, Value};

use crate::private_mariadb::PrivateMariaDb;
use crate::runtime_api::{Posted, RuntimeApi};
use crate::{ms, stats};

/// Below the largest burst, so that round shows what happens beyond the budget.
const MAX_CONNECTIONS: u32 = 40;
const INSTANCES: [usize; 3] = [8, 32, 96];
const MODES: [(&str, &str); 2] = [("off", "direct"), ("on", "proxy mode")];
/// The functions' default is 5000 ms; a shorter bound makes a request stuck behind the database
/// show as a 503 within the round rather than as a slow tail.
const REQUEST_TIMEOUT_MS: &str = "1000";
/// A round waits this long for its last response; what has not come by then counts as hung.
const ROUND_DEADLINE: Duration = Duration::from_secs(60);
const READY_WITHIN: Duration = Duration::from_secs(60);
const DATABASE: &str = "burst";

fn requests_per_instance() -> usize {
    if crate::quick() {
        3
    } else {
        20
    }
}

/// What the rounds share: the server, its seeded database and the events' tokens.
struct Setup {
    server: PrivateMariaDb,
    database_url: String,
    get_me: PathBuf,
    create_user: PathBuf,
    user_token: String,
    admin_token: String,
}

/// The responses of one function during a round.
#[derive(Default)]
struct Tally {
    latencies: Vec<Duration>,
    success_latencies: Vec<Duration>,
    unavailable_latencies: Vec<Duration>,
    success: usize,
    unavailable: usize,
    /// 503s a client could not know when to retry (error.rs promises Retry-After on every one).
    unavailable_without_retry_after: usize,
    other: usize,
    /// The first response that was neither a success nor a 503, for the log.
    first_other: Option<String>,
    last_arrival: Option<Instant>,
}

impl Tally {
    fn count(&mut self, posted: Posted) {
        let latency = posted
            .handed_out
            .map(|handed_out| posted.arrived - handed_out);
        self.latencies.extend(latency);
        self.last_arrival = Some(posted.arrived);
        let response: Value = serde_json::from_slice(&posted.body).unwrap_or_default();
        // An invocation error (`/error`) has no statusCode: it counts as "other".
        match response["statusCode"].as_u64() {
            Some(200..=299) => {
                self.success += 1;
                self.success_latencies.extend(latency);
            }
            Some(503) => {
                self.unavailable += 1;
                self.unavailable_latencies.extend(latency);
                if response["headers"]["retry-after"].is_null() {
                    self.unavailable_without_retry_after += 1;
                }
            }
            _ => {
                self.other += 1;
                self.first_other
                    .get_or_insert_with(|| String::from_utf8_lossy(&posted.body).into_owned());
            }
        }
    }

    fn answered(&self) -> usize {
        self.success + self.unavailable + self.other
    }
}

struct Round {
    mode: &'static str,
    instances: usize,
    requests: usize,
    hung: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
    success_latencies: Vec<Duration>,
    unavailable_latencies: Vec<Duration>,
    success: usize,
    unavailable: usize,
    unavailable_without_retry_after: usize,
    other: usize,
    server: ServerStatus,
    /// This machine's count of connections dropped because a listen queue was full.
    listen_overflows: u64,
    acknowledged_writes: usize,
    rows_found: u64,
}

/// The server's own account of a round (counters since the `FLUSH STATUS` before it).
#[derive(Default)]
struct ServerStatus {
    max_used_connections: u64,
    /// Connections refused for `max_connections` ("Too many connections", 1040).
    refused_for_max_connections: u64,
    aborted_connects: u64,
}

/// The markdown section; `binaries` is the directory of the release builds.
pub async fn burst_section(binaries: &Path) -> String {
    let mut out = String::from("\n## Burst: many instances, a small connection budget\n\n");
    let get_me = binaries.join("get-me");
    let create_user = binaries.join("create-user");
    if !get_me.exists() || !create_user.exists() {
        writeln!(out, "Not measured: build the functions first (`cargo build --release -p get-me -p create-user`).").unwrap();
        return out;
    }
    let setup = set_up(get_me, create_user).await;
    let mut rounds = Vec::new();
    for (number, &instances) in INSTANCES.iter().enumerate() {
        for (index, &(mode, _)) in MODES.iter().enumerate() {
            let round = run_round(&setup, mode, instances, number * MODES.len() + index).await;
            eprintln!(
                "burst: {instances} instances, DB_PROXY={mode}: {} requests",
                round.requests
            );
            rounds.push(round);
        }
    }
    write_report(&mut out, &rounds);
    out
}

/// Starts the server, migrates its database, seeds users and signs two of them in.
async fn set_up(get_me: PathBuf, create_user: PathBuf) -> Setup {
    let server = PrivateMariaDb::start(MAX_CONNECTIONS).await;
    let database_url = server.database_url(DATABASE);
    shared::db::prepare(&database_url, shared::config::DatabaseTls::Off)
        .await
        .expect("the burst database migrates");
    let app = api_tests::app_with(&database_url, &[]);
    api_tests::insert_user(&app, 1, api_tests::ADMIN_CELL, api_tests::ADMIN_PASS).await;
    api_tests::insert_user(&app, 2, api_tests::USER_CELL, api_tests::USER_PASS).await;
    for n in 0..20 {
        api_tests::insert_user(&app, 2, &format!("+1555100{n:04}"), "some-password-1").await;
    }
    let admin_token = api_tests::token(&app, api_tests::ADMIN_CELL, api_tests::ADMIN_PASS).await;
    let user_token = api_tests::token(&app, api_tests::USER_CELL, api_tests::USER_PASS).await;
    Setup {
        server,
        database_url,
        get_me,
        create_user,
        user_token,
        admin_token,
    }
}

/// One round: `instances` processes (half get-me, half create-user) start, all become ready,
/// then every one of them has `requests_per_instance` events queued for it at once.
async fn run_round(setup: &Setup, mode: &'static str, instances: usize, round: usize) -> Round {
    let before = reset_status(&setup.server.url()).await;
    let overflows_before = listen_overflows();
    let writers = instances / 2;
    let readers = instances - writers;
    // One queue per function, every instance of it polling: an instance refused a connection
    // answers fast and takes the next event, as a free Lambda instance would.
    let mut reads = RuntimeApi::start().await;
    let mut writes = RuntimeApi::start().await;
    let mut children = Vec::with_capacity(instances);
    for _ in 0..readers {
        children.push(spawn_instance(setup, &setup.get_me, &reads, mode));
    }
    for _ in 0..writers {
        children.push(spawn_instance(setup, &setup.create_user, &writes, mode));
    }
    let ready_by = Instant::now() + READY_WITHIN;
    while (reads.polls() < readers || writes.polls() < writers) && Instant::now() < ready_by {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let per_instance = requests_per_instance();
    let read_event = api_tests::Event::v2("get-me")
        .bearer(&setup.user_token)
        .to_json();
    // A cellnumber prefix of the round's own, to count its rows afterwards.
    let prefix = format!("+19{round:02}");
    let write_events: Vec<String> = (0..writers * per_instance)
        .map(|n| create_user_event(&setup.admin_token, &format!("{prefix}{n:07}")))
        .collect();
    let read_count = readers * per_instance;
    let started = Instant::now();
    for _ in 0..read_count {
        reads.push(read_event.clone());
    }
    for event in write_events {
        writes.push(event);
    }
    let deadline = started + ROUND_DEADLINE;
    let (read_tally, write_tally) = tokio::join!(
        collect(&mut reads, read_count, deadline),
        collect(&mut writes, writers * per_instance, deadline)
    );
    for child in &mut children {
        let _ = child.start_kill();
    }
    for child in &mut children {
        let _ = child.wait().await;
    }

    let after = read_status(&setup.server.url()).await;
    let rows_found = count_rows(&setup.database_url, &prefix).await;
    let last = [read_tally.last_arrival, write_tally.last_arrival]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(started);
    for tally in [&read_tally, &write_tally] {
        if let Some(body) = &tally.first_other {
            eprintln!("burst: {instances} instances, DB_PROXY={mode}: unexpected answer {body}");
        }
    }
    let requests = read_count + writers * per_instance;
    let hung = requests - read_tally.answered() - write_tally.answered();
    Round {
        mode,
        instances,
        requests,
        hung,
        elapsed: last - started,
        latencies: [read_tally.latencies, write_tally.latencies].concat(),
        success_latencies: [read_tally.success_latencies, write_tally.success_latencies].concat(),
        unavailable_latencies: [
            read_tally.unavailable_latencies,
            write_tally.unavailable_latencies,
        ]
        .concat(),
        success: read_tally.success + write_tally.success,
        unavailable: read_tally.unavailable + write_tally.unavailable,
        unavailable_without_retry_after: read_tally.unavailable_without_retry_after
            + write_tally.unavailable_without_retry_after,
        listen_overflows: listen_overflows().saturating_sub(overflows_before),
        other: read_tally.other + write_tally.other,
        server: ServerStatus {
            max_used_connections: after.max_used_connections,
            refused_for_max_connections: after
                .refused_for_max_connections
                .saturating_sub(before.refused_for_max_connections),
            aborted_connects: after
                .aborted_connects
                .saturating_sub(before.aborted_connects),
        },
        // create-user answers 201 and nothing else in 2xx.
        acknowledged_writes: write_tally.success,
        rows_found,
    }
}

fn create_user_event(admin_token: &str, cellnumber: &str) -> String {
    api_tests::Event::v2("create-user")
        .bearer(admin_token)
        .json_body(
            &json!({ "name": "Burst", "cellnumber": cellnumber, "password": "burst-password-1" }),
        )
        .to_json()
}

/// One instance of a release binary, configured as the cold-start section configures them.
fn spawn_instance(
    setup: &Setup,
    binary: &Path,
    api: &RuntimeApi,
    mode: &str,
) -> tokio::process::Child {
    tokio::process::Command::new(binary)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", &api.address)
        .env("AWS_LAMBDA_FUNCTION_NAME", "burst")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .envs(api_tests::test_env_for(&setup.database_url))
        .env("DB_PROXY", mode)
        .env("REQUEST_TIMEOUT_MS", REQUEST_TIMEOUT_MS)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the release binary runs")
}

/// Takes up to `expected` responses from `api` until `deadline`.
async fn collect(api: &mut RuntimeApi, expected: usize, deadline: Instant) -> Tally {
    let mut tally = Tally::default();
    while tally.answered() < expected {
        let left = deadline.saturating_duration_since(Instant::now());
        match api.posted(left).await {
            Some(posted) => tally.count(posted),
            None => break,
        }
    }
    tally
}

/// `TcpExt: ListenOverflows` of /proc/net/netstat: connection attempts the kernel dropped because
/// the listening socket's accept queue was full (the client's SYN is retried after 1 s). It counts
/// for the whole network namespace, so other work on the machine may add to it.
fn listen_overflows() -> u64 {
    let netstat = std::fs::read_to_string("/proc/net/netstat").unwrap_or_default();
    let mut tcp_ext = netstat.lines().filter(|line| line.starts_with("TcpExt:"));
    let (Some(names), Some(values)) = (tcp_ext.next(), tcp_ext.next()) else {
        return 0;
    };
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(name, _)| *name == "ListenOverflows")
        .and_then(|(_, value)| value.parse().ok())
        .unwrap_or(0)
}

/// A connection of the bench's own to the server. Right after a round the server may still be
/// closing the killed instances' sessions and refuse it, so it is retried for a while.
async fn monitor(server_url: &str) -> mysql_async::Conn {
    let opts = mysql_async::Opts::from_url(server_url).unwrap();
    let give_up = Instant::now() + Duration::from_secs(10);
    loop {
        match mysql_async::Conn::new(opts.clone()).await {
            Ok(conn) => return conn,
            Err(error) if Instant::now() > give_up => {
                panic!("cannot reach the burst server: {error}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Waits until the previous round's sessions are gone, then resets `Max_used_connections` to
/// the sessions open now (this one); returns the counters as they are after the reset.
async fn reset_status(server_url: &str) -> ServerStatus {
    let mut conn = monitor(server_url).await;
    let give_up = Instant::now() + Duration::from_secs(10);
    while status_value(&mut conn, "Threads_connected").await > 1 && Instant::now() < give_up {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    conn.query_drop("FLUSH STATUS").await.unwrap();
    let status = server_status(&mut conn).await;
    let _ = conn.disconnect().await;
    status
}

async fn read_status(server_url: &str) -> ServerStatus {
    let mut conn = monitor(server_url).await;
    let status = server_status(&mut conn).await;
    let _ = conn.disconnect().await;
    status
}

async fn server_status(conn: &mut mysql_async::Conn) -> ServerStatus {
    ServerStatus {
        max_used_connections: status_value(conn, "Max_used_connections").await,
        refused_for_max_connections: status_value(conn, "Connection_errors_max_connections").await,
        aborted_connects: status_value(conn, "Aborted_connects").await,
    }
}

async fn status_value(conn: &mut mysql_async::Conn, name: &str) -> u64 {
    let row: Option<(String, String)> = conn
        .exec_first("SHOW GLOBAL STATUS WHERE Variable_name = ?", (name,))
        .await
        .unwrap();
    row.and_then(|(_, value)| value.parse().ok()).unwrap_or(0)
}

async fn count_rows(database_url: &str, cellnumber_prefix: &str) -> u64 {
    let mut conn = monitor(database_url).await;
    let rows: Option<u64> = conn
        .exec_first(
            "SELECT COUNT(*) FROM users WHERE cellnumber LIKE CONCAT(?, '%')",
            (cellnumber_prefix,),
        )
        .await
        .unwrap();
    let _ = conn.disconnect().await;
    rows.unwrap_or(0)
}

fn write_report(out: &mut String, rounds: &[Round]) {
    let per_instance = requests_per_instance();
    writeln!(out, "A MariaDB of the bench's own with `max_connections = {MAX_CONNECTIONS}`, {INSTANCES:?} instances of the release binaries started at once (half `get-me`, reading `GET /api/users/me`; half `create-user`, writing `POST /api/users`), each polling one Runtime API queue per function; once all are ready, {per_instance} events per instance are queued at once. Latency is from the event handed to an instance to its response posted; the first request of each instance opens its MySQL connection. `REQUEST_TIMEOUT_MS={REQUEST_TIMEOUT_MS}`, bcrypt cost 4. *Max connections used* is the server's `Max_used_connections` (after a `FLUSH STATUS` before each round, so it counts the bench's own session too); *refused* is `Connection_errors_max_connections`. *Rows found* are the users the round's creates left in the table: equal to the acknowledged (201) creates when no acknowledged write is lost and no refused one was half-done.\n").unwrap();
    writeln!(out, "There is no RDS Proxy here: `DB_PROXY=on` only switches the functions to text statements (what they send behind a proxy) on the same direct connections, so both modes meet the same budget. The table shows what a small connection budget does to a burst in direct mode, and that proxy mode's statements cost nothing in latency; behind a real proxy, sessions beyond the database's budget would wait for a pooled connection instead of being refused.\n").unwrap();
    writeln!(out, "| mode | instances | requests | req/s | p50 | p99 | max | 2xx | 503 | other | max connections used (refused) | acknowledged writes | rows found |").unwrap();
    writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|---|---|").unwrap();
    for round in rounds {
        let label = MODES
            .iter()
            .find(|(mode, _)| *mode == round.mode)
            .unwrap()
            .1;
        let answered = round.requests - round.hung;
        let (p50, p99, max) = if round.latencies.is_empty() {
            ("-".to_owned(), "-".to_owned(), "-".to_owned())
        } else {
            let s = stats(round.latencies.clone());
            (ms(s.p50), ms(s.p99), ms(s.max))
        };
        let other = if round.hung > 0 {
            format!("{} ({} unanswered)", round.other + round.hung, round.hung)
        } else {
            round.other.to_string()
        };
        writeln!(
            out,
            "| {label} (`DB_PROXY={}`) | {} | {} | {:.0} | {p50} | {p99} | {max} | {} | {} | {other} | {} ({}) | {} | {} |",
            round.mode,
            round.instances,
            round.requests,
            answered as f64 / round.elapsed.as_secs_f64().max(1e-9),
            round.success,
            round.unavailable,
            round.server.max_used_connections,
            round.server.refused_for_max_connections,
            round.acknowledged_writes,
            round.rows_found,
        )
        .unwrap();
    }
    writeln!(out).unwrap();
    write_summary(out, rounds);
}

/// "p50 X, max Y" of `samples`, or a dash when there are none.
fn p50_and_max(samples: &[Duration]) -> String {
    if samples.is_empty() {
        return "-".to_owned();
    }
    let s = stats(samples.to_vec());
    format!("p50 {}, max {}", ms(s.p50), ms(s.max))
}

/// The paragraph on the rounds past the budget and on the two modes, written from what the
/// rounds measured.
fn write_summary(out: &mut String, rounds: &[Round]) {
    let mut text = format!("The server's `max_connections` is {MAX_CONNECTIONS}; MariaDB admits one session more for a privileged user, and without grant tables every session is one, hence {} at most. ", MAX_CONNECTIONS + 1);
    let request_timeout = Duration::from_millis(REQUEST_TIMEOUT_MS.parse().unwrap());
    for round in rounds
        .iter()
        .filter(|round| round.instances > MAX_CONNECTIONS as usize)
    {
        write!(text, "With {} instances (`DB_PROXY={}`) the server refused {} connections as too many (`Aborted_connects` {}); {} of {} requests were answered 503 ({}), {} with anything else, {} not at all; the 2xx answers took {}. ",
            round.instances, round.mode, round.server.refused_for_max_connections, round.server.aborted_connects,
            round.unavailable, round.requests, p50_and_max(&round.unavailable_latencies), round.other, round.hung,
            p50_and_max(&round.success_latencies)).unwrap();
        let at_timeout = round
            .unavailable_latencies
            .iter()
            .filter(|latency| **latency >= request_timeout)
            .count();
        if at_timeout > 0 {
            write!(text, "{at_timeout} of those 503s came at the request timeout ({REQUEST_TIMEOUT_MS} ms), not from a refusal; ").unwrap();
            text.push_str(if round.listen_overflows > 0 {
                "meanwhile the kernel dropped connection attempts on a full listen queue, and a dropped SYN is retried only after 1 s. "
            } else {
                "the kernel counted no listen-queue overflow meanwhile. "
            });
        }
        if round.unavailable_without_retry_after > 0 {
            write!(
                text,
                "**{} of the 503s had no Retry-After.** ",
                round.unavailable_without_retry_after
            )
            .unwrap();
        }
    }
    let lost: Vec<&Round> = rounds
        .iter()
        .filter(|round| round.acknowledged_writes as u64 != round.rows_found)
        .collect();
    if lost.is_empty() {
        text.push_str("In every round the rows found equal the acknowledged creates: no acknowledged write was lost and no refused one was written. ");
    }
    for round in lost {
        write!(
            text,
            "**With {} instances (`DB_PROXY={}`) {} creates were acknowledged but {} rows found.** ",
            round.instances, round.mode, round.acknowledged_writes, round.rows_found
        )
        .unwrap();
    }
    text.push_str("An instance keeps its connection between requests (its pool closes it after 4 idle minutes), so the first instances to connect hold the budget for the whole burst, and every request of the others tries to connect, is refused, and is answered 503 at once. A refused instance is soon free again and takes the next event from the queue, as a free Lambda instance would. ");
    text.push_str("Statement mode, p50 of the 2xx answers (direct / proxy mode):");
    for instances in INSTANCES {
        let p50 = |mode: &str| {
            rounds
                .iter()
                .find(|round| round.instances == instances && round.mode == mode)
                .filter(|round| !round.success_latencies.is_empty())
                .map(|round| ms(stats(round.success_latencies.clone()).p50))
                .unwrap_or_else(|| "-".to_owned())
        };
        write!(
            text,
            " {instances} instances {} / {};",
            p50("off"),
            p50("on")
        )
        .unwrap();
    }
    text.pop();
    text.push_str(". Each mode runs once per round size, direct first; with about a hundred processes on two cores, the same mode's p50 varies between runs of the bench by more than the two modes differ, so a difference in one run is not a cost of the mode.");
    writeln!(out, "{text}").unwrap();
}
