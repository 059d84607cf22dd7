//! The burst scenario (`--burst`): many instances of the real function binaries start at once
//! against a MariaDB whose connection budget is smaller than the burst, as a traffic spike does
//! to a small RDS instance. It shows what the instances beyond the budget answer (the aim is a
//! fast 503 with Retry-After; a 500 or a hang would be a bug), whether an acknowledged write is
//! ever lost, and what the statement mode (`DB_PROXY`) costs.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

mod counters;
mod report;

use crate::runtime_api::{Posted, RuntimeApi};
use api_tests::mariadb::PrivateMariaDb;
use counters::{count_rows, listen_overflows, read_status, reset_status, ServerStatus};

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

    /// Both functions' answers together.
    fn merged(mut self, other: Tally) -> Tally {
        self.latencies.extend(other.latencies);
        self.success_latencies.extend(other.success_latencies);
        self.unavailable_latencies
            .extend(other.unavailable_latencies);
        self.success += other.success;
        self.unavailable += other.unavailable;
        self.unavailable_without_retry_after += other.unavailable_without_retry_after;
        self.other += other.other;
        self.first_other = self.first_other.or(other.first_other);
        self.last_arrival = self.last_arrival.max(other.last_arrival);
        self
    }
}

struct Round {
    mode: &'static str,
    instances: usize,
    requests: usize,
    hung: usize,
    elapsed: Duration,
    /// The answers of both functions.
    answers: Tally,
    server: ServerStatus,
    /// This machine's count of connections dropped because a listen queue was full.
    listen_overflows: u64,
    acknowledged_writes: usize,
    rows_found: u64,
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
    report::write_report(&mut out, &rounds);
    out
}

/// Starts the server, migrates its database, seeds users and signs two of them in.
async fn set_up(get_me: PathBuf, create_user: PathBuf) -> Setup {
    let server =
        PrivateMariaDb::start_with(&[&format!("--max-connections={MAX_CONNECTIONS}")]).await;
    let database_url = server.database_url(DATABASE);
    shared::db::prepare(&database_url, shared::app::config::DatabaseTls::Off)
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
    // create-user answers 201 and nothing else in 2xx.
    let acknowledged_writes = write_tally.success;
    Round {
        mode,
        instances,
        requests,
        hung,
        elapsed: last - started,
        answers: read_tally.merged(write_tally),
        listen_overflows: listen_overflows().saturating_sub(overflows_before),
        server: ServerStatus {
            max_used_connections: after.max_used_connections,
            refused_for_max_connections: after
                .refused_for_max_connections
                .saturating_sub(before.refused_for_max_connections),
            aborted_connects: after
                .aborted_connects
                .saturating_sub(before.aborted_connects),
        },
        acknowledged_writes,
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
    let mut env = api_tests::test_env_for(&setup.database_url);
    env.extend([
        ("DB_PROXY", mode.to_owned()),
        ("REQUEST_TIMEOUT_MS", REQUEST_TIMEOUT_MS.to_owned()),
        ("RUST_LOG", "warn".to_owned()),
    ]);
    crate::runtime_api::lambda_process(binary, api, "burst", env)
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
