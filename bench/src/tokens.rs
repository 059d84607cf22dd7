//! RS256 beside HS256, on one build in one run: `GET /api/users/me` (a verification), login and
//! refresh (a signature each), with the cost of signing and verifying alone shown apart.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use api_tests::{call, insert_user, login, test_app_with, Event, TestDb};
use shared::App;

use crate::stats::{stats, us, Stats};

const CELL: &str = "+15550009001";
const PASS: &str = "bench-password-1";

/// Samples of `n` runs of `step` for each app, taken in turns so that both see the same machine.
async fn alternating<F, Fut>(apps: [&App; 2], n: usize, mut step: F) -> [Stats; 2]
where
    F: FnMut(usize, u64) -> Fut,
    Fut: std::future::Future<Output = Duration>,
{
    let mut samples = [Vec::with_capacity(n), Vec::with_capacity(n)];
    for i in 0..n {
        for (which, _) in apps.iter().enumerate() {
            tokio::task::yield_now().await;
            samples[which].push(step(which, i as u64).await);
        }
    }
    let [rs, hs] = samples;
    [stats(rs), stats(hs)]
}

fn row(report: &mut String, what: &str, rs: &Stats, hs: &Stats) {
    writeln!(
        report,
        "| {what} | {} | {} | {} | {} | {:.2}× |",
        us(rs.p50),
        us(rs.p99),
        us(hs.p50),
        us(hs.p99),
        rs.p50.as_secs_f64() / hs.p50.as_secs_f64()
    )
    .unwrap();
}

/// The markdown section.
pub async fn tokens_section(n: usize) -> String {
    let db = TestDb::new().await;
    let hs = test_app_with(&db, &api_tests::HS256_DEPLOYMENT);
    // The test apps' own SIGNING_KEY (RSA-2048).
    let rs = test_app_with(&db, &[]);
    insert_user(&hs, 2, CELL, PASS).await;
    let apps = [&rs, &hs];
    let grants = [login(&rs, CELL, PASS).await, login(&hs, CELL, PASS).await];
    let tokens: Vec<String> = grants
        .iter()
        .map(|g| g.body["token"].as_str().unwrap().to_owned())
        .collect();
    let now = chrono::Utc::now();
    let end = now + chrono::Duration::days(1);

    let sign = alternating(apps, n, |which, _| {
        let app = apps[which];
        async move {
            let started = Instant::now();
            let issued = app.tokens.issue(1, 2, "bench-session", now, end).unwrap();
            let took = started.elapsed();
            std::hint::black_box(issued);
            took
        }
    })
    .await;
    let verify = alternating(apps, n, |which, _| {
        let (app, token) = (apps[which], tokens[which].clone());
        async move {
            let started = Instant::now();
            app.tokens.verify(&token, chrono::Utc::now()).await.unwrap();
            started.elapsed()
        }
    })
    .await;
    let me = alternating(apps, n, |which, _| {
        let (app, token) = (apps[which], tokens[which].clone());
        async move {
            let started = Instant::now();
            let answer = call!(get_me, app, Event::v2("get-me").bearer(&token));
            let took = started.elapsed();
            assert_eq!(answer.status, 200);
            took
        }
    })
    .await;
    let mut refresh_tokens: Vec<String> = grants
        .iter()
        .map(|g| g.body["refreshToken"].as_str().unwrap().to_owned())
        .collect();
    let writes = (n / 4).max(20);
    let mut refresh_samples = [Vec::new(), Vec::new()];
    for _ in 0..writes {
        for (which, app) in apps.iter().enumerate() {
            let body = serde_json::json!({ "refreshToken": refresh_tokens[which] });
            let started = Instant::now();
            let answer = call!(
                refresh_token,
                app,
                Event::v2("refresh-token").json_body(&body)
            );
            refresh_samples[which].push(started.elapsed());
            assert_eq!(answer.status, 200, "{}", answer.body);
            refresh_tokens[which] = answer.body["refreshToken"].as_str().unwrap().to_owned();
        }
    }
    let [rs_refresh, hs_refresh] = refresh_samples;
    let refresh = [stats(rs_refresh), stats(hs_refresh)];
    let mut login_samples = [Vec::new(), Vec::new()];
    for _ in 0..(n / 20).max(10) {
        for (which, app) in apps.iter().enumerate() {
            let started = Instant::now();
            let answer = login(app, CELL, PASS).await;
            login_samples[which].push(started.elapsed());
            assert_eq!(answer.status, 200);
        }
    }
    let [rs_login, hs_login] = login_samples;
    let logins = [stats(rs_login), stats(hs_login)];

    let mut report = String::new();
    writeln!(report, "## Access tokens: RS256 beside HS256\n").unwrap();
    writeln!(report, "One build, one run, the two instances taking turns on one database: RS256 (an RSA-2048 `SIGNING_KEY`) and HS256 (`SECRET_KEY` alone, a deployment before the switch). Handlers called in process with API Gateway events; login hashes with bcrypt cost 4. {n} samples each (refresh {writes}, login {}).\n", (n / 20).max(10)).unwrap();
    writeln!(
        report,
        "| measured | RS256 p50 | RS256 p99 | HS256 p50 | HS256 p99 | RS256/HS256 (p50) |"
    )
    .unwrap();
    writeln!(report, "|---|---|---|---|---|---|").unwrap();
    row(&mut report, "sign a token (alone)", &sign[0], &sign[1]);
    row(
        &mut report,
        "verify a token (alone)",
        &verify[0],
        &verify[1],
    );
    row(&mut report, "`GET /api/users/me`", &me[0], &me[1]);
    row(
        &mut report,
        "`POST /api/users/token/refresh`",
        &refresh[0],
        &refresh[1],
    );
    row(
        &mut report,
        "`POST /api/users/login`",
        &logins[0],
        &logins[1],
    );
    let me_ratio = me[0].p50.as_secs_f64() / me[1].p50.as_secs_f64();
    // Refresh = its read + the signature + its one write transaction; the read and the write
    // are HS256's refresh less its (negligible) HMAC.
    let budget = me[0].p50 + sign[0].p50 + hs_refresh_write(&refresh[1], &me[1], &sign[1]);
    writeln!(report, "\nGoals: `/me` RS256 p50 within 1.15× of HS256: {me_ratio:.2}× ({}). Refresh within `/me` + one RSA-2048 signature + its one write: RS256 refresh p50 {} against {} (= `/me` {} + signature {} + the write, {} as HS256's refresh shows it) ({}).\n",
        if me_ratio <= 1.15 { "met" } else { "missed" },
        us(refresh[0].p50), us(budget), us(me[0].p50), us(sign[0].p50),
        us(hs_refresh_write(&refresh[1], &me[1], &sign[1])),
        if refresh[0].p50 <= budget { "met" } else { "missed" }).unwrap();
    writeln!(report, "Login signs once too: its RS256 cost over HS256 is the signature ({} p50), the rest is bcrypt and the session's writes.\n", us(sign[0].p50.saturating_sub(sign[1].p50))).unwrap();
    report
}

/// The write of a refresh as HS256's refresh shows it: the refresh less a `/me` (its read and
/// the request's handling) less its HMAC signature.
fn hs_refresh_write(refresh: &Stats, me: &Stats, sign: &Stats) -> Duration {
    refresh.p50.saturating_sub(me.p50).saturating_sub(sign.p50)
}
