//! What of a database error may reach a log line or an operator's message.
//!
//! A server error's text quotes the statement near the error and the values involved ("Duplicate
//! entry 'ada@example.com' for key ...", "... near 'x' at line 1" with the literals of a text
//! statement), and a driver error's debug form holds whole rows. So only the server's error code
//! and SQLSTATE are kept, and for the other kinds a fixed name of what went wrong.

use std::fmt;

/// The loggable part of a [`mysql_async::Error`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbErrorSummary {
    /// The server refused a statement or the connection: its error code and SQLSTATE.
    Server { code: u16, sqlstate: String },
    /// The connection failed or broke: the kind of I/O error (`connection refused`).
    Io(String),
    /// The TLS handshake or session failed: what rustls refused (`UnknownIssuer`,
    /// `NotValidForName`), which names certificates and never data, when the driver passed it on.
    Tls(Option<String>),
    /// The driver refused something: the name of the driver's error (`ConnectionClosed`).
    Driver(String),
    /// The connection URL is not usable: the name of the URL error (the URL holds the password).
    Url(String),
    /// An error this crate raised itself (`mysql_async` raises none of this kind): its text is
    /// ours and holds no values.
    Other(String),
}

/// What rustls refused, by name: `InvalidCertificate(UnknownIssuer)`, `NotValidForName`.
fn tls_reason(error: &rustls::Error) -> String {
    match error {
        rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForNameContext {
            ..
        }) => "InvalidCertificate(NotValidForName)".to_owned(),
        rustls::Error::General(_) => "General".to_owned(),
        other => format!("{other:?}"),
    }
}

/// The parts of `error` that may be logged: never its message, which may quote values.
pub fn summarize(error: &mysql_async::Error) -> DbErrorSummary {
    match error {
        mysql_async::Error::Server(server) => DbErrorSummary::Server {
            code: server.code,
            sqlstate: sqlstate(&server.state),
        },
        // A refused certificate reaches the driver as an I/O error wrapping rustls' error.
        mysql_async::Error::Io(mysql_async::IoError::Io(io)) => match io
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            Some(tls) => DbErrorSummary::Tls(Some(tls_reason(tls))),
            None => DbErrorSummary::Io(io.kind().to_string()),
        },
        mysql_async::Error::Io(mysql_async::IoError::Tls(_)) => DbErrorSummary::Tls(None),
        mysql_async::Error::Driver(driver) => DbErrorSummary::Driver(variant_name(driver)),
        mysql_async::Error::Url(url) => DbErrorSummary::Url(variant_name(url)),
        mysql_async::Error::Other(other) => DbErrorSummary::Other(other.to_string()),
    }
}

impl fmt::Display for DbErrorSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Server { code, sqlstate } => {
                write!(f, "server error {code} (SQLSTATE {sqlstate})")
            }
            Self::Io(kind) => write!(f, "I/O error: {kind}"),
            Self::Tls(None) => f.write_str("TLS error"),
            Self::Tls(Some(reason)) => write!(f, "TLS error: {reason}"),
            Self::Driver(name) => write!(f, "driver error {name}"),
            Self::Url(name) => write!(f, "connection URL error {name}"),
            Self::Other(text) => f.write_str(text),
        }
    }
}

/// A [`mysql_async::Error`] shown as its [`summarize`]d form: what `tracing` fields and error
/// texts use (`error = %Summarized(&error)`).
pub struct Summarized<'a>(pub &'a mysql_async::Error);

impl fmt::Display for Summarized<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        summarize(self.0).fmt(f)
    }
}

/// A refinery error with the database error inside it summarized: refinery's own text names
/// the step ("error applying migrations"), the source is the server's error.
pub fn summarize_migration(error: &refinery::Error) -> String {
    match error.kind() {
        refinery::error::Kind::Connection(step, source) => {
            match source.downcast_ref::<mysql_async::Error>() {
                Some(database) => format!("{step}: {}", summarize(database)),
                None => format!("{step}: an error of the database driver"),
            }
        }
        // The other kinds name migration files and versions, which are ours.
        _ => error.to_string(),
    }
}

/// A SQLSTATE is five characters from `[0-9A-Z]`; anything else the server sent is not shown.
fn sqlstate(state: &str) -> String {
    if state.len() == 5 && state.bytes().all(|b| b.is_ascii_alphanumeric()) {
        state.to_owned()
    } else {
        "?????".to_owned()
    }
}

