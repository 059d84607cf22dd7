//! Writing events: each in the statement batch or transaction of the change it records, so no
//! change is without its event and a refused request writes none; and removing old ones.

use crate::db::Value;

use super::event::{Event, LoginFailure};
use crate::auth::source_ip::SourceIp;
use crate::db::batch::Statement;
use crate::db::statements::Statements;
use crate::error::ApiError;

/// Who acted, on whom, from where.
#[derive(Debug, Clone, Copy)]
pub struct Parties<'a> {
    /// The signed-in user who acted; `None` at login.
    pub actor_id: Option<u64>,
    /// The user acted on; `None` when there is none (an unknown cellnumber).
    pub target_id: Option<u64>,
    /// The address API Gateway saw (`http::source_ip`), never a header.
    pub source: &'a SourceIp,
}

impl Parties<'_> {
    fn source_ip(&self) -> Option<&str> {
        Some(self.source.as_str()).filter(|ip| *ip != SourceIp::UNKNOWN)
    }
}

/// The one INSERT of an event; what follows it gives the row (a VALUES list or a SELECT).
macro_rules! insert_event {
    () => {
        "INSERT INTO audit_event (at, action, actor_id, target_id, source_ip, detail) "
    };
}

const INSERT: &str = concat!(insert_event!(), "VALUES (UTC_TIMESTAMP(6), ?, ?, ?, ?, ?)");

/// Writes `event` on the transaction (or connection) of the change it
/// records: call it inside that transaction, before its commit.
pub async fn record<Q: Statements>(
    db: &mut Q,
    parties: Parties<'_>,
    event: &Event<'_>,
) -> Result<(), ApiError> {
    db.run(
        INSERT,
        (
            event.action(),
            parties.actor_id,
            parties.target_id,
            parties.source_ip(),
            event.detail().to_string(),
        ),
    )
    .await?;
    Ok(())
}

/// The statement that writes `event` inside a [`sql_batch`], whatever the statements before it did.
pub(crate) fn insert(parties: Parties<'_>, event: &Event<'_>) -> Statement {
    Statement::new(INSERT, values(parties, event))
}

/// The row a conditional event depends on: a table and a condition that finds at most one row,
/// e.g. `users WHERE id = ? AND updated = ?`, with its values.
pub(crate) struct RowCondition {
    from: String,
    values: Vec<Value>,
}

impl RowCondition {
    pub(crate) fn new(from: impl Into<String>, values: impl Into<Vec<Value>>) -> Self {
        Self {
            from: from.into(),
            values: values.into(),
        }
    }
}

/// The statement that writes `event` inside a [`sql_batch`] exactly when the row of `row`
/// exists, and locks that row to the end of the transaction. Put before the statement that
/// changes the row under the same condition, it writes the event exactly when the change
/// happens: the lock keeps every other writer off the row in between. (`ROW_COUNT()` after the
/// change would say the same, but RDS Proxy may pin a session that calls it.)
pub(crate) fn insert_if_row(
    parties: Parties<'_>,
    event: &Event<'_>,
    row: RowCondition,
) -> Statement {
    let mut values = values(parties, event).to_vec();
    values.extend(row.values);
    Statement::new(
        format!(
            concat!(
                insert_event!(),
                "SELECT UTC_TIMESTAMP(6), ?, ?, ?, ?, ? FROM {} FOR UPDATE"
            ),
            row.from
        ),
        values,
    )
}

/// The statement that writes `event` inside a [`sql_batch`] right after the INSERT of the row it
/// records, with that row's id as the target: the row of `row`, found by a unique key.
pub(crate) fn insert_for_new_row(
    parties: Parties<'_>,
    event: &Event<'_>,
    row: RowCondition,
) -> Statement {
    let [action, actor_id, _, source_ip, detail] = values(parties, event);
    let mut values = vec![action, actor_id, source_ip, detail];
    values.extend(row.values);
    Statement::new(
        format!(
            concat!(
                insert_event!(),
                "SELECT UTC_TIMESTAMP(6), ?, ?, id, ?, ? FROM {}"
            ),
            row.from
        ),
        values,
    )
}

/// The statement that writes a `login.failed` event for `cellnumber` (which must be a valid
/// cellnumber), its target the user that has it, if any. It rides on the login's clean-up query,
/// so a refused login costs no round trip for its event.
pub(crate) fn login_failed_statement(
    source: &SourceIp,
    cellnumber: &str,
    reason: LoginFailure,
) -> Statement {
    let event = Event::LoginFailed {
        cellnumber: Some(cellnumber),
        reason,
    };
    Statement::new(
        concat!(
            insert_event!(),
            "VALUES (UTC_TIMESTAMP(6), ?, NULL, (SELECT id FROM users WHERE cellnumber = ?), ?, ?)"
        ),
        [
            event.action().into(),
            cellnumber.into(),
            Some(source.as_str())
                .filter(|ip| *ip != SourceIp::UNKNOWN)
                .into(),
            event.detail().to_string().into(),
        ],
    )
}

fn values(parties: Parties<'_>, event: &Event<'_>) -> [Value; 5] {
    [
        event.action().into(),
        parties.actor_id.into(),
        parties.target_id.into(),
        parties.source_ip().into(),
        event.detail().to_string().into(),
    ]
}

/// Events removed per statement: a short lock on the index range, and a bounded undo log.
const PURGE_BATCH: u64 = 500;

/// Removes the events older than `retention_days`, in batches, until none is left or `budget`
/// is spent; returns how many went. Only the `migrate` function runs it, with the operator's
/// database user: the application's user may insert and read events, never delete them, so an
/// intruder in the request path cannot erase its own trail.
pub async fn purge_expired(
    conn: &mut crate::db::Conn,
    retention_days: u32,
    budget: std::time::Duration,
) -> Result<u64, crate::db::Error> {
    use mysql_async::prelude::Queryable;
    let started = std::time::Instant::now();
    let mut removed = 0;
    while started.elapsed() < budget {
        conn.exec_drop(
            "DELETE FROM audit_event WHERE at < UTC_TIMESTAMP(6) - INTERVAL ? DAY LIMIT 500",
            (retention_days,),
        )
        .await?;
        let batch = conn.affected_rows();
        removed += batch;
        if batch < PURGE_BATCH {
            break;
        }
    }
    Ok(removed)
}

// --- reading --------------------------------------------------------------------------------------
