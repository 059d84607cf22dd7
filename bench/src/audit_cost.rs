//! What the audit event adds to a write: the database part of login's token record, PATCH's
//! conditional update and a refused login's clean-up, each with its event and without.

use std::time::{Duration, Instant};

use api_tests::{insert_user, test_app, TestDb};
use mysql_async::prelude::Queryable;

use crate::stats::stats;

/// p50 of `n` runs of `sql` (a text query) on one warm connection.
async fn timed_sql(
    conn: &mut mysql_async::Conn,
    n: usize,
    sql: impl Fn(usize) -> String,
) -> Duration {
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let text = sql(i);
        let started = Instant::now();
        conn.query_drop(text).await.unwrap();
        samples.push(started.elapsed());
    }
    stats(samples).p50
}

pub struct AuditCost {
    pub iterations: usize,
    /// Each write, its p50 with its event and without.
    pub writes: Vec<(&'static str, Duration, Duration)>,
}

/// Each write timed as the functions send it (one text query: the change and its event in one
/// transaction) and without its event (the same query without the INSERT), on one warm
/// connection.
pub async fn measure(iterations: usize) -> AuditCost {
    let db = TestDb::new().await;
    let app = test_app(&db);
    let user = insert_user(&app, 2, "+15550000002", "user-password-2").await;
    let mut conn = app.pool.get_conn().await.unwrap();
    let event = |action: &str| {
        format!(
            "INSERT INTO audit_event (at, action, actor_id, target_id, source_ip, detail) \
             SELECT UTC_TIMESTAMP(6), '{action}', 1, {user}, '203.0.113.10', \
             '{{\"fields\":[\"name\"]}}' FROM DUAL WHERE ROW_COUNT() = 1"
        )
    };
    let update = |i: usize| {
        format!(
            "UPDATE users SET name = 'Name {i}', updated = UTC_TIMESTAMP(6) + INTERVAL {i} MICROSECOND \
             WHERE id = {user}"
        )
    };
    let patch_with = timed_sql(&mut conn, iterations, |i| {
        format!(
            "START TRANSACTION; {}; {}; COMMIT",
            update(i),
            event("user.updated")
        )
    })
    .await;
    let patch_without = timed_sql(&mut conn, iterations, |i| {
        format!("START TRANSACTION; {}; COMMIT", update(i + iterations))
    })
    .await;
    let patch_autocommit = timed_sql(&mut conn, iterations, |i| update(i + 2 * iterations)).await;
    let record = |i: usize| {
        format!(
            "INSERT INTO session (id, user_id, created, expires, refresh_hash) \
             SELECT LPAD('{i}', 22, 'b'), id, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6) + INTERVAL 30 DAY, \
             UNHEX(SHA2('{i}', 256)) FROM users WHERE id = {user} AND is_active"
        )
    };
    let login_with = timed_sql(&mut conn, iterations, |i| {
        format!(
            "START TRANSACTION; {}; {}; COMMIT",
            record(i),
            event("login.succeeded")
        )
    })
    .await;
    let login_without = timed_sql(&mut conn, iterations, |i| record(i + iterations)).await;
    let failed_with = timed_sql(&mut conn, iterations, |_| {
        "INSERT INTO audit_event (at, action, target_id, source_ip, detail) VALUES (UTC_TIMESTAMP(6), \
         'login.failed', (SELECT id FROM users WHERE cellnumber = '+15550000002'), '203.0.113.10', \
         '{\"cellnumber\":\"+15550000002\",\"reason\":\"credentials\"}'); \
         DELETE FROM access_token WHERE expires < UTC_TIMESTAMP(6) LIMIT 500; \
         DELETE FROM audit_event WHERE at < UTC_TIMESTAMP(6) - INTERVAL 365 DAY LIMIT 500"
            .to_owned()
    })
    .await;
    let failed_without = timed_sql(&mut conn, iterations, |_| {
        "DELETE FROM access_token WHERE expires < UTC_TIMESTAMP(6) LIMIT 500; \
         DELETE FROM audit_event WHERE at < UTC_TIMESTAMP(6) - INTERVAL 365 DAY LIMIT 500"
            .to_owned()
    })
    .await;
    AuditCost {
        iterations,
        writes: vec![
            (
                "PATCH: conditional UPDATE in a transaction",
                patch_with,
                patch_without,
            ),
            (
                "PATCH: against the old single autocommit UPDATE",
                patch_with,
                patch_autocommit,
            ),
            (
                "login: guarded token INSERT (+ transaction)",
                login_with,
                login_without,
            ),
            ("refused login: clean-up query", failed_with, failed_without),
        ],
    }
}
