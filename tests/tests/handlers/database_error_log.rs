//! What the logs keep of a database error: its code and SQLSTATE, never the values or the SQL
//! the server's message quotes. The log is captured by a subscriber set for the test's own thread
//! only (`tracing::subscriber::set_default`), so the test shares its binary with the others.

use std::io::Write;
use std::sync::{Arc, Mutex};

use api_tests::admin_patch as patch;
use api_tests::fixture;
use mysql_async::prelude::Queryable;
use serde_json::json;

/// Log output, as the functions write it in Lambda (one JSON object per line).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_database_error_is_logged_as_its_code_and_sqlstate_without_values_or_sql() {
    let f = fixture().await;
    const CANARY: &str = "leak.canary.7731@example.com";
    // A server error whose text quotes the value and SQL, as a syntax error near a literal of a
    // text statement or a duplicate entry does.
    let mut conn = f.app.pool.get_conn().await.unwrap();
    conn.query_drop(
        "CREATE TRIGGER quote_the_value BEFORE UPDATE ON users FOR EACH ROW BEGIN \
           DECLARE quoted VARCHAR(255); \
           IF NOT (NEW.email <=> OLD.email) THEN \
             SET quoted = CONCAT('near ''UPDATE users SET email = ''', NEW.email, ''''' at line 1'); \
             SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = quoted; \
           END IF; \
         END",
    )
    .await
    .unwrap();
    drop(conn);

    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = shared::app::logging::json_subscriber(
        tracing_subscriber::EnvFilter::new("info"),
        move || writer.clone(),
    );
    let answer = {
        let _default = tracing::subscriber::set_default(subscriber);
        patch(&f.app, &f.admin, f.user_id, &json!({ "email": CANARY })).await
    };
    answer.assert_error(500);
    let logged = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let failure = logged
        .lines()
        .find(|line| line.contains("request failed"))
        .unwrap_or_else(|| panic!("no failure logged: {logged}"));
    assert!(
        failure.contains("1644") && failure.contains("45000"),
        "{failure}"
    );
    for leak in [CANARY, "canary", "UPDATE", "near"] {
        assert!(!logged.contains(leak), "{leak} logged: {logged}");
    }
}
