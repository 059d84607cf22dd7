//! The login throttle: attempts to prove a password, counted in the database (every Lambda
//! instance is a process of its own) before the password is checked.
//!
//! Counting first is what makes the limits hold under concurrency: each attempt takes its number
//! of a counter in one atomic upsert, and only the first numbers of a window go on to bcrypt,
//! however many requests arrive at once. Three counters, each taken only by the attempts the one
//! before it let through:
//! - per (cellnumber, address), `LOGIN_MAX_FAILURES`: one address guessing one account;
//! - per address over every cellnumber, `LOGIN_MAX_FAILURES_PER_ADDRESS`: one address spraying
//!   passwords over many accounts;
//! - per cellnumber over every address, `LOGIN_MAX_FAILURES_TOTAL`: many addresses together.
//!
//! An address the cellnumber signed in from during the last [`KNOWN_ADDRESS_DAYS`] days takes
//! only the first: failures from elsewhere cannot lock the user out of a place it signs in from.
//! An attempt refused by one counter is not counted by the next, so an address that is already
//! refused cannot use up another's budget.

use std::time::Duration;

use crate::auth::source_ip::SourceIp;
use crate::db::batch::{self, Answer, Statement};
use crate::db::statements::DbConn;
use crate::error::ApiError;

/// The `source_ip` of the row that counts a cellnumber's attempts from every address.
const EVERY_ADDRESS: &str = "*";

/// How long a successful login makes its address a known one for its user.
pub const KNOWN_ADDRESS_DAYS: u32 = 30;

/// Takes the next number of the (cellnumber, address) counter, starting a new window when the
/// old one has passed. With [`READ_PAIR`] after it in the same transaction (and round trip), the
/// count read is the one this attempt made, not one other attempts moved on since: the row
/// stays locked until the commit.
const RESERVE_PAIR: &str =
    "INSERT INTO login_attempt (cellnumber, source_ip, attempts, window_start) \
     VALUES (?, ?, 1, UTC_TIMESTAMP(6)) \
     ON DUPLICATE KEY UPDATE \
       attempts = IF(window_start <= UTC_TIMESTAMP(6) - INTERVAL ? SECOND, 1, attempts + 1), \
       window_start = IF(window_start <= UTC_TIMESTAMP(6) - INTERVAL ? SECOND, \
                         UTC_TIMESTAMP(6), window_start)";

/// The count [`RESERVE_PAIR`] made, the whole seconds until its window ends (at least 1), and
/// whether the address is a known one of the user with that cellnumber: read with the count, so
/// it costs no round trip of its own.
const READ_PAIR: &str = "SELECT attempts, \
       GREATEST(1, CEIL(TIMESTAMPDIFF(MICROSECOND, UTC_TIMESTAMP(6), \
         window_start + INTERVAL ? SECOND) / 1000000)), \
       EXISTS (SELECT 1 FROM users u JOIN login_known_address k ON k.user_id = u.id \
               WHERE u.cellnumber = ? AND k.source_ip = ? \
                 AND k.last_success > UTC_TIMESTAMP(6) - INTERVAL ? DAY) \
     FROM login_attempt WHERE cellnumber = ? AND source_ip = ?";

/// [`RESERVE_PAIR`] for the address's counter over every cellnumber.
const RESERVE_ADDRESS: &str =
    "INSERT INTO login_address_attempt (source_ip, attempts, window_start) \
     VALUES (?, 1, UTC_TIMESTAMP(6)) \
     ON DUPLICATE KEY UPDATE \
       attempts = IF(window_start <= UTC_TIMESTAMP(6) - INTERVAL ? SECOND, 1, attempts + 1), \
       window_start = IF(window_start <= UTC_TIMESTAMP(6) - INTERVAL ? SECOND, \
                         UTC_TIMESTAMP(6), window_start)";

