//! The database user the HTTP functions connect as: it may read the API's schema and write the
//! API's rows, and nothing else: no DDL, no other schema, no grants, and no way to change or
//! remove an audit event (only the `migrate` function's retention clean-up, with the operator's
//! user, deletes them). The `migrate` function, which holds the DDL user the operator gave,
//! creates it or brings it up to date on every run; its password is a secret the stack generates.

use mysql_async::prelude::Queryable;

use crate::db::DbSetupError;
use crate::secret::Secret;

/// On the whole schema, so a table a later migration adds is readable at once.
pub const SCHEMA_PRIVILEGES: &str = "SELECT";
/// On each table of the API but those of [`INSERT_ONLY_TABLES`] and [`UNTOUCHED_TABLES`].
pub const ROW_PRIVILEGES: &str = "INSERT, UPDATE, DELETE";
/// Tables the request path appends to and reads, but never changes: the audit trail.
const INSERT_ONLY_TABLES: [&str; 1] = ["audit_event"];
/// The migrations' own bookkeeping: read-only to the application.
const UNTOUCHED_TABLES: [&str; 1] = ["refinery_schema_history"];

/// The application user, as its secret holds it.
#[derive(Clone)]
pub struct AppUser {
    pub username: String,
    pub password: Secret,
}

impl std::fmt::Debug for AppUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppUser")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// A user name MySQL and MariaDB both accept, quoted as nothing else can be.
fn valid_username(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn checked_username(name: &str) -> Result<&str, DbSetupError> {
    if valid_username(name) {
        Ok(name)
    } else {
        Err(DbSetupError::InvalidAppUser(format!(
            "user name {name:?}: 1 to 32 letters, digits, _ or -"
        )))
    }
}

/// Refuses to touch the account this connection runs as: the migrations' own user must never be
/// altered, stripped of its rights or dropped because a parameter names it.
async fn refuse_current_user(conn: &mut mysql_async::Conn, name: &str) -> Result<(), DbSetupError> {
    let current: Option<String> = conn.query_first("SELECT CURRENT_USER()").await?;
    let current = current.unwrap_or_default();
    let current_name = current
        .rsplit_once('@')
        .map_or(current.as_str(), |(user, _)| user);
    if current_name == name {
        return Err(DbSetupError::InvalidAppUser(format!(
            "{name:?} is the account the migrations run as; the application user must be another one"
        )));
    }
    Ok(())
}

/// The connection's database as the database part of `GRANT … ON <db>.*`, where `_` and `%`
/// are wildcards: escaped, so the grant is on this one database and not on every name it
/// matches (`ut_1` would match `utX1`).
pub fn grant_database_pattern(database: &str) -> Result<String, DbSetupError> {
    if database.is_empty() || database.contains(['`', '\\']) {
        return Err(DbSetupError::InvalidDatabaseName(database.to_owned()));
    }
    Ok(format!(
        "`{}`",
        database.replace('_', "\\_").replace('%', "\\%")
    ))
}

/// Creates `user` when missing, sets its password, and leaves it exactly [`SCHEMA_PRIVILEGES`]
/// on the connection's database, [`ROW_PRIVILEGES`] on its tables and only INSERT on the audit
/// trail (anything granted before is revoked). Refused when `user` is the account the connection
/// runs as. Account statements take no placeholders, so the password goes in as a quoted
/// literal, escaped here.
pub async fn ensure(conn: &mut mysql_async::Conn, user: &AppUser) -> Result<String, DbSetupError> {
    let name = checked_username(&user.username)?;
    refuse_current_user(conn, name).await?;
    let database: Option<String> = conn.query_first("SELECT DATABASE()").await?;
    let database = database.ok_or(DbSetupError::MissingDatabaseName)?;
    let schema = grant_database_pattern(&database)?;
    let tables: Vec<String> = conn
        .query(
            "SELECT table_name FROM information_schema.tables \
             WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' ORDER BY table_name",
        )
        .await?;
    let account = format!("'{name}'@'%'");
    let password = quote(user.password.expose());
    conn.query_drop(format!(
        "CREATE USER IF NOT EXISTS {account} IDENTIFIED BY {password}"
    ))
    .await?;
    conn.query_drop(format!("ALTER USER {account} IDENTIFIED BY {password}"))
        .await?;
    conn.query_drop(format!(
        "REVOKE ALL PRIVILEGES, GRANT OPTION FROM {account}"
    ))
    .await?;
    conn.query_drop(format!(
        "GRANT {SCHEMA_PRIVILEGES} ON {schema}.* TO {account}"
    ))
    .await?;
    // Table grants name the database literally: no wildcards there.
    let quoted_database = format!("`{database}`");
    for table in &tables {
        let privileges = if INSERT_ONLY_TABLES.contains(&table.as_str()) {
            "INSERT"
        } else if UNTOUCHED_TABLES.contains(&table.as_str()) {
            continue;
        } else {
            ROW_PRIVILEGES
        };
        let table = table.replace('`', "``");
        conn.query_drop(format!(
            "GRANT {privileges} ON {quoted_database}.`{table}` TO {account}"
        ))
        .await?;
    }
    Ok(format!(
        "database user {name} may {SCHEMA_PRIVILEGES} on {database}, {ROW_PRIVILEGES} on its \
         tables and only INSERT on the audit trail"
    ))
}

/// Drops the account of a previous application user name (the stack's AppDatabaseUser before an
/// update renamed it), so the old name keeps no rights and no password. Never the current
/// application user, never the account the connection runs as.
pub async fn drop_previous(
    conn: &mut mysql_async::Conn,
    previous: &str,
    current: &AppUser,
) -> Result<Option<String>, DbSetupError> {
    if previous == current.username {
        return Ok(None);
    }
    let name = checked_username(previous)?;
    refuse_current_user(conn, name).await?;
    conn.query_drop(format!("DROP USER IF EXISTS '{name}'@'%'"))
        .await?;
    Ok(Some(format!("previous database user {name} dropped")))
}

/// A SQL string literal of `value` (backslashes and quotes escaped).
fn quote(value: &str) -> String {
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('\'');
    for c in value.chars() {
        match c {
            '\'' => quoted.push_str("''"),
            '\\' => quoted.push_str("\\\\"),
            '\0' => quoted.push_str("\\0"),
            other => quoted.push(other),
        }
    }
    quoted.push('\'');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_quoted_and_names_checked() {
        assert_eq!(quote(r"a'b\c"), r"'a''b\\c'");
        assert!(valid_username("users_api_app"));
        assert_eq!(grant_database_pattern("ut_1_%x").unwrap(), r"`ut\_1\_\%x`");
        for bad in ["", "a`b", r"a\b"] {
            assert!(grant_database_pattern(bad).is_err(), "{bad}");
        }
        for bad in ["", "a'b", "a@b", "a b", &"a".repeat(33)] {
            assert!(!valid_username(bad), "{bad}");
        }
    }
}
