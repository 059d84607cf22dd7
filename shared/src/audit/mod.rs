//! The audit log: who did what to whom, when and from where.
//!
//! An event is written by the statement batch or transaction of the change it records, so no
//! change is without its event and a refused request writes none. What an event can hold is
//! fixed by [`Event`]: each action with exactly the keys of its `detail`, none of which can be a
//! password, a hash or a token.

use chrono::{DateTime, NaiveDateTime, Utc};
use mysql_async::{Row, Value};
use serde::Serialize;
use serde_json::json;

use crate::auth::Authenticated;
use crate::error::ApiError;
use crate::paging::{page_rows, Page, PageQuery, Total};
use crate::policy::Action;
use crate::source_ip::SourceIp;
use crate::sql_batch::Statement;
use crate::statements::Statements;

/// Why a login was refused: the `reason` of a `login.failed` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginFailure {
    /// Wrong password or unknown cellnumber (401).
    Credentials,
    /// Too many attempts (429).
    Throttled,
    /// The right password of a disabled account (403).
    Disabled,
}

impl LoginFailure {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Credentials => "credentials",
            Self::Throttled => "throttled",
            Self::Disabled => "disabled",
        }
    }
}

/// One auditable event, with its detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event<'a> {
    LoginSucceeded {
        session_id: &'a str,
    },
    LoginFailed {
        /// `None` when what was typed is not a valid cellnumber: often a password in the wrong
        /// field, which must not be kept.
        cellnumber: Option<&'a str>,
        reason: LoginFailure,
    },
    Logout {
        scope: &'a str,
    },
    SessionRevoked {
        session_id: &'a str,
    },
    SessionsRevoked,
    RefreshReused {
        session_id: &'a str,
    },
    PasswordChanged,
    UserCreated {
        role_id: u8,
    },
    UserUpdated {
        fields: Vec<&'static str>,
    },
    UserDeleted {
        cellnumber: &'a str,
    },
    /// An operator's `bootstrap-admin` created the first admin or (with `force`) reset an
    /// admin's password: no signed-in actor, no address, but never silent.
    AdminBootstrapped {
        outcome: &'static str,
    },
}

/// Every action, as `GET /api/audit?action=` names it.
pub const ACTIONS: [&str; 11] = [
    "login.succeeded",
    "login.failed",
    "logout",
    "session.revoked",
    "sessions.revoked",
    "refresh.reused",
    "password.changed",
    "user.created",
    "user.updated",
    "user.deleted",
    "admin.bootstrapped",
];

impl Event<'_> {
    pub fn action(&self) -> &'static str {
        match self {
            Self::LoginSucceeded { .. } => "login.succeeded",
            Self::LoginFailed { .. } => "login.failed",
            Self::Logout { .. } => "logout",
            Self::SessionRevoked { .. } => "session.revoked",
            Self::SessionsRevoked => "sessions.revoked",
            Self::RefreshReused { .. } => "refresh.reused",
            Self::PasswordChanged => "password.changed",
            Self::UserCreated { .. } => "user.created",
            Self::UserUpdated { .. } => "user.updated",
            Self::UserDeleted { .. } => "user.deleted",
            Self::AdminBootstrapped { .. } => "admin.bootstrapped",
        }
    }

    /// The `detail` object: exactly the keys of the contract's table.
    pub fn detail(&self) -> serde_json::Value {
        match self {
            Self::LoginSucceeded { session_id }
            | Self::SessionRevoked { session_id }
            | Self::RefreshReused { session_id } => json!({ "sessionId": session_id }),
            Self::LoginFailed { cellnumber, reason } => json!({
                "cellnumber": cellnumber,
                "reason": reason.as_str(),
            }),
            Self::Logout { scope } => json!({ "scope": scope }),
            Self::SessionsRevoked | Self::PasswordChanged => json!({}),
            Self::UserCreated { role_id } => json!({ "roleId": role_id }),
            Self::UserUpdated { fields } => json!({ "fields": fields }),
            Self::UserDeleted { cellnumber } => json!({ "cellnumber": cellnumber }),
            Self::AdminBootstrapped { outcome } => json!({ "outcome": outcome }),
        }
    }
}

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

const INSERT: &str =
    "INSERT INTO audit_event (at, action, actor_id, target_id, source_ip, detail) \
     VALUES (UTC_TIMESTAMP(6), ?, ?, ?, ?, ?)";

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
            "INSERT INTO audit_event (at, action, actor_id, target_id, source_ip, detail) \
             SELECT UTC_TIMESTAMP(6), ?, ?, ?, ?, ? FROM {} FOR UPDATE",
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
            "INSERT INTO audit_event (at, action, actor_id, target_id, source_ip, detail) \
             SELECT UTC_TIMESTAMP(6), ?, ?, id, ?, ? FROM {}",
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
        "INSERT INTO audit_event (at, action, actor_id, target_id, source_ip, detail) \
         VALUES (UTC_TIMESTAMP(6), ?, NULL, (SELECT id FROM users WHERE cellnumber = ?), ?, ?)",
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
    conn: &mut mysql_async::Conn,
    retention_days: u32,
    budget: std::time::Duration,
) -> Result<u64, mysql_async::Error> {
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

/// An event as `GET /api/audit` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEvent {
    #[schema(minimum = 1)]
    pub id: u64,
    pub at: DateTime<Utc>,
    #[schema(example = "user.updated")]
    pub action: String,
    #[schema(minimum = 1)]
    pub actor_id: Option<u64>,
    #[schema(minimum = 1)]
    pub target_id: Option<u64>,
    pub source_ip: Option<String>,
    /// The keys of the action's row of the contract's table.
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

/// The filters of `GET /api/audit`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct AuditQuery {
    pub action: Option<&'static str>,
    pub actor_id: Option<u64>,
    pub target_id: Option<u64>,
    pub limit: u64,
    pub offset: u64,
}