/// Takes the next number of the cellnumber's counter over every address, only when the
/// address's own count (just taken, and locked by this transaction) is within its limit. The
/// condition is a read of another table, so this is one statement and no round trip of its own.
const RESERVE_TOTAL: &str =
    "INSERT INTO login_attempt (cellnumber, source_ip, attempts, window_start) \
     SELECT ?, ?, 1, UTC_TIMESTAMP(6) FROM login_address_attempt \
     WHERE source_ip = ? AND attempts <= ? \
     ON DUPLICATE KEY UPDATE \
       attempts = IF(login_attempt.window_start <= UTC_TIMESTAMP(6) - INTERVAL ? SECOND, \
                     1, login_attempt.attempts + 1), \
       window_start = IF(login_attempt.window_start <= UTC_TIMESTAMP(6) - INTERVAL ? SECOND, \
                         UTC_TIMESTAMP(6), login_attempt.window_start)";

/// The counts of [`RESERVE_ADDRESS`] and [`RESERVE_TOTAL`] (the latter null before the
/// cellnumber's first counted attempt), each with the seconds left of its window.
const READ_ADDRESS_AND_TOTAL: &str = "SELECT a.attempts, \
       GREATEST(1, CEIL(TIMESTAMPDIFF(MICROSECOND, UTC_TIMESTAMP(6), \
         a.window_start + INTERVAL ? SECOND) / 1000000)), \
       t.attempts, \
       GREATEST(1, CEIL(TIMESTAMPDIFF(MICROSECOND, UTC_TIMESTAMP(6), \
         t.window_start + INTERVAL ? SECOND) / 1000000)) \
     FROM login_address_attempt a \
     LEFT JOIN login_attempt t ON t.cellnumber = ? AND t.source_ip = ? \
     WHERE a.source_ip = ?";

/// The limits of one deployment.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Per (cellnumber, address).
    pub per_pair: u32,
    /// Per address over every cellnumber.
    pub per_address: u32,
    /// Per cellnumber over every address.
    pub total: u32,
    pub window: Duration,
}

/// What [`reserve`] counted an attempt against, so that a proven password gives back exactly
/// that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct Reserved {
    /// The address is a known one of the cellnumber: only its own counter took the attempt.
    pub known_address: bool,
}

/// Counts an attempt to prove the password of `cellnumber` from `source`, before the password is
/// checked; past a limit it is refused with 429 and the password must not be checked. One round
/// trip for a known address, two for any other.
pub async fn reserve(
    conn: &mut DbConn,
    limits: Limits,
    cellnumber: &str,
    source: &SourceIp,
) -> Result<Reserved, ApiError> {
    let window = limits.window.as_secs();
    let address = source.as_str();
    let pair = [
        Statement::new(
            RESERVE_PAIR,
            [
                cellnumber.into(),
                address.into(),
                window.into(),
                window.into(),
            ],
        ),
        Statement::new(
            READ_PAIR,
            [
                window.into(),
                cellnumber.into(),
                address.into(),
                KNOWN_ADDRESS_DAYS.into(),
                cellnumber.into(),
                address.into(),
            ],
        ),
    ];
    let answers = batch::answers_in_transaction(conn, &pair).await?;
    let [count, seconds_left, known] = numbers::<3>(&answers[1])?;
    if count > u64::from(limits.per_pair) {
        return Err(too_many(seconds_left));
    }
    // An address the client did not name is everyone's: it is never a known one.
    let known_address = known == 1 && source.is_known();
    if known_address {
        return Ok(Reserved { known_address });
    }

    let beyond = [
        Statement::new(
            RESERVE_ADDRESS,
            [address.into(), window.into(), window.into()],
        ),
        Statement::new(
            RESERVE_TOTAL,
            [
                cellnumber.into(),
                EVERY_ADDRESS.into(),
                address.into(),
                limits.per_address.into(),
                window.into(),
                window.into(),
            ],
        ),
        Statement::new(
            READ_ADDRESS_AND_TOTAL,
            [
                window.into(),
                window.into(),
                cellnumber.into(),
                EVERY_ADDRESS.into(),
                address.into(),
            ],
        ),
    ];
    let answers = batch::answers_in_transaction(conn, &beyond).await?;
    let [address_count, address_seconds_left] = numbers::<2>(&answers[2])?;
    if address_count > u64::from(limits.per_address) {
        return Err(too_many(address_seconds_left));
    }
    // Within the address's limit, the total was counted, so its row is there.
    let [_, _, total_count, total_seconds_left] = numbers::<4>(&answers[2])?;
    if total_count > u64::from(limits.total) {
        return Err(too_many(total_seconds_left));
    }
    Ok(Reserved { known_address })
}

