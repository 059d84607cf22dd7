//! `users-cli migrate` and `users-cli bootstrap-admin`: the local chores behind `make migrate`,
//! `make admin` and `make serve`. Reads DATABASE_URL (and, for the admin, ADMIN_CELLNUMBER,
//! ADMIN_PASSWORD, optional ADMIN_NAME and BCRYPT_COST) from the environment or `.env`.

use std::process::ExitCode;

use shared::app::config::{bcrypt_cost_range, DatabaseTls, DEFAULT_BCRYPT_COST};
use shared::db::{self, DbSetupError};
use shared::users::first_admin::{self, AdminBootstrap, AdminRequest};

const USAGE: &str = "usage: users-cli migrate | bootstrap-admin | ping URL | \
                     drop-test-databases URL PREFIX | openapi";

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    shared::app::config::load_dotenv();
    let command = std::env::args().nth(1).unwrap_or_default();
    let outcome = match command.as_str() {
        "migrate" => migrate().await,
        "bootstrap-admin" => bootstrap_admin().await,
        "ping" => ping(std::env::args().nth(2)).await,
        "drop-test-databases" => {
            drop_test_databases(std::env::args().nth(2), std::env::args().nth(3)).await
        }
        // The document exactly as `GET /api/openapi.json` serves it, for the linters and the
        // generated clients of `make lint-openapi` and `make test`.
        "openapi" => Ok(shared::http::openapi::document_json().to_owned()),
        _ => Err(USAGE.to_owned()),
    };
    match outcome {
        Ok(message) => {
            println!("{message}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// `DB_TLS` (and `DB_TLS_CA`) as the functions read them (off unless set), for servers that
/// require TLS.
fn database_tls() -> Result<DatabaseTls, String> {
    DatabaseTls::from_lookup(&|name: &str| std::env::var(name).ok())
        .map_err(|error| error.to_string())
}

fn required(name: &str) -> Result<String, String> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
        .ok_or_else(|| format!("{name} is not set"))
}

fn explain(database_url: &str, error: DbSetupError) -> String {
    match error {
        DbSetupError::Unreachable { address, source } => format!(
            "cannot connect to MySQL at {address} ({source}).\n\
             Start MySQL or MariaDB there, or point DATABASE_URL at a running server. On Debian:\n  \
             mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld\n  \
             start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql\n\
             (URL tried: {})",
            redact(database_url)
        ),
        other => other.to_string(),
    }
}

/// The URL without its password, for messages.
fn redact(database_url: &str) -> String {
    match (database_url.find("://"), database_url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &database_url[scheme + 3..at];
            let user = credentials.split(':').next().unwrap_or("");
            let hidden = if credentials.contains(':') {
                ":***"
            } else {
                ""
            };
            format!(
                "{}{user}{hidden}{}",
                &database_url[..scheme + 3],
                &database_url[at..]
            )
        }
        _ => database_url.to_owned(),
    }
}

async fn migrate() -> Result<String, String> {
    let database_url = required("DATABASE_URL")?;
    let applied = db::prepare(&database_url, database_tls()?)
        .await
        .map_err(|error| explain(&database_url, error))?;
    Ok(format!(
        "database {} is current ({applied} migration(s) applied now)",
        redact(&database_url)
    ))
}

async fn ping(url: Option<String>) -> Result<String, String> {
    let url = url.ok_or(USAGE)?;
    db::ping_server(&url, database_tls()?)
        .await
        .map_err(|error| explain(&url, error))?;
    Ok(format!("MySQL at {} answers", db::address_of(&url)))
}

async fn drop_test_databases(
    url: Option<String>,
    prefix: Option<String>,
) -> Result<String, String> {
    let (url, prefix) = url.zip(prefix).ok_or(USAGE)?;
    let dropped = db::drop_databases_with_prefix(&url, &prefix)
        .await
        .map_err(|error| explain(&url, error))?;
    Ok(format!(
        "dropped {dropped} test database(s) left by this run"
    ))
}

async fn bootstrap_admin() -> Result<String, String> {
    let database_url = required("DATABASE_URL")?;
    let cellnumber = required("ADMIN_CELLNUMBER")?;
    let password = required("ADMIN_PASSWORD")?;
    let name = std::env::var("ADMIN_NAME").unwrap_or_else(|_| "Administrator".to_owned());
    let cost = match std::env::var("BCRYPT_COST") {
        Ok(raw) => raw
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|cost| bcrypt_cost_range().contains(cost))
            .ok_or_else(|| {
                format!("BCRYPT_COST must be a whole number from 4 to 31, got {raw:?}")
            })?,
        Err(_) => DEFAULT_BCRYPT_COST,
    };
    db::prepare(&database_url, database_tls()?)
        .await
        .map_err(|error| explain(&database_url, error))?;
    let pool = shared::db::pool::DbPool::new(&database_url, database_tls()?)
        .map_err(|error| error.to_string())?;
    let mut conn = pool
        .conn()
        .await
        .map_err(|error| format!("cannot connect to {}: {error}", redact(&database_url)))?;
    // Whoever runs this holds the database's credentials: it may reset the admin's password
    // (force), but like the migrate function it never promotes a normal user.
    let request = AdminRequest {
        name: &name,
        cellnumber: &cellnumber,
        password: &password,
        force: true,
    };
    let outcome = first_admin::bootstrap_admin(&mut conn, &request, cost)
        .await
        .map_err(|error| match error {
            shared::ApiError::Validation(fields) => format!(
                "ADMIN_{} {}",
                fields[0].loc[0].to_uppercase(),
                fields[0].msg
            ),
            shared::ApiError::Conflict(reason) => {
                format!("ADMIN_CELLNUMBER {cellnumber}: {reason}")
            }
            other => other.to_string(),
        })?;
    drop(conn);
    pool.current().disconnect().await.ok();
    Ok(match outcome {
        AdminBootstrap::Created(id) => format!("created admin {cellnumber} (id {id})"),
        AdminBootstrap::Reset(id) => {
            format!("reset admin {cellnumber} (id {id}): password and role set")
        }
        AdminBootstrap::Unchanged(id) => format!("admin {cellnumber} (id {id}) already set up"),
    })
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_are_hidden_in_urls() {
        assert_eq!(redact("mysql://root@h:3306/db"), "mysql://root@h:3306/db");
        assert_eq!(redact("mysql://app:s3cret@h/db"), "mysql://app:***@h/db");
    }
}
