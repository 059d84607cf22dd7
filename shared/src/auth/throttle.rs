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
use crate::sql_batch::{self, Statement};
use crate::statements::{DbConn, Statements};

/// The `source_ip` of the row that counts a cellnumber's attempts from every address.
const EVERY_ADDRESS: &str = "*";

/// Takes the next number of a counter, starting a new window when the old one has passed. With
/// [`READ_COUNT`] after it in the same transaction (and round trip), the count read is the one
/// this attempt made, not one other attempts moved on since: the row stays locked until the
/// commit.
const RESERVE: &str = "INSERT INTO login_attempt (cellnumber, source_ip, attempts, window_start) \
     VALUES (?, ?, 1, UTC_TIMESTAMP(6)) \
     ON DUPLICATE KEY UPDATE \
       attempts = IF(window_start <= UTC_TIMESTAMP(6) - INTERVAL ? SECOND, 1, attempts + 1), \
       window_start = IF(window_start <= UTC_TIMESTAMP(6) - INTERVAL ? SECOND, \
                         UTC_TIMESTAMP(6), window_start)";

/// The count [`RESERVE`] made, and the whole seconds until its window ends (at least 1).
const READ_COUNT: &str = "SELECT attempts, \
       GREATEST(1, CEIL(TIMESTAMPDIFF(MICROSECOND, UTC_TIMESTAMP(6), \
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
        let (count, seconds_left) = take_number(conn, limits.window, cellnumber, address).await?;
        if count > u64::from(limit) {
            return Err(ApiError::TooManyRequests {
                retry_after_seconds: seconds_left,
            });
        }
    }
    Ok(())
}

/// This attempt's number in its counter's window, and the seconds left of the window.
async fn take_number(
    conn: &mut DbConn,
    window: Duration,
    cellnumber: &str,
    address: &str,
) -> Result<(u64, u64), ApiError> {
    let window_seconds = window.as_secs();
    let statements = [
        Statement::new(
            RESERVE,
            [
                cellnumber.into(),
                address.into(),
                window_seconds.into(),
                window_seconds.into(),
            ],
        ),
        Statement::new(
            READ_COUNT,
            [window_seconds.into(), cellnumber.into(), address.into()],
        ),
    ];
    let answers = sql_batch::answers_in_transaction(conn, &statements).await?;
    let read = answers[1].rows.first().map(|row| {
        (
            row.get_opt::<u64, _>(0).and_then(Result::ok),
            row.get_opt::<u64, _>(1).and_then(Result::ok),
        )
    });
    match read {
        Some((Some(count), Some(seconds_left))) => Ok((count, seconds_left)),
        _ => Err(ApiError::Internal(
            "the attempt counter was not read back".into(),
        )),
    }
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
