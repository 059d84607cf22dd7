//! How a request talks to MySQL: every statement goes through a [`DbConn`] (or the [`DbTx`] it
//! begins), in the instance's [`StatementMode`].
//!
//! - [`StatementMode::Prepared`] (direct mode, the default): server-side prepared statements,
//!   cached per connection, so values never enter the SQL text.
//! - [`StatementMode::Text`] (`DB_PROXY=on`): text-protocol statements only. RDS Proxy pins a
//!   client's session to one database connection for its whole life once it sees a prepared
//!   statement, so behind a proxy the binary protocol would multiplex nothing. The values then
//!   enter the SQL text through one function, [`literal`].
//!
//! [`literal`] writes every value so that its meaning depends on nothing of the session: a
//! string is a hex literal with a character set introducer (`_utf8mb4 X'E4B881'`), bytes that
//! are not UTF-8 a hex literal (`X'FF00'`). Quoting and backslash-escaping would depend on the
//! session twice over: with `NO_BACKSLASH_ESCAPES` a backslash is an ordinary character, and in
//! GBK, Big5, SJIS, CP932 or GB18030 the byte 0x5C may be the second byte of a character, so the
//! backslash written before a quote is swallowed and the quote ends the string. A session can
//! end up in either without the client asking (`init_connect`, a server that ignores the
//! client's character set, a proxy spreading one client over database sessions of different
//! `sql_mode`s). Hex digits have no quote and no backslash, and every literal is ASCII, so a
//! statement reads the same in every ASCII-compatible character set and every `sql_mode`.

use std::future::{ready, Future};
use std::pin::Pin;

use mysql_async::prelude::{FromRow, Queryable};
use mysql_async::{Conn, Params, Row, Transaction, TxOpts, Value};

pub type DbResult<T> = Result<T, mysql_async::Error>;
/// The future of one statement (the driver's own futures have this shape).
pub type DbFuture<'a, T> = Pin<Box<dyn Future<Output = DbResult<T>> + Send + 'a>>;

/// How statements carry their values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StatementMode {
    /// Binary protocol, prepared statements (direct connections to MySQL).
    #[default]
    Prepared,
    /// Text protocol, values escaped into the statement (behind RDS Proxy).
    Text,
}

/// `value` as an SQL literal: the one place a value enters SQL text. The literal is ASCII and
/// holds no backslash; a quote appears only around hex digits, or around the digits, dashes,
/// colons, dots and spaces of a date or a time. See the module's documentation for why.
pub fn literal(value: &Value) -> String {
    match value {
        Value::Bytes(bytes) => {
            let introducer = match std::str::from_utf8(bytes) {
                Ok(_) => "_utf8mb4 ",
                Err(_) => "",
            };
            let mut text = String::with_capacity(introducer.len() + 3 + 2 * bytes.len());
            text.push_str(introducer);
            text.push_str("X'");
            for byte in bytes {
                text.push(HEX_DIGITS[usize::from(byte >> 4)] as char);
                text.push(HEX_DIGITS[usize::from(byte & 0x0f)] as char);
            }
            text.push('\'');
            text
        }
        // Digits and a sign; a float that is not finite (none of our values) comes out as a word
        // the server refuses, never as a value.
        Value::NULL | Value::Int(_) | Value::UInt(_) | Value::Float(_) | Value::Double(_) => {
            value.as_sql(false)
        }
        // Quoted digits, dashes, colons, dots and spaces: no escaping involved.
        Value::Date(..) | Value::Time(..) => value.as_sql(false),
    }
}

const HEX_DIGITS: &[u8; 16] = b"0123456789ABCDEF";

