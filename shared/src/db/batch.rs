//! Several statements in one transaction and one round trip: how a change and its audit event
//! are written together without paying a round trip for each statement, `START TRANSACTION`
//! and `COMMIT`.
//!
//! The statements go as one text query (the connection allows multiple statements), in either
//! statement mode, so their values are written into the text by the one function that does,
//! [`statements::literal`].

use std::borrow::Cow;

use mysql_async::prelude::Queryable;
use mysql_async::{Params, Value};

pub use crate::db::statements::Outcome;
use crate::db::statements::{self, DbConn};

/// One statement of a batch: its text with `?` placeholders, and their values.
#[derive(Debug, Clone)]
pub struct Statement {
    sql: Cow<'static, str>,
    values: Vec<Value>,
}

impl Statement {
    pub fn new(sql: impl Into<Cow<'static, str>>, values: impl Into<Vec<Value>>) -> Self {
        Self {
            sql: sql.into(),
            values: values.into(),
        }
    }
}

/// Runs `statements` in one transaction, in one round trip, and says what each did. On an error
/// nothing of it stays: the transaction is rolled back (one more round trip, on errors only).
pub async fn run_in_transaction(
    db: &mut DbConn,
    statements: &[Statement],
) -> Result<Vec<Outcome>, mysql_async::Error> {
    let answers = answers_in_transaction(db, statements).await?;
    Ok(answers.into_iter().map(|answer| answer.outcome).collect())
}

/// What one statement of a batch answered: what it did, and its rows if it is a query.
#[derive(Debug)]
pub struct Answer {
    pub outcome: Outcome,
    pub rows: Vec<mysql_async::Row>,
}

/// [`run_in_transaction`], with the rows each statement answered (a `SELECT` in the batch sees
/// what the statements before it wrote, under their locks).
pub async fn answers_in_transaction(
    db: &mut DbConn,
    statements: &[Statement],
) -> Result<Vec<Answer>, mysql_async::Error> {
    let text = format!("START TRANSACTION;\n{};\nCOMMIT", text_of(statements)?);
    let conn = db.raw();
    match run(conn, text).await {
        Ok(answers) if answers.len() != statements.len() + 2 => {
            let _ = conn.query_drop("ROLLBACK").await;
            Err(mysql_async::Error::Other(
                format!(
                    "a batch of {} statements answered {} results",
                    statements.len() + 2,
                    answers.len()
                )
                .into(),
            ))
        }
        Ok(mut answers) => {
            // The first is START TRANSACTION's, the last COMMIT's.
            answers.truncate(statements.len() + 1);
            answers.remove(0);
            Ok(answers)
        }
        Err(error) => {
            // A statement failed, so COMMIT never ran: the transaction is still open on this
            // connection, which goes back to the pool.
            if let Err(rollback) = conn.query_drop("ROLLBACK").await {
                tracing::warn!(
                    rollback = %crate::db::errors::Summarized(&rollback),
                    "rollback after a failed batch failed"
                );
            }
            Err(error)
        }
    }
}

/// Runs `statements` one after the other in one round trip, each its own transaction, and
/// stops at the first that fails (the ones before it stay done).
pub async fn run_each(
    db: &mut DbConn,
    statements: &[Statement],
) -> Result<Vec<Outcome>, mysql_async::Error> {
    let text = text_of(statements)?;
    let answers = run(db.raw(), text).await?;
    Ok(answers.into_iter().map(|answer| answer.outcome).collect())
}

/// The statements as one multi-statement text, their values in it.
fn text_of(statements: &[Statement]) -> Result<String, mysql_async::Error> {
    let mut text = String::new();
    for statement in statements {
        if !text.is_empty() {
            text.push_str(";\n");
        }
        let values = Params::Positional(statement.values.clone());
        text.push_str(&statements::bind(&statement.sql, &values)?);
    }
    Ok(text)
}

async fn run(
    conn: &mut mysql_async::Conn,
    text: String,
) -> Result<Vec<Answer>, mysql_async::Error> {
    let mut result = conn.query_iter(text).await?;
    let mut answers = Vec::new();
    loop {
        let outcome = Outcome {
            affected_rows: result.affected_rows(),
            last_insert_id: result.last_insert_id(),
        };
        if result.is_empty() {
            answers.push(Answer {
                outcome,
                rows: Vec::new(),
            });
            break;
        }
        // Reads the rest of this statement's answer and moves on to the next one's.
        let rows = result.collect().await?;
        answers.push(Answer { outcome, rows });
    }
    // A statement's error is held back by the driver until the result is read once more.
    result.drop_result().await?;
    Ok(answers)
}
