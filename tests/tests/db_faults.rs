//! Database faults. A MariaDB server of the test's own, under load from warm function
//! instances, is killed, shut down or frozen and then brought back, or has its sessions or its
//! queries killed. During the fault every request is a success or a 503 `{"detail": ...}` (only
//! 503s while the server is down), each within the request timeout; afterwards the same
//! instances (the same `App`, pool included) answer again at once, and every write they
//! acknowledged is in the database. The last test does the same over HTTP under
//! `cargo lambda watch`.

use std::collections::HashSet;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use api_tests::mariadb::PrivateMariaDb;
use api_tests::serve::{HttpAnswer, Served};
use api_tests::{
    app_with, call, insert_user, test_env_for, token, Answer, Event, ADMIN_CELL, ADMIN_PASS,
    USER_CELL, USER_PASS,
};
use mysql_async::prelude::Queryable;
use serde_json::json;
use shared::App;

/// Warm instances, each serving one request at a time as a Lambda instance does.
const INSTANCES: usize = 4;
const REQUEST_TIMEOUT: Duration = Duration::from_millis(1000);
/// What a loaded two-core machine may add to the timeout (scheduling, building the response).
/// Anything beyond it is a request that waited on the database unbounded: a hang.
const SLACK: Duration = Duration::from_millis(1500);
const OUTAGE: Duration = Duration::from_millis(3000);
/// Between two requests of one instance, so the load does not starve the tests running beside.
const PAUSE: Duration = Duration::from_millis(5);
const WARM_WRITES_PER_INSTANCE: usize = 15;
/// Recovery is measured, never asserted as a speed; this only bounds a test that would wait
/// forever on an instance that never recovers.
const RECOVERY_LIMIT: Duration = Duration::from_secs(15);
const LOAD_AFTER_RECOVERY: Duration = Duration::from_secs(1);
const DATABASE: &str = "users_faults";
/// Every user the load creates has a cellnumber with this prefix.
const LOAD_CELL_PREFIX: &str = "+1556";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// SIGKILL, then a restart on the same datadir and port: refused and reset connections.
    Kill,
    /// SIGTERM, then a restart: the server closes the connections itself, as in a reboot or a
    /// failover.
    Shutdown,
    /// SIGSTOP, then SIGCONT: nothing answers, connections and handshakes just wait.
    Freeze,
    /// The server stays up, but its sessions are killed (`KILL CONNECTION`) again and again, as
    /// an operator or a proxy may: queries fail mid-flight, idle connections vanish.
    KilledSessions,
    /// The server and the sessions stay up, but running statements are interrupted
    /// (`KILL QUERY`) again and again: the error arrives as a server error on a live connection.
    KilledQueries,
}

impl Fault {
    fn stops_the_server(self) -> bool {
        !matches!(self, Self::KilledSessions | Self::KilledQueries)
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Kill => "kill",
            Self::Shutdown => "shutdown",
            Self::Freeze => "freeze",
            Self::KilledSessions => "killed sessions",
            Self::KilledQueries => "killed queries",
        })
    }
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Create,
    GetMe,
    GetUser,
}

struct Outcome {
    instance: usize,
    op: Op,
    started: Instant,
    ended: Instant,
    answer: Answer,
}

impl Outcome {
    fn elapsed(&self) -> Duration {
        self.ended - self.started
    }

    fn ok(&self) -> bool {
        (200..300).contains(&self.answer.status)
    }

    fn created(&self) -> Option<(u64, String)> {
        if !matches!(self.op, Op::Create) || self.answer.status != 201 {
            return None;
        }
        let id = self.answer.body["id"].as_u64()?;
        let cellnumber = self.answer.body["cellnumber"].as_str()?.to_owned();
        Some((id, cellnumber))
    }
}

struct Who {
    admin: String,
    user: String,
    user_id: u64,
}

#[derive(Default)]
struct Load {
    stop: AtomicBool,
    outcomes: Mutex<Vec<Outcome>>,
}

impl Load {
    fn count(&self, what: impl Fn(&Outcome) -> bool) -> usize {
        self.outcomes
            .lock()
            .unwrap()
            .iter()
            .filter(|o| what(o))
            .count()
    }

