//! The database user the HTTP functions connect as: it may read and write the API's rows
//! (`SELECT, INSERT, UPDATE, DELETE` on the API's schema) and nothing else: no DDL, no other
//! schema, no grants. The `migrate` function, which holds the DDL user the operator gave, creates
//! it or brings it up to date on every run; its password is a secret the stack generates.

use mysql_async::prelude::Queryable;

use crate::config::Secret;
use crate::db::DbSetupError;

pub const PRIVILEGES: &str = "SELECT, INSERT, UPDATE, DELETE";

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

/// Creates `user` when missing, sets its password, and leaves it exactly [`PRIVILEGES`] on the
/// connection's database (anything granted before is revoked). Account statements take no
/// placeholders, so the password goes in as a quoted literal, escaped here.
pub async fn ensure(conn: &mut mysql_async::Conn, user: &AppUser) -> Result<String, DbSetupError> {
    if !valid_username(&user.username) {
        return Err(DbSetupError::InvalidAppUser(format!(
            "user name {:?}: 1 to 32 letters, digits, _ or -",
            user.username
        )));
    }
    let database: Option<String> = conn.query_first("SELECT DATABASE()").await?;
    let database = database.ok_or(DbSetupError::MissingDatabaseName)?;
    let account = format!("'{}'@'%'", user.username);
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
    conn.query_drop(format!("GRANT {PRIVILEGES} ON `{database}`.* TO {account}"))
        .await?;
    Ok(format!(
        "database user {} may {PRIVILEGES} on {database} only",
        user.username
    ))
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
        for bad in ["", "a'b", "a@b", "a b", &"a".repeat(33)] {
            assert!(!valid_username(bad), "{bad}");
        }
    }
}
