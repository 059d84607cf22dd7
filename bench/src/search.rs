//! Listing and search: `GET /api/users` with and without `q` on a table of 100,000 users.

use std::time::{Duration, Instant};

use api_tests::{call, insert_user, test_app, token, Answer, Event, TestDb};
use mysql_async::prelude::Queryable;
use shared::App;

use crate::stats::{stats, Stats};

const USERS: u64 = 100_000;

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

/// The queries timed, as their query strings.
const QUERIES: [&str; 11] = [
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
];

pub struct Listing {
    /// The table's users: the generated ones and the admin who lists them.
    pub users: u64,
    /// How long generating them took.
    pub populated: Duration,
    pub iterations: usize,
    /// Each query string, the total it matched, its timings.
    pub queries: Vec<(&'static str, u64, Stats)>,
}

/// `iterations` warm calls of each query on a fresh database of 100,000 generated users.
pub async fn measure(iterations: usize) -> Listing {
    let db = TestDb::new().await;
    let app = test_app(&db);
    insert_user(&app, 1, "+15550000001", "admin-password-1").await;
    let started = Instant::now();
    populate(&app).await;
    let populated = started.elapsed();
    let admin = token(&app, "+15550000001", "admin-password-1").await;
    let mut queries = Vec::new();
    for query in QUERIES {
        let (timings, total) = timed_list(&app, &admin, query, iterations).await;
        queries.push((query, total, timings));
        eprintln!("search: {query} done");
    }
    Listing {
        users: USERS + 1,
        populated,
        iterations,
        queries,
    }
}
