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
//! [`literal`] is mysql_common's `Value::as_sql`, told how the session reads backslashes
//! ([`Escaping`]): with `NO_BACKSLASH_ESCAPES` in the server's `sql_mode` a backslash is an
//! ordinary character and only a quote is doubled; without it, quotes, backslashes and control
//! characters are escaped with a backslash. Getting that wrong would let a quote through, so the
//! rule is read from the server when a connection is opened ([`Escaping::probe`]), never assumed.

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

/// How the session reads a backslash inside a quoted string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escaping {
    /// `\` escapes the next character (MySQL's default `sql_mode`).
    Backslash,
    /// `NO_BACKSLASH_ESCAPES`: `\` is an ordinary character; a quote is escaped by doubling it.
    NoBackslashEscapes,
}

impl Escaping {
    /// The query whose answer tells the session's rule: the length of the literal `'\\'` is 1
    /// when a backslash escapes (two characters read as one backslash) and 2 when it does not.
    /// It reads no variable and changes nothing, so it is as harmless behind a proxy as anywhere.
    pub const PROBE: &'static str = "SELECT LENGTH('\\\\')";

    /// The rule of `conn`'s session.
    pub async fn probe(conn: &mut Conn) -> DbResult<Self> {
        let length: Option<u64> = conn.query_first(Self::PROBE).await?;
        Self::from_probe(length)
    }

    /// The rule from the answer to [`Self::PROBE`].
    pub fn from_probe(length: Option<u64>) -> DbResult<Self> {
        match length {
            Some(1) => Ok(Self::Backslash),
            Some(2) => Ok(Self::NoBackslashEscapes),
            other => Err(mysql_async::Error::Other(
                format!("the server answered {other:?} to the escaping probe").into(),
            )),
        }
    }
}

/// `value` as an SQL literal of the session whose rule is `escaping`: the one place a value
/// enters SQL text. Strings that are not UTF-8 become hex literals (`0x..`).
pub fn literal(value: &Value, escaping: Escaping) -> String {
    value.as_sql(escaping == Escaping::NoBackslashEscapes)
}

