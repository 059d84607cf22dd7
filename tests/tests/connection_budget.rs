//! A database whose connections are all taken (`max_connections`, MySQL error 1040): an instance
//! answers 503 at once, asks the server for a connection at most once a second meanwhile (every
//! refused attempt costs the server a handshake), and serves again once one is free.

use std::time::{Duration, Instant};

use api_tests::mariadb::PrivateMariaDb;
use api_tests::{app_with, call, insert_user, token, Event, ADMIN_CELL, ADMIN_PASS};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts};
use shared::db::errors::codes::TOO_MANY_CONNECTIONS;
use shared::db::pool::TOO_MANY_CONNECTIONS_PAUSE;

async fn refused_connections(conn: &mut Conn) -> u64 {
    let row: Option<(String, u64)> = conn
        .query_first("SHOW GLOBAL STATUS LIKE 'Connection_errors_max_connections'")
        .await
        .unwrap();
    row.unwrap().1
}

#[tokio::test]
async fn an_instance_refused_as_one_too_many_answers_503_and_knocks_again_a_second_later() {
    let server = PrivateMariaDb::start().await;
    let url = server.database_url("users_budget");
    shared::db::prepare(&url, shared::app::config::DatabaseTls::Off)
        .await
        .unwrap();
    let setup = app_with(&url, &[]);
    insert_user(&setup, 1, ADMIN_CELL, ADMIN_PASS).await;
    let admin = token(&setup, ADMIN_CELL, ADMIN_PASS).await;
    setup.pool.current().disconnect().await.unwrap();

    // Take every connection the server has.
    let opts = Opts::from_url(&server.url()).unwrap();
    let mut held = vec![Conn::new(opts.clone()).await.unwrap()];
    held[0]
        .query_drop("SET GLOBAL max_connections = 4")
        .await
        .unwrap();
    // Until the server says "too many" (another failure, on a loaded machine, is tried again),
    // and again until the server counts only ours: the setup's closed connections may still be
    // counted for a moment after they closed.
    let mut other_failures = 0;
    for _ in 0..50 {
        loop {
            match Conn::new(opts.clone()).await {
                Ok(conn) => held.push(conn),
                Err(mysql_async::Error::Server(server)) if server.code == TOO_MANY_CONNECTIONS => {
                    break
                }
                Err(error) => {
                    other_failures += 1;
                    assert!(other_failures < 10, "cannot fill the connections: {error}");
                }
            }
            assert!(held.len() < 30, "max_connections is not enforced");
        }
        let connected: Option<(String, usize)> = held[0]
            .query_first("SHOW GLOBAL STATUS LIKE 'Threads_connected'")
            .await
            .unwrap();
        if connected.map(|(_, count)| count) == Some(held.len()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let instance = app_with(&url, &[("REQUEST_TIMEOUT_MS", "1000")]);
    let before = refused_connections(&mut held[0]).await;
    let started = Instant::now();
    for _ in 0..20 {
        let answer = call!(get_me, &instance, Event::v2("get-me").bearer(&admin));
        answer.assert_error(503);
        assert_eq!(answer.header("retry-after"), Some("1"));
    }
    let elapsed = started.elapsed();
    let knocks = refused_connections(&mut held[0]).await - before;
    let allowed = 1 + (elapsed.as_millis() / TOO_MANY_CONNECTIONS_PAUSE.as_millis()) as u64;
    assert!(
        (1..=allowed).contains(&knocks),
        "20 requests in {elapsed:?} asked the server {knocks} times (at most {allowed})"
    );

    // A connection comes free: after the pause, the same instance takes it.
    held.pop().unwrap().disconnect().await.unwrap();
    tokio::time::sleep(TOO_MANY_CONNECTIONS_PAUSE + Duration::from_millis(100)).await;
    let answer = call!(get_me, &instance, Event::v2("get-me").bearer(&admin));
    assert_eq!(answer.status, 200, "{}", answer.body);

    for conn in held {
        conn.disconnect().await.unwrap();
    }
}

/// Direct mode asks the server to close a connection idle for `DB_IDLE_TIMEOUT_SECONDS`: a
/// request after a longer pause (a frozen instance thawed) gets a new connection, not the closed
/// one, and no error.
#[tokio::test]
async fn a_connection_the_server_closed_as_idle_is_never_handed_to_a_request() {
    let db = api_tests::TestDb::new().await;
    let instance = app_with(
        &db.url,
        &[("DB_PROXY", "off"), ("DB_IDLE_TIMEOUT_SECONDS", "10")],
    );
    insert_user(&instance, 1, ADMIN_CELL, ADMIN_PASS).await;
    let admin = token(&instance, ADMIN_CELL, ADMIN_PASS).await;
    let first = call!(get_me, &instance, Event::v2("get-me").bearer(&admin));
    assert_eq!(first.status, 200, "{}", first.body);
    tokio::time::sleep(Duration::from_secs(11)).await;
    let after_the_pause = call!(get_me, &instance, Event::v2("get-me").bearer(&admin));
    assert_eq!(after_the_pause.status, 200, "{}", after_the_pause.body);
}
