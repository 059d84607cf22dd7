//! Account recovery and sign-up by SMS code through the handlers, with real API Gateway events
//! and a real database; texts go to an outbox file of each test's own, where the tests read the
//! codes. The flows (`recovery`, `sign_up`), the limits of the SMS bill under concurrency
//! (`limits`), and hostile input (`input`).

mod input;
mod limits;
mod recovery;
mod sign_up;

use std::path::PathBuf;

use api_tests::texts::outbox_for;
use api_tests::{call, insert_user, test_app_with, Answer, Event, TestDb};
use api_tests::{ADMIN_CELL, ADMIN_PASS, USER_CELL, USER_PASS};
use mysql_async::prelude::Queryable;
use serde_json::{json, Value};
use shared::App;

/// The key of `MFA_KEYS`, from which the key that hashes codes is derived.
const KEYS: &str = "k1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";

/// A migrated database with an admin and a normal user, an app that texts to an outbox file of
/// its own, and that file.
struct Sms {
    db: TestDb,
    app: App,
    outbox: PathBuf,
    user_id: u64,
}

impl Sms {
    async fn new(extra: &[(&'static str, &str)]) -> Self {
        let db = TestDb::new().await;
        let outbox = outbox_for(&db);
        let _ = std::fs::remove_file(&outbox);
        let app = test_app_with(&db, &Self::overrides(&outbox, extra));
        insert_user(&app, 1, ADMIN_CELL, ADMIN_PASS).await;
        let user_id = insert_user(&app, 2, USER_CELL, USER_PASS).await;
        Self {
            db,
            app,
            outbox,
            user_id,
        }
    }

    fn overrides<'a>(
        outbox: &'a std::path::Path,
        extra: &[(&'static str, &'a str)],
    ) -> Vec<(&'static str, &'a str)> {
        let mut all = vec![("MFA_KEYS", KEYS), ("SMS_OUTBOX", outbox.to_str().unwrap())];
        all.extend_from_slice(extra);
        all
    }

    /// Another instance of the function on the same database, as Lambda runs them.
    fn another_app(&self, extra: &[(&'static str, &str)]) -> App {
        api_tests::app_with(&self.db.url, &Self::overrides(&self.outbox, extra))
    }

    fn texts_to(&self, cellnumber: &str) -> Vec<String> {
        api_tests::texts::texts_to(&self.outbox, cellnumber)
    }

    fn last_code(&self, cellnumber: &str) -> String {
        api_tests::texts::last_code(&self.outbox, cellnumber)
    }

    async fn count(&self, sql: &str) -> u64 {
        api_tests::count(&self.app, sql).await
    }

    async fn run(&self, sql: &str) {
        let mut conn = self.app.pool.get_conn().await.unwrap();
        conn.query_drop(sql).await.unwrap();
    }

    /// `(action, actor, target, detail)` of every audit event, oldest first.
    async fn events(&self) -> Vec<(String, Option<u64>, Option<u64>, Value)> {
        let mut conn = self.app.pool.get_conn().await.unwrap();
        let rows: Vec<(String, Option<u64>, Option<u64>, String)> = conn
            .query(
                "SELECT action, actor_id, target_id, CAST(detail AS CHAR) FROM audit_event \
                 ORDER BY id",
            )
            .await
            .unwrap();
        rows.into_iter()
            .map(|(action, actor, target, detail)| {
                (
                    action,
                    actor,
                    target,
                    serde_json::from_str(&detail).unwrap(),
                )
            })
            .collect()
    }
}

async fn forgot(app: &App, cellnumber: &str) -> Answer {
    forgot_from(app, cellnumber, "203.0.113.10").await
}

async fn forgot_from(app: &App, cellnumber: &str, ip: &str) -> Answer {
    let event = Event::v2("forgot-password")
        .from_address(ip)
        .json_body(&json!({ "cellnumber": cellnumber }));
    call!(forgot_password, app, event)
}

async fn reset(app: &App, cellnumber: &str, code: &str, new_password: &str) -> Answer {
    let body = json!({ "cellnumber": cellnumber, "code": code, "newPassword": new_password });
    call!(
        reset_password,
        app,
        Event::v2("reset-password").json_body(&body)
    )
}

async fn signup(app: &App, body: &Value) -> Answer {
    call!(signup, app, Event::v2("signup").json_body(body))
}

async fn verify(app: &App, cellnumber: &str, code: &str) -> Answer {
    let body = json!({ "cellnumber": cellnumber, "code": code });
    call!(
        verify_signup,
        app,
        Event::v2("verify-signup").json_body(&body)
    )
}

/// Another code than `code`.
fn wrong(code: &str) -> String {
    format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000)
}

/// The 202 every forgot request that is not refused answers.
fn assert_accepted(answer: &Answer) {
    assert_eq!(answer.status, 202, "{}", answer.body);
    assert_eq!(answer.body, json!({ "detail": shared::sms::FORGOT_ANSWER }));
}