impl AuditQuery {
    pub const PARAMETERS: [&'static str; 5] = ["action", "actorId", "targetId", "limit", "offset"];

    /// The query from the `(name, value)` pairs of the query string; anything else is 422.
    pub fn parse(pairs: &[(&str, &str)]) -> Result<Self, ApiError> {
        use crate::paging::{check_known, whole_number, DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT};
        check_known(pairs, &Self::PARAMETERS)?;
        let mut query = Self {
            limit: DEFAULT_PAGE_LIMIT,
            ..Self::default()
        };
        for &(name, raw) in pairs {
            match name {
                "action" => {
                    query.action =
                        Some(ACTIONS.iter().copied().find(|a| *a == raw).ok_or_else(|| {
                            ApiError::validation(&["query", name], "must be one of the actions")
                        })?)
                }
                "actorId" => query.actor_id = Some(whole_number(name, raw, 1..=i64::MAX as u64)?),
                "targetId" => query.target_id = Some(whole_number(name, raw, 1..=i64::MAX as u64)?),
                "limit" => query.limit = whole_number(name, raw, 1..=MAX_PAGE_LIMIT)?,
                "offset" => query.offset = whole_number(name, raw, 0..=i64::MAX as u64)?,
                _ => unreachable!("checked above"),
            }
        }
        Ok(query)
    }
}

pub async fn list(
    signed_in: &mut Authenticated,
    query: AuditQuery,
) -> Result<Page<AuditEvent>, ApiError> {
    signed_in.principal.authorize(Action::ReadAudit)?;
    let mut conditions = Vec::new();
    let mut params: Vec<Value> = Vec::new();
    if let Some(action) = query.action {
        conditions.push("action = ?");
        params.push(action.into());
    }
    if let Some(actor_id) = query.actor_id {
        conditions.push("actor_id = ?");
        params.push(actor_id.into());
    }
    if let Some(target_id) = query.target_id {
        conditions.push("target_id = ?");
        params.push(target_id.into());
    }
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    };
    let page = PageQuery {
        columns: "id, at, action, actor_id, target_id, source_ip, detail",
        from: "audit_event",
        filter: &filter,
        params: &params,
        order_by: "id DESC",
        total: Total::Subquery,
        limit: query.limit,
        offset: query.offset,
    };
    let (rows, total) = page_rows(signed_in.conn(), &page).await?;
    let mut items = Vec::with_capacity(rows.len());
    for mut row in rows {
        items.push(event_of(&mut row)?);
    }
    Ok(Page {
        items,
        total,
        limit: query.limit,
        offset: query.offset,
    })
}

/// Column `index` of an audit row; another shape is a bug of ours.
fn column<T: mysql_async::prelude::FromValue>(row: &mut Row, index: usize) -> Result<T, ApiError> {
    match row.take_opt(index) {
        Some(Ok(value)) => Ok(value),
        _ => Err(ApiError::Internal(format!(
            "column {index} of an audit row is missing or of another type"
        ))),
    }
}

fn event_of(row: &mut Row) -> Result<AuditEvent, ApiError> {
    let detail: String = column(row, 6)?;
    Ok(AuditEvent {
        id: column(row, 0)?,
        at: column::<NaiveDateTime>(row, 1)?.and_utc(),
        action: column(row, 2)?,
        actor_id: column(row, 3)?,
        target_id: column(row, 4)?,
        source_ip: column(row, 5)?,
        detail: serde_json::from_str(&detail).unwrap_or_else(|_| json!({})),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_is_listed_once_with_the_keys_of_its_detail() {
        let events = [
            Event::LoginSucceeded { session_id: "s" },
            Event::LoginFailed {
                cellnumber: Some("+15550001234"),
                reason: LoginFailure::Throttled,
            },
            Event::Logout { scope: "local" },
            Event::SessionRevoked { session_id: "s" },
            Event::SessionsRevoked,
            Event::RefreshReused { session_id: "s" },
            Event::PasswordChanged,
            Event::UserCreated { role_id: 2 },
            Event::UserUpdated {
                fields: vec!["name"],
            },
            Event::UserDeleted {
                cellnumber: "+1555",
            },
            Event::AdminBootstrapped { outcome: "reset" },
        ];
        let actions: Vec<&str> = events.iter().map(Event::action).collect();
        assert_eq!(actions, ACTIONS);
        let keys = |event: &Event| -> Vec<String> {
            event
                .detail()
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect()
        };
        assert_eq!(keys(&events[1]), ["cellnumber", "reason"]);
        let unusable = Event::LoginFailed {
            cellnumber: None,
            reason: LoginFailure::Credentials,
        };
        assert!(unusable.detail()["cellnumber"].is_null());
        assert_eq!(keys(&events[4]), Vec::<String>::new());
        assert_eq!(keys(&events[8]), ["fields"]);
    }
}
