//! The SQL of texts and codes: asking for a text ([`requests`]), taking a try of a code, spending
//! it, and the clean-up of rows that no longer count.

mod requests;

pub(super) use requests::{request_text, Pending, TextRequest};

use crate::app::config::SmsConfig;
use crate::db::batch::{self, Statement};
use crate::db::statements::{DbConn, DbTx, Statements};
use crate::error::ApiError;
use crate::sms::code::Purpose;

/// Removes a bounded batch each of codes that expired and of counters whose window passed (and
/// whose number could not be held back by them any more). Each statement is its own transaction.
pub(super) async fn remove_stale(conn: &mut DbConn, config: &SmsConfig) -> Result<(), ApiError> {
    let statements = [
        Statement::new(
            "DELETE FROM sms_code WHERE expires < UTC_TIMESTAMP(6) LIMIT 100",
            [],
        ),
        Statement::new(
            "DELETE FROM sms_address_count \
             WHERE window_start < UTC_TIMESTAMP(6) - INTERVAL 1 HOUR LIMIT 100",
            [],
        ),
        Statement::new(
            "DELETE FROM sms_number_count \
             WHERE day_start < UTC_TIMESTAMP(6) - INTERVAL 1 DAY \
               AND (last_sent IS NULL OR last_sent < UTC_TIMESTAMP(6) - INTERVAL ? SECOND) \
             LIMIT 100",
            [config.resend_interval.as_secs().into()],
        ),
    ];
    batch::run_each(conn, &statements).await?;
    Ok(())
}

/// A live code as stored, read after a try of it was taken.
pub(super) struct StoredCode {
    pub code_hash: Vec<u8>,
    /// Recovery: the user the code was sent for.
    pub user_id: Option<u64>,
    /// Sign-up: the pending user.
    pub name: Option<String>,
    pub email: Option<String>,
    pub password_hash: Option<String>,
}

/// Takes one try of the live code of `purpose` for `cellnumber` (if it has one left) and reads
/// the code, in one transaction and one round trip: the UPDATE is the atomic part, so however
/// many tries arrive at once, at most `max_attempts` get a row to check. `None`: no live code
/// with a try left, or (recovery) its user is disabled or no longer has the number.
pub(super) async fn take_try(
    conn: &mut DbConn,
    purpose: Purpose,
    cellnumber: &str,
    max_attempts: u32,
) -> Result<Option<StoredCode>, ApiError> {
    let statements = [
        Statement::new(
            "UPDATE sms_code SET attempts = attempts + 1 \
             WHERE purpose = ? AND cellnumber = ? AND attempts < ? \
               AND expires > UTC_TIMESTAMP(6)",
            [
                purpose.as_str().into(),
                cellnumber.into(),
                max_attempts.into(),
            ],
        ),
        Statement::new(
            "SELECT c.code_hash, c.user_id, c.name, c.email, c.password_hash FROM sms_code c \
             WHERE c.purpose = ? AND c.cellnumber = ? \
               AND (c.user_id IS NULL OR EXISTS (SELECT 1 FROM users u \
                    WHERE u.id = c.user_id AND u.cellnumber = c.cellnumber AND u.is_active))",
            [purpose.as_str().into(), cellnumber.into()],
        ),
    ];
    let mut answers = batch::answers_in_transaction(conn, &statements).await?;
    if answers[0].outcome.affected_rows != 1 {
        return Ok(None);
    }
    let Some(row) = answers[1].rows.pop() else {
        return Ok(None);
    };
    type Columns = (
        Vec<u8>,
        Option<u64>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let (code_hash, user_id, name, email, password_hash): Columns = mysql_async::from_row_opt(row)
        .map_err(|_| ApiError::Internal("an SMS code row did not convert".into()))?;
    Ok(Some(StoredCode {
        code_hash,
        user_id,
        name,
        email,
        password_hash,
    }))
}

/// Spends the live code of `purpose` for `cellnumber` whose hash is `code_hash`, inside the
/// caller's transaction; refused when it was spent or replaced meanwhile, or has expired.
pub(super) async fn spend(
    tx: &mut DbTx<'_>,
    purpose: Purpose,
    cellnumber: &str,
    code_hash: &[u8],
) -> Result<(), ApiError> {
    let spent = tx
        .run(
            "DELETE FROM sms_code WHERE purpose = ? AND cellnumber = ? AND code_hash = ? \
             AND expires > UTC_TIMESTAMP(6)",
            (purpose.as_str(), cellnumber, code_hash.to_vec()),
        )
        .await?;
    if spent.affected_rows == 1 {
        Ok(())
    } else {
        Err(ApiError::SmsCodeRefused)
    }
}

/// Sets the password of user `user_id`, who must still have `cellnumber` and be active, inside
/// the caller's transaction (the user's row first: the order every writer locks in).
pub(super) async fn set_password(
    tx: &mut DbTx<'_>,
    user_id: u64,
    cellnumber: &str,
    password_hash: &str,
) -> Result<(), ApiError> {
    let changed = tx
        .run(
            "UPDATE users SET password_hash = ?, \
             updated = GREATEST(UTC_TIMESTAMP(6), updated + INTERVAL 1 MICROSECOND) \
             WHERE id = ? AND cellnumber = ? AND is_active",
            (password_hash, user_id, cellnumber),
        )
        .await?;
    if changed.affected_rows == 1 {
        Ok(())
    } else {
        Err(ApiError::SmsCodeRefused)
    }
}
