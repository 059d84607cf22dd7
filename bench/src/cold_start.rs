//! Cold starts: each function's release binary spawned against a fresh Lambda Runtime API, timed
//! from spawn to its first response; the last instance of each then serves more events, for its
//! peak memory and its warm latency through the runtime API.

use std::path::Path;
use std::time::Instant;

use api_tests::{test_env, Fixture};

use crate::catalog::Function;
use crate::requests::event_for;
use crate::runtime_api::{self, RuntimeApi};
use crate::stats::{stats, Stats};

pub const COLD_STARTS: usize = 20;
pub const WARM_INVOCATIONS_FOR_RSS: usize = 300;
/// `--quick` starts only these: one with the database, one without.
const QUICK_FUNCTIONS: [&str; 2] = ["get-me", "docs"];
/// Events of the cold-start runs are numbered apart from the in-process ones.
const COLD_START_EVENTS: usize = 50_000_000;

pub struct ColdStarts {
    /// How long a new MySQL connection takes: the part of a first response spent connecting.
    pub connect: Stats,
    pub functions: Vec<ColdStart>,
    /// Functions whose binary was not built.
    pub missing_binaries: Vec<String>,
    /// Functions the bench has no event for.
    pub no_event: Vec<String>,
}

pub struct ColdStart {
    pub function: String,
    pub uses_database: bool,
    /// Spawn to the first request for an event: configuration, pool, token keys; no I/O.
    pub init: Stats,
    pub first_response: Stats,
    pub peak_rss_kib: u64,
    pub warm_via_runtime: Stats,
}

/// `binaries` is the directory of the builds to start.
pub async fn measure(f: &Fixture, functions: &[Function], binaries: &Path) -> ColdStarts {
    let connect = connect_times(&f.db.url).await;
    let mut measured = ColdStarts {
        connect,
        functions: Vec::new(),
        missing_binaries: Vec::new(),
        no_event: Vec::new(),
    };
    for function in functions {
        let name = function.name.as_str();
        if crate::quick() && !QUICK_FUNCTIONS.contains(&name) {
            continue;
        }
        // A number of its own: making some events inserts a user with a cellnumber from it.
        if event_for(f, name, COLD_START_EVENTS - 1).await.is_none() {
            measured.no_event.push(function.name.clone());
            continue;
        }
        let binary = binaries.join(name);
        if !binary.exists() {
            eprintln!(
                "{} is missing: build it with `cargo build --release -p {name}`",
                binary.display()
            );
            measured.missing_binaries.push(function.name.clone());
            continue;
        }
        measured
            .functions
            .push(cold_starts(f, function, &binary).await);
        eprintln!("cold starts: {name} done");
    }
    measured
}

async fn cold_starts(f: &Fixture, function: &Function, binary: &Path) -> ColdStart {
    let name = function.name.as_str();
    let event = |n| async move { event_for(f, name, n).await.unwrap() };
    let mut inits = Vec::new();
    let mut firsts = Vec::new();
    let mut warm = Vec::new();
    let mut peak_rss_kib = 0;
    for start in 0..COLD_STARTS {
        let mut api = RuntimeApi::start().await;
        api.push(event(COLD_START_EVENTS + start).await);
        let spawned = Instant::now();
        let mut env = test_env(&f.db);
        env.push(("RUST_LOG", "info".to_owned()));
        let mut child = runtime_api::lambda_process(binary, &api, name, env)
            .spawn()
            .expect("the release binary runs");
        let (answered, body) = api.response().await;
        let text = String::from_utf8_lossy(&body);
        assert!(!text.contains("\"statusCode\":5"), "{name}: {text}");
        firsts.push(answered - spawned);
        inits.push(api.first_next().unwrap_or(answered) - spawned);
        if start == COLD_STARTS - 1 {
            for n in 0..WARM_INVOCATIONS_FOR_RSS {
                let next = event(COLD_START_EVENTS + COLD_STARTS + n).await;
                tokio::task::yield_now().await;
                let sent = Instant::now();
                api.push(next);
                let (answered, _) = api.response().await;
                warm.push(answered - sent);
            }
            peak_rss_kib = peak_rss(child.id().unwrap());
        }
        let _ = child.kill().await;
    }
    ColdStart {
        function: function.name.clone(),
        uses_database: function.uses_database,
        init: stats(inits),
        first_response: stats(firsts),
        peak_rss_kib,
        warm_via_runtime: stats(warm),
    }
}

/// The high-water mark of a process's resident memory, from /proc.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

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
