//! Reading events: `GET /api/audit`, for admins.

use crate::db::{Row, Value};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;

use super::event::ACTIONS;
use crate::auth::policy::Action;
use crate::auth::Authenticated;
use crate::error::ApiError;
use crate::paging::{page_rows, Page, PageQuery, Total};
use serde_json::json;

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
fn column<T: crate::db::FromValue>(row: &mut Row, index: usize) -> Result<T, ApiError> {
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
