//! No lock outlives its request. A demotion of an admin is inside its transaction,
//! holding the row lock of the admin it demotes, when the database freezes (SIGSTOP); the request
//! times out (503), and its instance is frozen right after, as Lambda freezes it, so nothing it
//! would do later runs. The database is thawed, and an admin write to the same row from another
//! instance succeeds at once: the timed-out request's connection was closed before its response,
//! so the server rolled its transaction back.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use api_tests::mariadb::PrivateMariaDb;
use api_tests::{app_with, call, insert_user, token, Answer, Event, ADMIN_CELL, ADMIN_PASS};
use mysql_async::prelude::Queryable;
use serde_json::json;

const OTHER_ADMIN_CELL: &str = "+15550000009";
const REQUEST_TIMEOUT_MS: &str = "4000";

#[test]
fn a_request_that_times_out_in_a_transaction_leaves_no_lock_behind() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = runtime.block_on(PrivateMariaDb::start());
    let url = server.database_url("users_locks");
    runtime
        .block_on(shared::db::prepare(
            &url,
            shared::app::config::DatabaseTls::Off,
        ))
        .unwrap();
    let setup = app_with(&url, &[]);
    let admin_id = runtime.block_on(insert_user(&setup, 1, ADMIN_CELL, ADMIN_PASS));
    let other_id = runtime.block_on(insert_user(&setup, 1, OTHER_ADMIN_CELL, "other-admin-pw"));
    let admin = runtime.block_on(token(&setup, ADMIN_CELL, ADMIN_PASS));
    drop(setup);

    // Someone holds the first admin's row, so the demotion (which locks the admin it demotes,
    // then the other admins) waits inside its transaction.
    let mut holder = runtime.block_on(async {
        let mut conn = mysql_async::Conn::from_url(&url).await.unwrap();
        conn.query_drop("START TRANSACTION").await.unwrap();
        conn.exec_drop("SELECT id FROM users WHERE id = ? FOR UPDATE", (admin_id,))
            .await
            .unwrap();
        conn
    });

    // The instance that will time out: a runtime of its own, on a thread of its own, which stops
    // running the moment the response is out (Lambda's freeze).
    let (answer_sender, answer_receiver) = mpsc::channel::<(Answer, Duration)>();
    let (end_sender, end_receiver) = mpsc::channel::<()>();
    let demoting = {
        let url = url.clone();
        let admin = admin.clone();
        std::thread::spawn(move || {
            let instance = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let app = app_with(&url, &[("REQUEST_TIMEOUT_MS", REQUEST_TIMEOUT_MS)]);
            let event = Event::v2("update-user")
                .bearer(&admin)
                .path_param("id", &other_id.to_string())
                .json_body(&json!({ "roleId": 2 }));
            let started = Instant::now();
            let answer = instance.block_on(async { call!(update_user, &app, event) });
            answer_sender.send((answer, started.elapsed())).unwrap();
            // Frozen: the runtime is not driven again until the test is over.
            let _ = end_receiver.recv();
            drop(app);
            drop(instance);
        })
    };
    // The demotion is waiting for the lock, inside its transaction: freeze the database.
    let waiting = runtime.block_on(async {
        let mut watcher = mysql_async::Conn::from_url(&server.url()).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let waits: Option<u64> = watcher
                .query_first(
                    "SELECT COUNT(*) FROM information_schema.processlist \
                     WHERE info LIKE 'SELECT id FROM users FORCE INDEX (PRIMARY)%FOR UPDATE'",
                )
                .await
                .unwrap();
            if waits.unwrap_or(0) > 0 {
                break true;
            }
            if Instant::now() > deadline {
                break false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    assert!(
        waiting,
        "the demotion never waited for the lock: {:?}",
        answer_receiver
            .try_recv()
            .map(|(answer, took)| (answer.status, answer.body, took))
    );
    server.freeze();
    let (answer, took) = answer_receiver
        .recv_timeout(Duration::from_secs(10))
        .expect("the demotion answered");
    answer.assert_error(503);
    server.thaw();
    // The holder lets go; the frozen instance's transaction must not take over the lock.
    runtime.block_on(holder.query_drop("ROLLBACK")).unwrap();

    // Another instance, right after: an admin write to the row the demotion had locked.
    let other = app_with(&url, &[("REQUEST_TIMEOUT_MS", REQUEST_TIMEOUT_MS)]);
    let started = Instant::now();
    let event = Event::v2("update-user")
        .bearer(&admin)
        .path_param("id", &other_id.to_string())
        .json_body(&json!({ "roleId": 2 }));
    let write = runtime.block_on(async { call!(update_user, &other, event) });
    let write_took = started.elapsed();
    assert_eq!(write.status, 200, "{}", write.body);
    assert_eq!(write.body["roleId"], 2);
    let open: u64 = runtime.block_on(async {
        let mut conn = mysql_async::Conn::from_url(&server.url()).await.unwrap();
        conn.query_first("SELECT COUNT(*) FROM information_schema.innodb_trx")
            .await
            .unwrap()
            .unwrap_or(0)
    });
    assert_eq!(open, 0, "no transaction is left open");
    println!(
        "lock release: the demotion timed out with 503 after {} ms (request timeout {REQUEST_TIMEOUT_MS} ms, \
         lock wait bound {} s) with its instance frozen right after; after the thaw the same \
         demotion from another instance answered 200 in {} ms; no transaction left open",
        took.as_millis(),
        shared::db::pool::lock_wait_seconds(Duration::from_millis(4000)),
        write_took.as_millis()
    );
    end_sender.send(()).unwrap();
    demoting.join().unwrap();
    drop(holder);
}
