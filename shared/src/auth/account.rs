//! The user record as the API shows it, and how it is read from a row. A module of its own, so
//! authentication and the user store both build on it without importing each other.

use crate::db::FromValue;
use crate::db::Row;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;

use crate::error::ApiError;

/// A user as the API shows it: never with a password or its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct User {
    #[schema(minimum = 1)]
    pub id: u64,
    pub name: String,
    pub cellnumber: String,
    pub email: Option<String>,
    pub profilepic: Option<String>,
    #[serde(rename = "roleId")]
    #[schema(minimum = 1, maximum = 2)]
    pub role_id: u8,
    /// False once an admin disabled the account: it cannot sign in and its tokens are refused.
    #[serde(rename = "isActive")]
    pub is_active: bool,
    /// True while the user's second factor (TOTP) is on: login then asks for a code.
    #[serde(rename = "mfaEnabled")]
    pub mfa_enabled: bool,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
}

impl User {
    /// An admin whose account is enabled: the service must always keep one.
    pub fn is_active_admin(&self) -> bool {
        self.role_id == crate::auth::policy::Role::Admin.id() && self.is_active
    }
}

/// The columns [`User::from_row_at`] reads, for a query that aliases `users` as `$table`; a macro
/// so the queries are whole `&'static str`s, built at compile time rather than per request.
macro_rules! user_columns {
    ($table:ident) => {
        concat!(
            stringify!($table),
            ".id, ",
            stringify!($table),
            ".name, ",
            stringify!($table),
            ".cellnumber, ",
            stringify!($table),
            ".email, ",
            stringify!($table),
            ".profilepic, ",
            stringify!($table),
            ".role_id, ",
            stringify!($table),
            ".is_active, ",
            stringify!($table),
            ".mfa_enabled, ",
            stringify!($table),
            ".created, ",
            stringify!($table),
            ".updated"
        )
    };
}
pub(crate) use user_columns;

/// How many columns `user_columns!` names.
pub(crate) const USER_COLUMNS: usize = 10;

/// Column `index` of `row`; a missing column or another type is a bug of ours, not of the input.
fn column<T: FromValue>(row: &mut Row, index: usize) -> Result<T, ApiError> {
    match row.take_opt(index) {
        Some(Ok(value)) => Ok(value),
        _ => Err(ApiError::Internal(format!(
            "column {index} of a user row is missing or of another type"
        ))),
    }
}

impl User {
    /// The user whose `user_columns!` start at column `first` of `row`; `None` when they are
    /// NULL, as a LEFT JOIN that matched no user leaves them.
    pub(crate) fn from_row_at(row: &mut Row, first: usize) -> Result<Option<Self>, ApiError> {
        let Some(id) = column::<Option<u64>>(row, first)? else {
            return Ok(None);
        };
        Ok(Some(Self {
            id,
            name: column(row, first + 1)?,
            cellnumber: column(row, first + 2)?,
            email: column(row, first + 3)?,
            profilepic: column(row, first + 4)?,
            role_id: column(row, first + 5)?,
            is_active: column(row, first + 6)?,
            mfa_enabled: column(row, first + 7)?,
            created: column::<NaiveDateTime>(row, first + 8)?.and_utc(),
            updated: column::<NaiveDateTime>(row, first + 9)?.and_utc(),
        }))
    }
}