/// `sql` with each `?` placeholder replaced by the literal of its value, in order. A `?` inside a
/// quoted string, a quoted identifier or a comment of `sql` is not a placeholder. Fails, like a
/// prepared statement would, when the counts differ or the parameters are named.
pub fn bind(sql: &str, params: &Params, escaping: Escaping) -> DbResult<String> {
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
        let literal = literal(value, escaping);
        // `a - -1` must not become `a --1`, nor `a/` + `*` a comment opener.
        if matches!(text.chars().last(), Some('-' | '/')) {
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
                    // Our statements are written for either escaping rule, so a backslash
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

/// How a connection sends statements: its mode, and the escaping rule of its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dialect {
    pub mode: StatementMode,
    pub escaping: Escaping,
}

impl Dialect {
    /// The statement's text with its values in it, in text mode; `None` in prepared mode.
    fn text_of(self, sql: &str, params: &Params) -> Option<DbResult<String>> {
        match self.mode {
            StatementMode::Prepared => None,
            StatementMode::Text => Some(bind(sql, params, self.escaping)),
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
    dialect: Dialect,
    sql: &'a str,
    params: Params,
) -> DbFuture<'a, Option<T>> {
    let row: DbFuture<'a, Option<Row>> = match dialect.text_of(sql, &params) {
        None => db.exec_first(sql, params),
        Some(Ok(text)) => db.query_first(text),
        Some(Err(error)) => return failed(error),
    };
    Box::pin(async move { row.await?.map(converted).transpose() })
}

fn rows_on<'a, Q: Queryable, T: FromRow + Send + 'static>(
    db: &'a mut Q,
    dialect: Dialect,
    sql: &'a str,
    params: Params,
) -> DbFuture<'a, Vec<T>> {
    let rows: DbFuture<'a, Vec<Row>> = match dialect.text_of(sql, &params) {
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
    dialect: Dialect,
    sql: &'a str,
    params: Params,
) -> DbFuture<'a, Outcome> {
    Box::pin(async move {
        match dialect.text_of(sql, &params) {
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
    dialect: Dialect,
}

impl DbConn {
    pub fn new(conn: Conn, dialect: Dialect) -> Self {
        Self { conn, dialect }
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Starts a transaction (`START TRANSACTION`, a text statement in either mode).
    pub async fn begin(&mut self) -> DbResult<DbTx<'_>> {
        let dialect = self.dialect;
        let tx = self.conn.start_transaction(TxOpts::default()).await?;
        Ok(DbTx { tx, dialect })
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
        first_on(&mut self.conn, self.dialect, sql, params.into())
    }

    fn rows<'a, T: FromRow + Send + 'static>(
        &'a mut self,
        sql: &'a str,
        params: impl Into<Params>,
    ) -> DbFuture<'a, Vec<T>> {
        rows_on(&mut self.conn, self.dialect, sql, params.into())
    }

    fn run<'a>(&'a mut self, sql: &'a str, params: impl Into<Params>) -> DbFuture<'a, Outcome> {
        run_on(&mut self.conn, self.dialect, sql, params.into())
    }
}

/// A transaction of a [`DbConn`]; dropped without [`DbTx::commit`], it is rolled back.
pub struct DbTx<'c> {
    tx: Transaction<'c>,
    dialect: Dialect,
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
        first_on(&mut self.tx, self.dialect, sql, params.into())
    }

    fn rows<'a, T: FromRow + Send + 'static>(
        &'a mut self,
        sql: &'a str,
        params: impl Into<Params>,
    ) -> DbFuture<'a, Vec<T>> {
        rows_on(&mut self.tx, self.dialect, sql, params.into())
    }

    fn run<'a>(&'a mut self, sql: &'a str, params: impl Into<Params>) -> DbFuture<'a, Outcome> {
        run_on(&mut self.tx, self.dialect, sql, params.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bound(sql: &str, values: Vec<Value>) -> String {
        bind(sql, &Params::Positional(values), Escaping::Backslash).unwrap()
    }

    #[test]
    fn placeholders_outside_quotes_and_comments_take_the_values_in_order() {
        assert_eq!(
            bound(
                "UPDATE t SET a = ? WHERE id = ?",
                vec!["x".into(), 7u64.into()]
            ),
            "UPDATE t SET a = 'x' WHERE id = 7"
        );
        assert_eq!(
            bound(
                "SELECT '?', \"?\", `?`, ? -- ?\n, ? # ?\n/* ? */",
                vec![1u64.into(), 2u64.into()]
            ),
            "SELECT '?', \"?\", `?`, 1 -- ?\n, 2 # ?\n/* ? */"
        );
        assert_eq!(bound("SELECT a - ?", vec![(-1i64).into()]), "SELECT a - -1");
        assert_eq!(bound("SELECT a-?", vec![(-1i64).into()]), "SELECT a- -1");
    }

    #[test]
    fn the_counts_must_agree_and_names_are_refused() {
        for (sql, values) in [("SELECT ?", vec![]), ("SELECT 1", vec![Value::from(1u64)])] {
            assert!(bind(sql, &Params::Positional(values), Escaping::Backslash).is_err());
        }
        let named = Params::Named(Default::default());
        assert!(bind("SELECT 1", &named, Escaping::Backslash).is_err());
        assert_eq!(
            bind("SELECT 1", &Params::Empty, Escaping::Backslash).unwrap(),
            "SELECT 1"
        );
    }

    #[test]
    fn each_rule_escapes_quotes_its_own_way() {
        let value = Value::from("a'b\\c");
        assert_eq!(literal(&value, Escaping::Backslash), "'a\\'b\\\\c'");
        assert_eq!(literal(&value, Escaping::NoBackslashEscapes), "'a''b\\c'");
        assert_eq!(
            literal(&Value::Bytes(vec![0xff, 0]), Escaping::Backslash),
            "0xFF00"
        );
        assert_eq!(literal(&Value::NULL, Escaping::Backslash), "NULL");
    }

    #[test]
    fn the_probe_answer_names_the_rule() {
        assert_eq!(Escaping::from_probe(Some(1)).unwrap(), Escaping::Backslash);
        assert_eq!(
            Escaping::from_probe(Some(2)).unwrap(),
            Escaping::NoBackslashEscapes
        );
        assert!(Escaping::from_probe(None).is_err());
        assert!(Escaping::from_probe(Some(3)).is_err());
    }
}
