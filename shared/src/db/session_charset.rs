//! The character set a database session speaks, checked when a connection opens.
//!
//! The driver asks for utf8mb4 in its handshake, but a server may ignore that
//! (`--skip-character-set-client-handshake`) or change it right after (`init_connect = 'SET NAMES
//! gbk'`, which the server runs for every user without SUPER). Our literals mean the same in any
//! character set (see `statements`), but the rest does not: a prepared statement's string is read
//! in `character_set_client`, every string read back arrives in `character_set_results`, and
//! values outside that set are turned into `?`. Such a session would corrupt data quietly, so it
//! is refused: the request answers 503, and the log says which variable holds what.

use std::fmt;

/// The one character set a session may speak.
pub const REQUIRED: &str = "utf8mb4";

/// What a new connection asks, in the same round trip as its settings. Reading variables sets
/// nothing, so it is as harmless behind a proxy as anywhere.
pub const QUERY: &str =
    "SELECT @@character_set_client, @@character_set_connection, @@character_set_results";

const VARIABLES: [&str; 3] = [
    "character_set_client",
    "character_set_connection",
    "character_set_results",
];

/// The answer to [`QUERY`]: each variable's value (`NULL` is `None`).
pub type Answer = (Option<String>, Option<String>, Option<String>);

/// A session whose character set is not [`REQUIRED`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsupportedCharset {
    pub variable: &'static str,
    /// The variable's value; `None` when it is `NULL` or the server did not answer it.
    pub charset: Option<String>,
}

impl fmt::Display for UnsupportedCharset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the database session's {} is {}, not {REQUIRED}, so the connection was refused \
             (look at the server's init_connect, character_set_server and \
             skip-character-set-client-handshake)",
            self.variable,
            self.charset.as_deref().unwrap_or("NULL"),
        )
    }
}

impl std::error::Error for UnsupportedCharset {}

/// Whether the answer to [`QUERY`] is utf8mb4 throughout (`None`: no row came back).
pub fn check(answer: Option<Answer>) -> Result<(), UnsupportedCharset> {
    let Some((client, connection, results)) = answer else {
        return Err(UnsupportedCharset {
            variable: VARIABLES[0],
            charset: None,
        });
    };
    for (variable, charset) in VARIABLES.into_iter().zip([client, connection, results]) {
        if charset.as_deref() != Some(REQUIRED) {
            return Err(UnsupportedCharset { variable, charset });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(client: &str, connection: &str, results: Option<&str>) -> Option<Answer> {
        Some((
            Some(client.to_owned()),
            Some(connection.to_owned()),
            results.map(str::to_owned),
        ))
    }

    #[test]
    fn only_utf8mb4_throughout_is_accepted() {
        assert_eq!(check(answer("utf8mb4", "utf8mb4", Some("utf8mb4"))), Ok(()));
        let refused = check(answer("utf8mb4", "gbk", Some("utf8mb4"))).unwrap_err();
        assert_eq!(refused.variable, "character_set_connection");
        assert!(refused
            .to_string()
            .contains("character_set_connection is gbk"));
        for refused in [
            answer("gbk", "gbk", Some("gbk")),
            answer("utf8mb3", "utf8mb4", Some("utf8mb4")),
            answer("utf8mb4", "utf8mb4", None),
            answer("utf8mb4", "utf8mb4", Some("big5")),
            None,
        ] {
            assert!(check(refused.clone()).is_err(), "{refused:?}");
        }
    }
}
