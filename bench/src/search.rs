//! Issue 15's measurements: `GET /api/users` with and without `q` on 100,000 users, and what the
//! audit event adds to a write (login's token record, PATCH's conditional update).

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use api_tests::{call, insert_user, test_app, token, Answer, Event, TestDb};
use mysql_async::prelude::Queryable;
use shared::App;

use crate::{stats, us, Stats};

pub const USERS: u64 = 100_000;

/// 100,000 users in one statement: ten digits crossed five times. Names from a small list, so
/// a `q` of a first name matches about a twentieth of them.
async fn populate(app: &App) {
    let mut conn = app.pool.get_conn().await.unwrap();
    let digits = "(SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL \
                  SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL \
                  SELECT 8 UNION ALL SELECT 9)";
    let sql = format!(
        "INSERT INTO users (name, cellnumber, email, email_key, password_hash, role_id, is_active, created, updated) \
         SELECT CONCAT(ELT(1 + n % 20, 'Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Ken', \
                'Dennis', 'Margaret', 'Frances', 'John', 'Radia', 'Tim', 'Linus', 'Guido', 'Bjarne', \
                'Niklaus', 'Leslie', 'Shafi', 'Sophie'), ' ', 'Surname', n), \
                CONCAT('+1666', LPAD(n, 7, '0')), CONCAT('person', n, '@example.com'), \
                CONCAT('person', n, '@example.com'), REPEAT('x', 60), 1 + (n % 50 > 0), \
                n % 10 > 0, UTC_TIMESTAMP(6) - INTERVAL n SECOND, UTC_TIMESTAMP(6) \
         FROM (SELECT a.d + 10 * b.d + 100 * c.d + 1000 * e.d + 10000 * f.d AS n \
               FROM {digits} a, {digits} b, {digits} c, {digits} e, {digits} f) numbers"
    );
    conn.query_drop(sql).await.unwrap();
    conn.query_drop("ANALYZE TABLE users").await.unwrap();
}

async fn timed_list(app: &App, admin: &str, query: &str, n: usize) -> (Stats, u64) {
    let run = || async {
        call!(
            list_users,
            app,
            Event::v2("list-users").bearer(admin).query(query)
        )
    };
    let first: Answer = run().await;
    assert_eq!(first.status, 200, "{query}: {}", first.body);
    let total = first.body["total"].as_u64().unwrap();
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        tokio::task::yield_now().await;
        let started = Instant::now();
        let answer = run().await;
        samples.push(started.elapsed());
        assert_eq!(answer.status, 200);
    }
    (stats(samples), total)
}

/// The markdown section on search.
pub async fn search_section(iterations: usize) -> String {
    let db = TestDb::new().await;
    let app = test_app(&db);
    insert_user(&app, 1, "+15550000001", "admin-password-1").await;
    let started = Instant::now();
    populate(&app).await;
    let populated = started.elapsed();
    let admin = token(&app, "+15550000001", "admin-password-1").await;
    let mut out = String::new();
    writeln!(out, "\n## Listing and search on {USERS} users\n").unwrap();
    writeln!(out, "`GET /api/users` in process (API Gateway v2 events, warm), {iterations} calls each, on a table of {} users (generated in {:.1} s; one in fifty an admin, one in ten disabled). Each is one query that returns the page and the filtered total (`COUNT(*) OVER ()`), plus the token check.\n", USERS + 1, populated.as_secs_f64()).unwrap();
    writeln!(out, "| query | matching users | p50 | p99 | mean |").unwrap();
    writeln!(out, "|---|---|---|---|---|").unwrap();
    for query in [
        "",
        "sort=name",
        "sort=-created",
        "offset=99000",
        "roleId=1",
        "isActive=false&sort=-name",
        "q=grace",
        "q=surname4242",
        "q=%2B1666000123",
        "q=nobody-has-this",
        "q=ada&roleId=2&isActive=true&sort=name",
    ] {
        let (s, total) = timed_list(&app, &admin, query, iterations).await;
        writeln!(
            out,
            "| `{}` | {total} | {} | {} | {} |",
            if query.is_empty() { "(none)" } else { query },
            us(s.p50),
            us(s.p99),
            us(s.mean)
        )
        .unwrap();
        eprintln!("search: {query} done");
    }
    out
}

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

/// The markdown section on what an event adds to a write: each write timed as issue 15 sends it
/// (one text query: the change and its event in one transaction) and without its event (the
/// same query without the INSERT), on one warm connection.
pub async fn audit_cost_section(iterations: usize) -> String {
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
    let mut out = String::new();
    writeln!(out, "\n## What the audit event adds to a write\n").unwrap();
    writeln!(out, "The database part of each write, p50 of {iterations} on one warm connection, as issue 15 sends it and without its event. The event never adds a round trip: it goes in the query that carries the change (or, for a refused login, the clean-up). The whole requests are in the first table (PATCH and login).\n").unwrap();
    writeln!(
        out,
        "| write | with its event | without | the event's cost |"
    )
    .unwrap();
    writeln!(out, "|---|---|---|---|").unwrap();
    for (what, with, without) in [
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
    ] {
        writeln!(
            out,
            "| {what} | {} | {} | {} |",
            us(with),
            us(without),
            us(with.saturating_sub(without))
        )
        .unwrap();
    }
    out
}
