//! Account recovery by SMS code: `POST /api/users/password/forgot` for a known cellnumber beside
//! an unknown one (the answer must not tell them apart by its time), and a reset with a live
//! code. Texts go to a local outbox file, so the figures are the service's own work.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use api_tests::{call, insert_user, test_app_with, Event, TestDb};
use serde_json::json;

use crate::stats::{stats, us, Stats};

const KNOWN: &str = "+15550009101";
const UNKNOWN: &str = "+15550009102";
const PASS: &str = "bench-password-1";
const KEYS: &str = "bench1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";

/// The code of the outbox's last text.
fn last_code(outbox: &Path) -> String {
    let text = std::fs::read_to_string(outbox).unwrap();
    let line: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    line["body"]
        .as_str()
        .unwrap()
        .split(|c: char| !c.is_ascii_digit())
        .find(|run| run.len() == 6)
        .expect("a 6-digit code in the text")
        .to_owned()
}

fn row(report: &mut String, what: &str, s: &Stats) {
    writeln!(
        report,
        "| {what} | {} | {} | {} |",
        us(s.p50),
        us(s.p99),
        us(s.mean)
    )
    .unwrap();
}

/// The markdown section: `n` forgot requests of each kind, taken in turns.
pub async fn recovery_section(n: usize) -> String {
    let db = TestDb::new().await;
    let outbox = std::env::temp_dir().join(format!("users-bench-outbox-{}.jsonl", db.name));
    let outbox_setting = outbox.display().to_string();
    let app = test_app_with(
        &db,
        &[
            ("MFA_KEYS", KEYS),
            ("SMS_SENDER", "outbox"),
            ("SMS_OUTBOX", &outbox_setting),
            ("SMS_RESEND_SECONDS", "0"),
            ("SMS_MAX_PER_NUMBER_PER_DAY", "1000"),
            ("SMS_MAX_PER_ADDRESS_PER_HOUR", "100000"),
            ("SMS_MAX_PER_HOUR", "1000000"),
        ],
    );
    insert_user(&app, 2, KNOWN, PASS).await;
    let forgot = |cellnumber: &'static str| {
        let app = &app;
        async move {
            let body = json!({ "cellnumber": cellnumber });
            let started = Instant::now();
            let answer = call!(
                forgot_password,
                app,
                Event::v2("forgot-password").json_body(&body)
            );
            let took = started.elapsed();
            assert_eq!(answer.status, 202, "{}", answer.body);
            took
        }
    };
    // Warm both paths (the first statements of a connection are prepared, or not, once).
    forgot(KNOWN).await;
    forgot(UNKNOWN).await;
    let (mut known, mut unknown) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for _ in 0..n {
        known.push(forgot(KNOWN).await);
        unknown.push(forgot(UNKNOWN).await);
    }
    let resets = (n / 20).max(5);
    let mut reset = Vec::with_capacity(resets);
    for i in 0..resets {
        forgot(KNOWN).await;
        let body = json!({
            "cellnumber": KNOWN,
            "code": last_code(&outbox),
            "newPassword": format!("{PASS}-{i}"),
        });
        let started = Instant::now();
        let answer = call!(
            reset_password,
            &app,
            Event::v2("reset-password").json_body(&body)
        );
        reset.push(started.elapsed());
        assert_eq!(answer.status, 204, "{}", answer.body);
    }
    let _ = std::fs::remove_file(&outbox);
    let (known, unknown, reset) = (stats(known), stats(unknown), stats(reset));

    let mut report = String::new();
    writeln!(report, "## Account recovery by SMS code\n").unwrap();
    writeln!(report, "Handlers called in process with API Gateway events, texts to a local outbox file (no network), {n} forgot requests of each kind taken in turns, {resets} resets (bcrypt cost 4).\n").unwrap();
    writeln!(report, "| measured | p50 | p99 | mean |").unwrap();
    writeln!(report, "|---|---|---|---|").unwrap();
    row(&mut report, "forgot, a known cellnumber (a text)", &known);
    row(&mut report, "forgot, an unknown cellnumber", &unknown);
    row(&mut report, "reset with the live code", &reset);
    let gap = known.p50.abs_diff(unknown.p50);
    writeln!(
        report,
        "\nKnown against unknown: p50 differs by {} ({:.1}% of the known one's).\n",
        us(gap),
        100.0 * gap.as_secs_f64() / known.p50.max(Duration::from_micros(1)).as_secs_f64()
    )
    .unwrap();
    report
}