    fn every_instance(&self, what: impl Fn(&Outcome) -> bool) -> bool {
        let outcomes = self.outcomes.lock().unwrap();
        (0..INSTANCES).all(|instance| {
            outcomes
                .iter()
                .any(|outcome| outcome.instance == instance && what(outcome))
        })
    }
}

/// One warm instance: creates, reads of itself and reads by id, one after the other.
async fn run_instance(instance: usize, app: Arc<App>, who: Arc<Who>, load: Arc<Load>) {
    let mut last_created = None;
    let mut n: u64 = 0;
    while !load.stop.load(Ordering::Relaxed) {
        let op = [Op::Create, Op::GetMe, Op::GetUser][(n % 3) as usize];
        let started = Instant::now();
        let answer = match op {
            Op::Create => {
                let body = json!({
                    "name": format!("Load {instance}-{n}"),
                    "cellnumber": format!("{LOAD_CELL_PREFIX}{instance}{n:07}"),
                    "password": "load-password-1",
                });
                let event = Event::v2("create-user").bearer(&who.admin).json_body(&body);
                call!(create_user, &app, event)
            }
            Op::GetMe => {
                let token = if n % 2 == 0 { &who.admin } else { &who.user };
                call!(get_me, &app, Event::v2("get-me").bearer(token))
            }
            Op::GetUser => {
                let id: u64 = last_created.unwrap_or(who.user_id);
                let event = Event::v2("get-user")
                    .bearer(&who.admin)
                    .path_param("id", &id.to_string());
                call!(get_user, &app, event)
            }
        };
        let outcome = Outcome {
            instance,
            op,
            started,
            ended: Instant::now(),
            answer,
        };
        if let Some((id, _)) = outcome.created() {
            last_created = Some(id);
        }
        load.outcomes.lock().unwrap().push(outcome);
        n += 1;
        tokio::time::sleep(PAUSE).await;
    }
}

