//! Warm requests in process: each HTTP function's handler called with its API Gateway event on a
//! warm instance, in both statement modes, with the MySQL round trips one request makes.

use std::time::{Duration, Instant};

use api_tests::round_trips::RoundTripProxy;
use api_tests::{test_app_with, Event, Fixture};
use mysql_async::prelude::Queryable;
use shared::App;

use crate::catalog::Function;
use crate::requests::{answered_as_meant, call_in_process, dispatch, event_for};
use crate::stats::{stats, Stats};

/// Events of the runs in proxy mode are numbered apart from the direct ones.
const PROXY_MODE_EVENTS: usize = 20_000_000;

pub fn warm_reads() -> usize {
    if crate::quick() {
        50
    } else {
        2000
    }
}

pub fn warm_writes() -> usize {
    if crate::quick() {
        20
    } else {
        300
    }
}

pub struct InProcess {
    /// One `SELECT ?` on a warm connection: the floor of a request that reads the database.
    pub round_trip: Stats,
    pub endpoints: Vec<Endpoint>,
    /// HTTP functions the bench has no request for or does not link.
    pub not_measured: Vec<String>,
}

pub struct Endpoint {
    pub route: String,
    pub round_trips: u64,
    pub direct: Stats,
    /// `DB_PROXY=on`: text statements, values escaped into them.
    pub proxy_mode: Stats,
}

pub async fn measure(f: &Fixture, functions: &[Function]) -> InProcess {
    let round_trip = round_trip_times(&f.app).await;
    let proxied = api_tests::app_with(&f.db.url, &[("DB_PROXY", "on")]);
    let mut endpoints = Vec::new();
    let mut not_measured = Vec::new();
    // Reads first, then writes, each by route.
    let mut http: Vec<(&Function, String)> = functions
        .iter()
        .filter_map(|function| Some((function, function.route.clone()?)))
        .collect();
    http.sort_by(|(a, a_route), (b, b_route)| (!a.reads(), a_route).cmp(&(!b.reads(), b_route)));
    for (function, route) in http {
        let name = function.name.as_str();
        let Some(round_trips) = count_round_trips(f, name).await else {
            not_measured.push(function.name.clone());
            continue;
        };
        let n = if function.reads() {
            warm_reads()
        } else {
            warm_writes()
        };
        let direct = timed(f, &f.app, name, n, 0).await;
        let proxy_mode = timed(f, &proxied, name, n, PROXY_MODE_EVENTS).await;
        eprintln!("in process: {route} done");
        endpoints.push(Endpoint {
            route,
            round_trips,
            direct,
            proxy_mode,
        });
    }
    InProcess {
        round_trip,
        endpoints,
        not_measured,
    }
}

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

/// `n` warm invocations of `function` on `app` (an instance of either statement mode), after
/// one warm-up, their events numbered from `first` (so no two runs create the same user). Each
/// event is made before its timing starts, and the pool gets its connection back between calls,
/// as it does between two invocations of a Lambda instance.
async fn timed(f: &Fixture, app: &App, function: &str, n: usize, first: usize) -> Stats {
    let warm_up = call_in_process(f, app, function, first + 99_999).await;
    let answer = warm_up.expect("a function with a request");
    assert!(
        answered_as_meant(function, answer.status),
        "{function}: {}",
        answer.body
    );
    let mut samples = Vec::with_capacity(n);
    for i in first..first + n {
        let event = Event::from_json(&event_for(f, function, i).await.unwrap());
        tokio::task::yield_now().await;
        let started = Instant::now();
        let answer = dispatch(app, function, event).await.unwrap();
        samples.push(started.elapsed());
        assert!(
            answered_as_meant(function, answer.status),
            "{function}: {}",
            answer.body
        );
    }
    stats(samples)
}

/// The MySQL round trips of one warm request to `function`, counted by a proxy between the
/// instance and the server; `None` when the bench cannot call it in process.
async fn count_round_trips(f: &Fixture, function: &str) -> Option<u64> {
    let upstream = api_tests::server_url()
        .rsplit('@')
        .next()
        .unwrap()
        .to_owned();
    let proxy = RoundTripProxy::start(upstream).await;
    let url = format!("mysql://root@127.0.0.1:{}/{}", proxy.port, f.db.name);
    let app = test_app_with(&f.db, &[("DATABASE_URL", &url)]);
    call_in_process(f, &app, function, 900_000).await?;
    // Whatever the warm-up left in flight on the connection is not this request's.
    tokio::time::sleep(Duration::from_millis(20)).await;
    proxy.reset();
    let answer = call_in_process(f, &app, function, 900_001).await?;
    assert!(
        answered_as_meant(function, answer.status),
        "{function}: {}",
        answer.body
    );
    Some(proxy.round_trips())
}
