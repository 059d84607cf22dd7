//! The login throttle: attempts per cellnumber, counted in the database (every Lambda instance is
//! a process of its own) before the password is checked.
//!
//! Counting first is what makes the limit hold under concurrency: each attempt takes its number
//! in one atomic upsert, and only the first `LOGIN_MAX_FAILURES` numbers of a window go on to
//! bcrypt, however many requests arrive at once. Two counters: one per (cellnumber, address),
//! so one address cannot lock a user out from everywhere, and one per cellnumber over every
//! address, so many addresses together still get only `LOGIN_MAX_FAILURES_TOTAL` guesses.

use std::time::Duration;

use crate::config::Config;
use crate::error::ApiError;
use crate::source_ip::SourceIp;
use crate::sql_batch::Statement;
use crate::statements::{DbConn, Statements};

/// The `source_ip` of the row that counts a cellnumber's attempts from every address.
const EVERY_ADDRESS: &str = "*";

/// Takes the next number of a counter, starting a new window when the old one has passed.
/// `LAST_INSERT_ID(expr)` hands the new count back in the statement's own answer, so the count
/// is the one this attempt made, not one read after other attempts moved it on.
const RESERVE: &str = "INSERT INTO login_attempt (cellnumber, source_ip, attempts, window_start) \
     VALUES (?, ?, 1, UTC_TIMESTAMP(6)) \
     ON DUPLICATE KEY UPDATE \
       attempts = LAST_INSERT_ID(IF(window_start <= UTC_TIMESTAMP(6) - INTERVAL ? SECOND, \
                                    1, attempts + 1)), \
       window_start = IF(window_start <= UTC_TIMESTAMP(6) - INTERVAL ? SECOND, \
                         UTC_TIMESTAMP(6), window_start)";

/// Whole seconds until a counter's window ends (at least 1).
const SECONDS_LEFT: &str = "SELECT GREATEST(1, CEIL(TIMESTAMPDIFF(MICROSECOND, UTC_TIMESTAMP(6), \
       window_start + INTERVAL ? SECOND) / 1000000)) \
     FROM login_attempt WHERE cellnumber = ? AND source_ip = ?";

/// The limits of one deployment.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub per_address: u32,
    pub total: u32,
    pub window: Duration,
}

impl Limits {
    pub fn of(config: &Config) -> Self {
        Self {
            per_address: config.login_max_failures,
            total: config.login_max_failures_total,
            window: config.login_window,
        }
    }
}

/// Counts an attempt to prove the password of `cellnumber` from `source`, before the password is
/// checked; past either limit it is refused with 429 and the password must not be checked. An
/// attempt refused for its address is not counted for the cellnumber, so one address alone
/// cannot use up the total.
pub async fn reserve(
    conn: &mut DbConn,
    limits: Limits,
    cellnumber: &str,
    source: &SourceIp,
) -> Result<(), ApiError> {
    for (address, limit) in [
        (source.as_str(), limits.per_address),
        (EVERY_ADDRESS, limits.total),
    ] {
        if take_number(conn, limits.window, cellnumber, address).await? > u64::from(limit) {
            let window_seconds = limits.window.as_secs();
            let retry_after_seconds = conn
                .first::<u64>(SECONDS_LEFT, (window_seconds, cellnumber, address))
                .await?
                .unwrap_or(window_seconds);
            return Err(ApiError::TooManyRequests {
                retry_after_seconds,
            });
        }
    }
    Ok(())
}

async fn take_number(
    conn: &mut DbConn,
    window: Duration,
    cellnumber: &str,
    address: &str,
) -> Result<u64, ApiError> {
    let window_seconds = window.as_secs();
    let outcome = conn
        .run(
            RESERVE,
            (cellnumber, address, window_seconds, window_seconds),
        )
        .await?;
    // 1: a new row (the first attempt); 2: an existing row updated, its count in the insert id.
    Ok(match outcome.affected_rows {
        1 => 1,
        _ => outcome.last_insert_id.unwrap_or(u64::MAX),
    })
}

/// After a proven password: the address starts again from zero, and the attempt that proved it
/// is given back to the total (the total keeps counting the failures of other addresses).
pub async fn succeeded(
    conn: &mut DbConn,
    cellnumber: &str,
    source: &SourceIp,
) -> Result<(), ApiError> {
    conn.run(
        "UPDATE login_attempt \
         SET attempts = IF(source_ip = ?, 0, GREATEST(attempts, 1) - 1) \
         WHERE cellnumber = ? AND source_ip IN (?, ?)",
        (source.as_str(), cellnumber, source.as_str(), EVERY_ADDRESS),
    )
    .await?;
    Ok(())
}

/// The statement that removes a bounded batch of counters whose window has passed.
pub(crate) fn remove_stale_statement(window: Duration) -> Statement {
    Statement::new(
        "DELETE FROM login_attempt \
         WHERE window_start < UTC_TIMESTAMP(6) - INTERVAL ? SECOND LIMIT 500",
        [window.as_secs().into()],
    )
}