/// `KILL <what>` of every session on [`DATABASE`] until `period` has passed; returns how many
/// kills the server accepted.
async fn kill_sessions(server_url: &str, what: &str, period: Duration) -> usize {
    let mut conn = mysql_async::Conn::from_url(server_url).await.unwrap();
    let until = Instant::now() + period;
    let mut kills = 0;
    while Instant::now() < until {
        let ids: Vec<u64> = match conn
            .exec(
                "SELECT id FROM information_schema.processlist WHERE db = ? AND id <> CONNECTION_ID()",
                (DATABASE,),
            )
            .await
        {
            Ok(ids) => ids,
            // The instances share this process: a pool that times out shuts down the sockets
            // it takes for its own, and in a test process that can be this one. Connect again.
            Err(_) => {
                conn = mysql_async::Conn::from_url(server_url).await.unwrap();
                continue;
            }
        };
        for id in ids {
            // The session may have ended on its own meanwhile (1094, unknown thread).
            if conn.query_drop(format!("KILL {what} {id}")).await.is_ok() {
                kills += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let _ = conn.disconnect().await;
    kills
}

async fn wait_until(limit: Duration, what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "{what} within {limit:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn ms(duration: Duration) -> u128 {
    duration.as_millis()
}

async fn outage(fault: Fault) {
    let mut server = PrivateMariaDb::start().await;
    let url = server.database_url(DATABASE);
    shared::db::prepare(&url, shared::app::config::DatabaseTls::Off)
        .await
        .unwrap_or_else(|error| panic!("cannot migrate {url}: {error}"));
    let setup = app_with(&url, &[]);
    insert_user(&setup, 1, ADMIN_CELL, ADMIN_PASS).await;
    let user_id = insert_user(&setup, 2, USER_CELL, USER_PASS).await;
    let who = Arc::new(Who {
        admin: token(&setup, ADMIN_CELL, ADMIN_PASS).await,
        user: token(&setup, USER_CELL, USER_PASS).await,
        user_id,
    });
    drop(setup);

    let timeout_ms = ms(REQUEST_TIMEOUT).to_string();
    let apps: Vec<Arc<App>> = (0..INSTANCES)
        .map(|_| Arc::new(app_with(&url, &[("REQUEST_TIMEOUT_MS", &timeout_ms)])))
        .collect();
    // What every error carries, from an ordinary 404 of a warm instance.
    let reference = call!(
        get_user,
        &apps[0],
        Event::v2("get-user")
            .bearer(&who.admin)
            .path_param("id", "999999")
    );
    reference.assert_error(404);

    let load = Arc::new(Load::default());
    let tasks: Vec<_> = apps
        .iter()
        .enumerate()
        .map(|(instance, app)| {
            tokio::spawn(run_instance(
                instance,
                app.clone(),
                who.clone(),
                load.clone(),
            ))
        })
        .collect();
    wait_until(Duration::from_secs(20), "every instance writes", || {
        (0..INSTANCES).all(|instance| {
            load.count(|o| o.instance == instance && o.created().is_some())
                >= WARM_WRITES_PER_INSTANCE
        })
    })
    .await;

    let fault_at = Instant::now();
    match fault {
        Fault::Kill => server.kill(),
        Fault::Shutdown => server.shut_down(),
        Fault::Freeze => server.freeze(),
        Fault::KilledSessions | Fault::KilledQueries => {}
    }
    let down_at = Instant::now();
    let kills = match fault {
        Fault::KilledSessions => kill_sessions(&server.url(), "CONNECTION", OUTAGE).await,
        Fault::KilledQueries => kill_sessions(&server.url(), "QUERY", OUTAGE).await,
        Fault::Kill | Fault::Shutdown | Fault::Freeze => {
            tokio::time::sleep(OUTAGE).await;
            0
        }
    };
    let restart_at = Instant::now();
    match fault {
        Fault::Kill | Fault::Shutdown => server.restart().await,
        Fault::Freeze => server.thaw(),
        Fault::KilledSessions | Fault::KilledQueries => {}
    }
    let up_at = Instant::now();
    wait_until(RECOVERY_LIMIT, "every instance recovers", || {
        load.every_instance(|o| o.ended >= up_at && o.ok())
    })
    .await;
    tokio::time::sleep(LOAD_AFTER_RECOVERY).await;
    load.stop.store(true, Ordering::Relaxed);
    for task in tasks {
        // A panic in a handler (or an `Err`, which `call!` unwraps) fails the test here.
        task.await.expect("no instance panicked");
    }
    let outcomes = std::mem::take(&mut *load.outcomes.lock().unwrap());

    // Every answer, whenever it came: a success or a proper 503, never later than the timeout.
    for outcome in &outcomes {
        let answer = &outcome.answer;
        assert!(
            [200, 201, 503].contains(&answer.status),
            "{fault}: {:?} of instance {} answered {}: {}",
            outcome.op,
            outcome.instance,
            answer.status,
            answer.body
        );
        assert!(
            outcome.elapsed() <= REQUEST_TIMEOUT + SLACK,
            "{fault}: {:?} of instance {} took {} ms",
            outcome.op,
            outcome.instance,
            ms(outcome.elapsed())
        );
        if answer.status == 503 {
            answer.assert_error(503);
            for (name, value) in &reference.headers {
                assert_eq!(
                    answer.headers.get(name),
                    Some(value),
                    "{fault}: the 503 has the {name} of every error"
                );
            }
            assert_eq!(answer.header("retry-after"), Some("1"));
        }
    }

    // While the server was down, nothing but 503s; while only its sessions were killed, some.
    let during: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| o.started >= down_at && o.ended <= restart_at)
        .collect();
    let unavailable = during.iter().filter(|o| o.answer.status == 503).count();
    if fault.stops_the_server() {
        for outcome in &during {
            assert_eq!(
                outcome.answer.status, 503,
                "{fault}: {:?} of instance {} during the outage: {}",
                outcome.op, outcome.instance, outcome.answer.body
            );
        }
    } else {
        assert!(unavailable > 0, "{fault}: no request failed");
    }
    for instance in 0..INSTANCES {
        assert!(
            during.iter().any(|o| o.instance == instance),
            "{fault}: instance {instance} made no request during the outage"
        );
    }
    let slowest_503 = during
        .iter()
        .filter(|o| o.answer.status == 503)
        .map(|o| o.elapsed())
        .max()
        .unwrap_or_default();

    // Each instance's first success after the server is back, and every request it started after
    // that succeeded: recovered, not flapping.
    let mut recovery = Duration::ZERO;
    for instance in 0..INSTANCES {
        let mine = || outcomes.iter().filter(move |o| o.instance == instance);
        let first = mine()
            .filter(|o| o.ended >= up_at && o.ok())
            .map(|o| o.ended)
            .min()
            .expect("waited for above");
        recovery = recovery.max(first - up_at);
        for outcome in mine().filter(|o| o.started >= first) {
            assert!(
                outcome.ok(),
                "{fault}: instance {instance} recovered, then its {:?} answered {}: {}",
                outcome.op,
                outcome.answer.status,
                outcome.answer.body
            );
        }
    }

    // No acknowledged write lost: through the API (a warm instance) and in the table itself.
    let acknowledged: Vec<(u64, String)> = outcomes.iter().filter_map(Outcome::created).collect();
    let before_fault = outcomes
        .iter()
        .filter(|o| o.ended <= fault_at && o.created().is_some())
        .count();
    for (id, cellnumber) in &acknowledged {
        let event = Event::v2("get-user")
            .bearer(&who.admin)
            .path_param("id", &id.to_string());
        let answer = call!(get_user, &apps[0], event);
        assert_eq!(answer.status, 200, "{fault}: user {id}: {}", answer.body);
        assert_eq!(answer.body["cellnumber"], cellnumber.as_str());
    }
    let mut conn = mysql_async::Conn::from_url(&url).await.unwrap();
    let rows: Vec<(u64, String)> = conn
        .exec(
            "SELECT id, cellnumber FROM users WHERE cellnumber LIKE CONCAT(?, '%')",
            (LOAD_CELL_PREFIX,),
        )
        .await
        .unwrap();
    conn.disconnect().await.unwrap();
    let stored: HashSet<&(u64, String)> = rows.iter().collect();
    let lost: Vec<_> = acknowledged
        .iter()
        .filter(|write| !stored.contains(write))
        .collect();
    assert!(
        lost.is_empty(),
        "{fault}: acknowledged but not stored: {lost:?}"
    );
    let found = acknowledged.len() - lost.len();

    let restart = match fault {
        Fault::Kill | Fault::Shutdown => format!("restart took {} ms", ms(up_at - restart_at)),
        Fault::Freeze => "SIGCONT".to_owned(),
        Fault::KilledSessions => format!("{kills} sessions killed"),
        Fault::KilledQueries => format!("{kills} KILL QUERY"),
    };
    println!(
        "db_faults ({fault}): {INSTANCES} warm instances, request timeout {} ms, {} ms outage; \
         {before_fault} writes acknowledged before the outage, {} in all, {found} found after \
         (API and SQL; {} more rows from writes answered 503); {} requests during the outage, \
         {unavailable} of them 503, within {} ms (max); recovery in {} ms after the server \
         was back ({restart}); {} requests in all",
        ms(REQUEST_TIMEOUT),
        ms(restart_at - down_at),
        acknowledged.len(),
        rows.len() - found,
        during.len(),
        ms(slowest_503),
        ms(recovery),
        outcomes.len(),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_database_gives_503s_and_the_same_instances_recover_with_every_write() {
    outage(Fault::Kill).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_shut_down_gives_503s_and_the_same_instances_recover_with_every_write() {
    outage(Fault::Shutdown).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_sessions_give_503s_and_the_same_instances_recover_with_every_write() {
    outage(Fault::KilledSessions).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_queries_give_503s_and_the_same_instances_recover_with_every_write() {
    outage(Fault::KilledQueries).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_database_gives_503s_within_the_timeout_and_the_same_instances_recover() {
    outage(Fault::Freeze).await;
}

/// One request over HTTP, timed.
fn timed(
    api: &Served,
    method: &str,
    path: &str,
    token: &str,
    body: Option<&serde_json::Value>,
) -> (HttpAnswer, Duration) {
    let started = Instant::now();
    let answer = api.call(method, path, Some(token), body);
    (answer, started.elapsed())
}

/// The faults over real HTTP under `cargo lambda watch`: each function is its own process with
/// the real runtime loop around the handler, and that loop, not only the handler, must live
/// through the outage.
#[test]
fn over_http_a_frozen_then_killed_database_gives_503s_and_the_same_functions_recover() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut server = runtime.block_on(PrivateMariaDb::start());
    let url = server.database_url(DATABASE);
    runtime
        .block_on(shared::db::prepare(
            &url,
            shared::app::config::DatabaseTls::Off,
        ))
        .unwrap_or_else(|error| panic!("cannot migrate {url}: {error}"));
    let setup = app_with(&url, &[]);
    runtime.block_on(insert_user(&setup, 1, ADMIN_CELL, ADMIN_PASS));
    let mut env = test_env_for(&url);
    env.push(("REQUEST_TIMEOUT_MS", ms(REQUEST_TIMEOUT).to_string()));
    let api = Served::start(&env);
    let login = api.login(ADMIN_CELL, ADMIN_PASS);
    assert_eq!(login.status, 200, "{}\n{}", login.body, api.logs());
    let admin = login.body["token"].as_str().unwrap().to_owned();
    let reference = api.call("GET", "/api/users/999999", Some(&admin), None);
    assert_eq!(reference.status, 404, "{}", reference.body);

    let mut acknowledged = Vec::new();
    let mut n = 0;
    let mut create = |api: &Served| {
        n += 1;
        let body = json!({
            "name": format!("Http {n}"),
            "cellnumber": format!("{LOAD_CELL_PREFIX}9{n:07}"),
            "password": "load-password-1",
        });
        timed(api, "POST", "/api/users", &admin, Some(&body))
    };
    let mut figures = Vec::new();
    for fault in [Fault::Freeze, Fault::Kill] {
        // Warm: each function has served (and, the first time, been compiled) before the fault.
        let (created, _) = create(&api);
        assert_eq!(created.status, 201, "{}\n{}", created.body, api.logs());
        acknowledged.push(created.body["id"].as_u64().unwrap());
        let (me, _) = timed(&api, "GET", "/api/users/me", &admin, None);
        assert_eq!(me.status, 200, "{}", me.body);

        match fault {
            Fault::Freeze => server.freeze(),
            _ => server.kill(),
        }
        let mut slowest = Duration::ZERO;
        for _ in 0..2 {
            for (answer, elapsed) in [
                timed(&api, "GET", "/api/users/me", &admin, None),
                create(&api),
            ] {
                assert_eq!(
                    answer.status,
                    503,
                    "{fault}: {}\n{}",
                    answer.body,
                    api.logs()
                );
                assert_eq!(
                    answer.body["detail"],
                    "Service temporarily unavailable; try again shortly"
                );
                for name in ["content-type", "cache-control", "x-content-type-options"] {
                    assert_eq!(answer.header(name), reference.header(name), "{name}");
                }
                assert_eq!(answer.header("retry-after"), Some("1"));
                assert!(
                    elapsed <= REQUEST_TIMEOUT + SLACK,
                    "{fault}: a 503 after {} ms",
                    ms(elapsed)
                );
                slowest = slowest.max(elapsed);
            }
        }
        match fault {
            Fault::Freeze => server.thaw(),
            _ => runtime.block_on(server.restart()),
        }
        let back = Instant::now();
        let (me, _) = timed(&api, "GET", "/api/users/me", &admin, None);
        assert_eq!(
            me.status,
            200,
            "{fault}: after: {}\n{}",
            me.body,
            api.logs()
        );
        let (created, _) = create(&api);
        assert_eq!(created.status, 201, "{fault}: after: {}", created.body);
        acknowledged.push(created.body["id"].as_u64().unwrap());
        figures.push(format!(
            "{fault}: 503s within {} ms, the next GET and POST 2xx after {} ms",
            ms(slowest),
            ms(back.elapsed())
        ));
    }

    let stored: Vec<u64> = runtime.block_on(async {
        let mut conn = mysql_async::Conn::from_url(&url).await.unwrap();
        let ids = conn
            .exec(
                "SELECT id FROM users WHERE cellnumber LIKE CONCAT(?, '%')",
                (LOAD_CELL_PREFIX,),
            )
            .await
            .unwrap();
        conn.disconnect().await.unwrap();
        ids
    });
    for id in &acknowledged {
        assert!(
            stored.contains(id),
            "user {id} was acknowledged but is gone"
        );
    }
    let logs = api.logs();
    for sign in ["panicked", "cannot start"] {
        assert!(
            !logs.contains(sign),
            "{sign} in the functions' log:\n{logs}"
        );
    }
    println!(
        "db_faults (over HTTP, cargo lambda watch): {}; {} writes acknowledged, all found after",
        figures.join("; "),
        acknowledged.len()
    );
}