/// The name of an enum variant from its derived `Debug` (`FromValue { value: .. }` → `FromValue`):
/// the fields, which may hold row values or a URL, are left out.
fn variant_name(error: &impl fmt::Debug) -> String {
    let debug = format!("{error:?}");
    let name: String = debug
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    if name.is_empty() {
        "Unknown".to_owned()
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALUE: &str = "ada.secret@example.com";

    fn server(code: u16, state: &str, message: String) -> mysql_async::Error {
        mysql_async::Error::Server(mysql_async::ServerError {
            code,
            message,
            state: state.into(),
        })
    }

    #[test]
    fn a_server_error_keeps_its_code_and_sqlstate_and_loses_its_message() {
        let error = server(
            1062,
            "23000",
            format!("Duplicate entry '{VALUE}' for key 'uq_users_email'"),
        );
        assert_eq!(
            summarize(&error),
            DbErrorSummary::Server {
                code: 1062,
                sqlstate: "23000".into()
            }
        );
        let text = Summarized(&error).to_string();
        assert_eq!(text, "server error 1062 (SQLSTATE 23000)");
        let syntax = server(
            1064,
            "42000",
            format!("You have an error in your SQL syntax; ... near 'UPDATE users SET email = '{VALUE}'' at line 1"),
        );
        let text = Summarized(&syntax).to_string();
        assert!(!text.contains(VALUE) && !text.contains("UPDATE"), "{text}");
    }

    #[test]
    fn a_sqlstate_that_is_not_one_is_not_shown() {
        let error = server(1064, &format!("'{VALUE}'"), String::new());
        assert_eq!(
            Summarized(&error).to_string(),
            "server error 1064 (SQLSTATE ?????)"
        );
    }

    #[test]
    fn driver_and_url_errors_keep_their_name_only() {
        let row_value = mysql_async::Value::Bytes(VALUE.as_bytes().to_vec());
        let driver =
            mysql_async::Error::Driver(mysql_async::DriverError::FromValue { value: row_value });
        assert_eq!(Summarized(&driver).to_string(), "driver error FromValue");
        let url = mysql_async::Error::Url(mysql_async::UrlError::InvalidParamValue {
            param: "password".into(),
            value: VALUE.into(),
        });
        assert_eq!(
            Summarized(&url).to_string(),
            "connection URL error InvalidParamValue"
        );
        let closed = mysql_async::Error::Driver(mysql_async::DriverError::ConnectionClosed);
        assert_eq!(
            Summarized(&closed).to_string(),
            "driver error ConnectionClosed"
        );
    }

    #[test]
    fn an_io_error_keeps_its_kind() {
        let refused = mysql_async::Error::from(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            format!("refused while sending '{VALUE}'"),
        ));
        let text = Summarized(&refused).to_string();
        assert_eq!(text, "I/O error: connection refused");
    }

    #[test]
    fn a_refused_certificate_keeps_what_rustls_refused() {
        let refused = mysql_async::Error::from(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        ));
        assert_eq!(
            Summarized(&refused).to_string(),
            "TLS error: InvalidCertificate(UnknownIssuer)"
        );
    }
}

/// MySQL server error codes that decide a status other than 500.
pub mod codes {
    pub const DUPLICATE_ENTRY: u16 = 1062;
    /// A row whose foreign key names a row that is gone (a token of a user deleted meanwhile).
    pub const NO_REFERENCED_ROW: u16 = 1452;
    /// The server refused the connection's credentials: after a rotation of the database secret
    /// that the instance could not pick up yet (see `db::pool`).
    pub const ACCESS_DENIED: u16 = 1045;

    pub const TOO_MANY_CONNECTIONS: u16 = 1040;
    pub const SERVER_SHUTDOWN: u16 = 1053;
    pub const LOCK_WAIT_TIMEOUT: u16 = 1205;
    pub const DEADLOCK: u16 = 1213;
    /// `--read-only` (MySQL) and read-only mode (MariaDB): what a writer demoted by a failover
    /// answers to writes.
    pub const READ_ONLY: u16 = 1290;
    pub const READ_ONLY_MODE: u16 = 1836;
    /// `KILL QUERY` by an operator or a proxy.
    pub const QUERY_INTERRUPTED: u16 = 1317;
    /// What an `INSERT` interrupted (`KILL QUERY`) while it takes the table's auto-increment
    /// value answers (found by `db_faults.rs` under proxy mode's text statements).
    pub const AUTO_INCREMENT_UNREADABLE: u16 = 1467;
    /// MariaDB's answer to a statement whose session was killed (`KILL CONNECTION`).
    pub const CONNECTION_KILLED: u16 = 1927;
    /// MariaDB's `max_statement_time`, MySQL's `max_execution_time`.
    pub const STATEMENT_TIMEOUT: u16 = 1969;
    pub const QUERY_TIMEOUT: u16 = 3024;
    /// MySQL 8 closing a session that was idle past `wait_timeout`.
    pub const IDLE_SESSION_CLOSED: u16 = 4031;
    pub const SERVER_GONE: u16 = 2006;
    pub const SERVER_LOST: u16 = 2013;

    /// Server errors that say the database cannot serve the request now, not that the request is
    /// wrong: a client that retries a moment later may well succeed, so they are 503s.
    pub const TRANSIENT: &[u16] = &[
        ACCESS_DENIED,
        TOO_MANY_CONNECTIONS,
        SERVER_SHUTDOWN,
        LOCK_WAIT_TIMEOUT,
        DEADLOCK,
        READ_ONLY,
        READ_ONLY_MODE,
        QUERY_INTERRUPTED,
        AUTO_INCREMENT_UNREADABLE,
        CONNECTION_KILLED,
        STATEMENT_TIMEOUT,
        QUERY_TIMEOUT,
        IDLE_SESSION_CLOSED,
        SERVER_GONE,
        SERVER_LOST,
    ];
}
