//! Several statements in one transaction and one round trip: how a change and its audit event
//! are written together without paying a round trip for each statement, `START TRANSACTION`
//! and `COMMIT`.
//!
//! The statements go as one text query (the connection allows multiple statements), so their
//! values are bound here as literals: numbers and times as digits, every string as a hex literal
//! with a character set introducer (`_utf8mb4 X'..'`), which no input can break out of whatever
//! the server's `sql_mode` (quotes and backslashes never appear in it).

use std::fmt::Write as _;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Value};

/// One statement's text with its `?` placeholders bound to `params`, in order. The statement
/// text is ours and has no `?` inside its own string literals.
pub fn bind(sql: &str, params: &[Value]) -> String {
    let mut out = String::with_capacity(sql.len() + params.len() * 16);
    let mut params = params.iter();
    for (index, part) in sql.split('?').enumerate() {
        if index > 0 {
            match params.next() {
                Some(value) => out.push_str(&literal(value)),
                None => out.push_str("NULL"),
            }
        }
        out.push_str(part);
    }
    out
}

/// `value` as an SQL literal that cannot be read as anything but that value.
pub fn literal(value: &Value) -> String {
    match value {
        Value::Bytes(bytes) => {
            let mut hex = String::with_capacity(bytes.len() * 2 + 12);
            hex.push_str(if std::str::from_utf8(bytes).is_ok() {
                "_utf8mb4 X'"
            } else {
                "X'"
            });
            for byte in bytes {
                let _ = write!(hex, "{byte:02X}");
            }
            hex.push('\'');
            hex
        }
        // NULL, numbers and dates: digits, signs, dashes, colons and dots only.
        other => other.as_sql(false),
    }
}

/// What one statement of a batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    pub affected_rows: u64,
    pub last_insert_id: Option<u64>,
}

/// Runs `statements` in one transaction, in one round trip, and says what each did. On an error
/// nothing of it stays: the transaction is rolled back (one more round trip, on errors only).
pub async fn run_in_transaction(
    conn: &mut Conn,
    statements: &[String],
) -> Result<Vec<Outcome>, mysql_async::Error> {
    let mut text = String::from("START TRANSACTION");
    for statement in statements {
        text.push_str(";\n");
        text.push_str(statement);
    }
    text.push_str(";\nCOMMIT");
    match run(conn, text).await {
        Ok(outcomes) if outcomes.len() != statements.len() + 2 => {
            let _ = conn.query_drop("ROLLBACK").await;
            Err(mysql_async::Error::Other(
                format!(
                    "a batch of {} statements answered {} results",
                    statements.len() + 2,
                    outcomes.len()
                )
                .into(),
            ))
        }
        Ok(mut outcomes) => {
            // The first is START TRANSACTION's, the last COMMIT's.
            outcomes.truncate(statements.len() + 1);
            outcomes.remove(0);
            Ok(outcomes)
        }
        Err(error) => {
            // A statement failed, so COMMIT never ran: the transaction is still open on this
            // connection, which goes back to the pool.
            if let Err(rollback) = conn.query_drop("ROLLBACK").await {
                tracing::warn!(%rollback, "rollback after a failed batch failed");
            }
            Err(error)
        }
    }
}

async fn run(conn: &mut Conn, text: String) -> Result<Vec<Outcome>, mysql_async::Error> {
    let mut result = conn.query_iter(text).await?;
    let mut outcomes = Vec::new();
    loop {
        outcomes.push(Outcome {
            affected_rows: result.affected_rows(),
            last_insert_id: result.last_insert_id(),
        });
        if result.is_empty() {
            break;
        }
        // Reads the rest of this statement's answer and moves on to the next one's.
        let _: Vec<mysql_async::Row> = result.collect().await?;
    }
    // A statement's error is held back by the driver until the result is read once more.
    result.drop_result().await?;
    Ok(outcomes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_become_hex_literals_and_numbers_digits() {
        assert_eq!(literal(&Value::from("a'b")), "_utf8mb4 X'612762'");
        assert_eq!(literal(&Value::from("\\")), "_utf8mb4 X'5C'");
        assert_eq!(literal(&Value::from(42u64)), "42");
        assert_eq!(literal(&Value::from(Option::<String>::None)), "NULL");
        assert_eq!(
            bind(
                "UPDATE t SET a = ? WHERE id = ?",
                &["x".into(), 7u64.into()]
            ),
            "UPDATE t SET a = _utf8mb4 X'78' WHERE id = 7"
        );
        let time = chrono::NaiveDate::from_ymd_opt(2026, 11, 30)
            .unwrap()
            .and_hms_micro_opt(9, 1, 2, 3)
            .unwrap();
        assert_eq!(literal(&Value::from(time)), "'2026-11-30 09:01:02.000003'");
    }
}