/// `sql` with each `?` placeholder replaced by the literal of its value, in order. A `?` inside a
/// quoted string, a quoted identifier or a comment of `sql` is not a placeholder. Fails, like a
/// prepared statement would, when the counts differ or the parameters are named.
pub fn bind(sql: &str, params: &Params) -> DbResult<String> {
    let values: &[Value] = match params {
        Params::Empty => &[],
        Params::Positional(values) => values,
        Params::Named(_) => {
            return Err(mysql_async::Error::Other(
                "named parameters are not supported in text statements".into(),
            ))
        }
    };
    let placeholders = placeholders(sql);
    if placeholders.len() != values.len() {
        return Err(mysql_async::Error::Other(
            format!(
                "the statement has {} placeholders and {} values",
                placeholders.len(),
                values.len()
            )
            .into(),
        ));
    }
    let mut text = String::with_capacity(sql.len() + values.len() * 24);
    let mut copied = 0;
    for (at, value) in placeholders.into_iter().zip(values) {
        text.push_str(&sql[copied..at]);
        let literal = literal(value);
        // `a - -1` must not become `a --1`, nor `a/` + `*` a comment opener, nor `a` + `_utf8mb4`
        // one identifier.
        if text
            .chars()
            .last()
            .is_some_and(|c| matches!(c, '-' | '/' | '_' | '$') || c.is_alphanumeric())
        {
            text.push(' ');
        }
        text.push_str(&literal);
        copied = at + 1;
    }
    text.push_str(&sql[copied..]);
    Ok(text)
}

/// Byte offsets of the `?` placeholders of `sql`.
fn placeholders(sql: &str) -> Vec<usize> {
    let bytes = sql.as_bytes();
    let mut found = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'?' => found.push(at),
            quote @ (b'\'' | b'"' | b'`') => {
                at += 1;
                while at < bytes.len() && bytes[at] != quote {
                    // Our statements are written for either backslash rule, so a backslash
                    // before a quote never appears in them; skipping it is the safe reading.
                    if bytes[at] == b'\\' && quote != b'`' {
                        at += 1;
                    }
                    at += 1;
                }
            }
            b'#' => at = line_end(bytes, at),
            b'-' if bytes[at..].starts_with(b"-- ") => at = line_end(bytes, at),
            b'/' if bytes[at..].starts_with(b"/*") => {
                at = sql[at + 2..]
                    .find("*/")
                    .map_or(bytes.len(), |end| at + 2 + end + 1);
            }
            _ => {}
        }
        at += 1;
    }
    found
}

fn line_end(bytes: &[u8], from: usize) -> usize {
    bytes[from..]
        .iter()
        .position(|&byte| byte == b'\n')
        .map_or(bytes.len(), |offset| from + offset)
}

/// What a statement that returns no rows did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    pub affected_rows: u64,
    pub last_insert_id: Option<u64>,
}

/// The statements a request runs, on a connection or inside its transaction.
pub trait Statements: Send {
    /// The first row `sql` returns, if any.
    fn first<'a, T: FromRow + Send + 'static>(
        &'a mut self,
        sql: &'a str,
        params: impl Into<Params>,
    ) -> DbFuture<'a, Option<T>>;

    /// Every row `sql` returns.
    fn rows<'a, T: FromRow + Send + 'static>(
        &'a mut self,
        sql: &'a str,
        params: impl Into<Params>,
    ) -> DbFuture<'a, Vec<T>>;

    /// Runs `sql`, which returns no rows.
    fn run<'a>(&'a mut self, sql: &'a str, params: impl Into<Params>) -> DbFuture<'a, Outcome>;
}

impl StatementMode {
    /// The statement's text with its values in it, in text mode; `None` in prepared mode.
    fn text_of(self, sql: &str, params: &Params) -> Option<DbResult<String>> {
        match self {
            Self::Prepared => None,
            Self::Text => Some(bind(sql, params)),
        }
    }
}

fn failed<'a, T: Send + 'a>(error: mysql_async::Error) -> DbFuture<'a, T> {
    Box::pin(ready(Err(error)))
}

// The driver's futures are generic in the row type; fetching `Row`s and converting them after
// instantiates them once per connection type and protocol instead of once per row type of
// every statement (smaller binaries, the same work).
fn first_on<'a, Q: Queryable, T: FromRow + Send + 'static>(
    db: &'a mut Q,
    mode: StatementMode,
    sql: &'a str,
    params: Params,
) -> DbFuture<'a, Option<T>> {
    let row: DbFuture<'a, Option<Row>> = match mode.text_of(sql, &params) {
        None => db.exec_first(sql, params),
        Some(Ok(text)) => db.query_first(text),
        Some(Err(error)) => return failed(error),
    };
    Box::pin(async move { row.await?.map(converted).transpose() })
}

fn rows_on<'a, Q: Queryable, T: FromRow + Send + 'static>(
    db: &'a mut Q,
    mode: StatementMode,
    sql: &'a str,
    params: Params,
) -> DbFuture<'a, Vec<T>> {
    let rows: DbFuture<'a, Vec<Row>> = match mode.text_of(sql, &params) {
        None => db.exec(sql, params),
        Some(Ok(text)) => db.query(text),
        Some(Err(error)) => return failed(error),
    };
    Box::pin(async move { rows.await?.into_iter().map(converted).collect() })
}