fn too_many(retry_after_seconds: u64) -> ApiError {
    ApiError::TooManyRequests {
        retry_after_seconds,
    }
}

/// The first `N` columns of the first row of a counter's read, as whole numbers.
fn numbers<const N: usize>(answer: &Answer) -> Result<[u64; N], ApiError> {
    let unread = || ApiError::Internal("the attempt counter was not read back".into());
    let row = answer.rows.first().ok_or_else(unread)?;
    let mut read = [0; N];
    for (index, number) in read.iter_mut().enumerate() {
        *number = row
            .get_opt::<u64, _>(index)
            .and_then(Result::ok)
            .ok_or_else(unread)?;
    }
    Ok(read)
}

/// After a proven password: the (cellnumber, address) counter starts again from zero, and the
/// counters over every cellnumber and every address are given back the attempt that proved it
/// (they keep counting the failures of others). One round trip; each statement is its own
/// transaction, so it holds no lock another attempt could wait for in another order.
pub async fn succeeded(
    conn: &mut DbConn,
    cellnumber: &str,
    source: &SourceIp,
    reserved: Reserved,
) -> Result<(), ApiError> {
    let address = source.as_str();
    let mut statements = Vec::with_capacity(2);
    if reserved.known_address {
        statements.push(Statement::new(
            "UPDATE login_attempt SET attempts = 0 WHERE cellnumber = ? AND source_ip = ?",
            [cellnumber.into(), address.into()],
        ));
    } else {
        statements.push(Statement::new(
            "UPDATE login_address_attempt SET attempts = GREATEST(attempts, 1) - 1 \
             WHERE source_ip = ?",
            [address.into()],
        ));
        statements.push(Statement::new(
            "UPDATE login_attempt \
             SET attempts = IF(source_ip = ?, 0, GREATEST(attempts, 1) - 1) \
             WHERE cellnumber = ? AND source_ip IN (?, ?)",
            [
                address.into(),
                cellnumber.into(),
                address.into(),
                EVERY_ADDRESS.into(),
            ],
        ));
    }
    batch::run_each(conn, &statements).await?;
    Ok(())
}

/// Forgets the failed logins of `cellnumber`, from every address and in total, inside the
/// caller's transaction: a password reset with a code proves the phone, and the new password
/// must not start out locked by the guesses that came before it. The per-address counters over
/// every cellnumber stay: they bound what an address does to others.
pub(crate) async fn clear<Q: crate::db::statements::Statements>(
    db: &mut Q,
    cellnumber: &str,
) -> Result<(), ApiError> {
    db.run(
        "DELETE FROM login_attempt WHERE cellnumber = ?",
        (cellnumber,),
    )
    .await?;
    Ok(())
}

/// The statement, for the batch that starts a session after a login from `source`, that makes
/// `source` a known address of `user_id` (or renews it) for [`KNOWN_ADDRESS_DAYS`] days; `None`
/// when the client named no address.
pub(crate) fn known_address_statement(user_id: u64, source: &SourceIp) -> Option<Statement> {
    source.is_known().then(|| {
        Statement::new(
            "INSERT INTO login_known_address (user_id, source_ip, last_success) \
             VALUES (?, ?, UTC_TIMESTAMP(6)) \
             ON DUPLICATE KEY UPDATE last_success = UTC_TIMESTAMP(6)",
            [user_id.into(), source.as_str().into()],
        )
    })
}

/// The statements that remove a bounded batch each of counters whose window has passed and of
/// known addresses that have aged out.
pub(crate) fn remove_stale_statements(window: Duration) -> [Statement; 3] {
    [
        Statement::new(
            "DELETE FROM login_attempt \
             WHERE window_start < UTC_TIMESTAMP(6) - INTERVAL ? SECOND LIMIT 500",
            [window.as_secs().into()],
        ),
        Statement::new(
            "DELETE FROM login_address_attempt \
             WHERE window_start < UTC_TIMESTAMP(6) - INTERVAL ? SECOND LIMIT 500",
            [window.as_secs().into()],
        ),
        Statement::new(
            "DELETE FROM login_known_address \
             WHERE last_success < UTC_TIMESTAMP(6) - INTERVAL ? DAY LIMIT 500",
            [KNOWN_ADDRESS_DAYS.into()],
        ),
    ]
}