/// A row as `T`; a row of another shape is our bug (a 500), not an outage.
fn converted<T: FromRow>(row: Row) -> DbResult<T> {
    T::from_row_opt(row).map_err(|error| {
        mysql_async::Error::Other(
            format!("a row of {} columns did not convert", error.0.len()).into(),
        )
    })
}

fn run_on<'a, Q: Queryable>(
    db: &'a mut Q,
    mode: StatementMode,
    sql: &'a str,
    params: Params,
) -> DbFuture<'a, Outcome> {
    Box::pin(async move {
        match mode.text_of(sql, &params) {
            None => outcome_of(db.exec_iter(sql, params).await?).await,
            Some(text) => outcome_of(db.query_iter(text?).await?).await,
        }
    })
}

/// What a row-less statement did, read before its (empty) answer is consumed.
async fn outcome_of<P: mysql_async::prelude::Protocol>(
    result: mysql_async::QueryResult<'_, '_, P>,
) -> DbResult<Outcome> {
    let outcome = Outcome {
        affected_rows: result.affected_rows(),
        last_insert_id: result.last_insert_id(),
    };
    result.drop_result().await?;
    Ok(outcome)
}

/// A connection of the pool, with the way its statements are sent.
#[derive(Debug)]
pub struct DbConn {
    conn: Conn,
    mode: StatementMode,
}

impl DbConn {
    pub fn new(conn: Conn, mode: StatementMode) -> Self {
        Self { conn, mode }
    }

    pub fn mode(&self) -> StatementMode {
        self.mode
    }

    /// Starts a transaction (`START TRANSACTION`, a text statement in either mode).
    pub async fn begin(&mut self) -> DbResult<DbTx<'_>> {
        let mode = self.mode;
        let tx = self.conn.start_transaction(TxOpts::default()).await?;
        Ok(DbTx { tx, mode })
    }

    /// The driver's connection, for what only text statements do (multi-statement batches).
    pub(crate) fn raw(&mut self) -> &mut Conn {
        &mut self.conn
    }
}

impl Statements for DbConn {
    fn first<'a, T: FromRow + Send + 'static>(
        &'a mut self,
        sql: &'a str,
        params: impl Into<Params>,
    ) -> DbFuture<'a, Option<T>> {
        first_on(&mut self.conn, self.mode, sql, params.into())
    }

    fn rows<'a, T: FromRow + Send + 'static>(
        &'a mut self,
        sql: &'a str,
        params: impl Into<Params>,
    ) -> DbFuture<'a, Vec<T>> {
        rows_on(&mut self.conn, self.mode, sql, params.into())
    }

    fn run<'a>(&'a mut self, sql: &'a str, params: impl Into<Params>) -> DbFuture<'a, Outcome> {
        run_on(&mut self.conn, self.mode, sql, params.into())
    }
}

/// A transaction of a [`DbConn`]; dropped without [`DbTx::commit`], it is rolled back.
pub struct DbTx<'c> {
    tx: Transaction<'c>,
    mode: StatementMode,
}

impl DbTx<'_> {
    pub async fn commit(self) -> DbResult<()> {
        self.tx.commit().await
    }

    pub async fn rollback(self) -> DbResult<()> {
        self.tx.rollback().await
    }
}

impl Statements for DbTx<'_> {
    fn first<'a, T: FromRow + Send + 'static>(
        &'a mut self,
        sql: &'a str,
        params: impl Into<Params>,
    ) -> DbFuture<'a, Option<T>> {
        first_on(&mut self.tx, self.mode, sql, params.into())
    }

    fn rows<'a, T: FromRow + Send + 'static>(
        &'a mut self,
        sql: &'a str,
        params: impl Into<Params>,
    ) -> DbFuture<'a, Vec<T>> {
        rows_on(&mut self.tx, self.mode, sql, params.into())
    }

    fn run<'a>(&'a mut self, sql: &'a str, params: impl Into<Params>) -> DbFuture<'a, Outcome> {
        run_on(&mut self.tx, self.mode, sql, params.into())
    }
}

#[cfg(test)]
mod tests;
