//! Asking for a text: counting it against every limit and, when all let it through, claiming
//! it and storing its code, in one transaction and one round trip.
//!
//! The same statements run whatever the cellnumber (known, unknown, disabled, held back): only
//! their outcomes differ, so the database work does not tell them apart. The limits hold under
//! concurrency because each is applied by the statement that counts: the user's row and the
//! deployment's row are locked by every request (a few statements, one round trip), and a text is
//! claimed by one conditional UPDATE of the number's row, which writes a random `claim` that the
//! statements after it test to store the code (and count the text) only when this request took it.

use crate::app::config::SmsConfig;
use crate::audit::{self, Event, Parties, RowCondition};
use crate::auth::source_ip::SourceIp;
use crate::db::batch::{self, Answer, Statement};
use crate::db::statements::DbConn;
use crate::db::Value;
use crate::error::ApiError;
use crate::sms::code::Purpose;
use crate::sms::limits::Counts;

/// The user of the cellnumber, locked first, so every transaction of this module and the user
/// writes take the user's row before the rows of texts (no lock-order deadlock with a reset).
const LOCK_USER: &str = "SELECT id, is_active FROM users WHERE cellnumber = ? FOR UPDATE";

/// Counts a request from the client's address, in an hour that begins with its first request.
const COUNT_ADDRESS: &str = "INSERT INTO sms_address_count (source_ip, window_start, requests) \
     VALUES (?, UTC_TIMESTAMP(6), 1) \
     ON DUPLICATE KEY UPDATE \
       requests = IF(window_start <= UTC_TIMESTAMP(6) - INTERVAL 1 HOUR, 1, requests + 1), \
       window_start = IF(window_start <= UTC_TIMESTAMP(6) - INTERVAL 1 HOUR, \
                         UTC_TIMESTAMP(6), window_start)";

/// Starts the deployment's hour again when it has passed, and locks its row to the commit.
const LOCK_DEPLOYMENT: &str = "INSERT INTO sms_deployment_count (id, window_start, texts) \
     VALUES (1, UTC_TIMESTAMP(6), 0) \
     ON DUPLICATE KEY UPDATE \
       texts = IF(window_start <= UTC_TIMESTAMP(6) - INTERVAL 1 HOUR, 0, texts), \
       window_start = IF(window_start <= UTC_TIMESTAMP(6) - INTERVAL 1 HOUR, \
                         UTC_TIMESTAMP(6), window_start)";

/// The hourly limits, as counted by the two statements above: `(address, requests allowed,
/// texts allowed)`.
const WITHIN_HOURLY_LIMITS: &str =
    "(SELECT requests FROM sms_address_count WHERE source_ip = ?) <= ? \
     AND (SELECT texts FROM sms_deployment_count WHERE id = 1) < ?";

/// Whether this request took a text: `(cellnumber, claim)`.
const CLAIMED: &str = "EXISTS (SELECT 1 FROM sms_number_count WHERE cellnumber = ? AND claim = ?)";

/// The answer's counts, read under the locks of the statements before it.
const READ_COUNTS: &str = "SELECT a.requests, \
       GREATEST(1, CEIL(TIMESTAMPDIFF(MICROSECOND, UTC_TIMESTAMP(6), \
         a.window_start + INTERVAL 1 HOUR) / 1000000)), \
       d.texts, \
       GREATEST(1, CEIL(TIMESTAMPDIFF(MICROSECOND, UTC_TIMESTAMP(6), \
         d.window_start + INTERVAL 1 HOUR) / 1000000)), \
       EXISTS (SELECT 1 FROM sms_number_count WHERE cellnumber = ? AND claim = ?) \
     FROM sms_address_count a JOIN sms_deployment_count d ON d.id = 1 \
     WHERE a.source_ip = ?";

/// The user a sign-up keeps until its code is verified.
pub(in crate::sms) struct Pending<'a> {
    pub name: &'a str,
    pub email: Option<&'a str>,
    pub password_hash: &'a str,
}

/// A request for a text, with the code it would carry.
pub(in crate::sms) struct TextRequest<'a> {
    pub purpose: Purpose,
    pub cellnumber: &'a str,
    pub source: &'a SourceIp,
    /// The number is within `SMS_ALLOWED_PREFIXES`.
    pub prefix_allowed: bool,
    pub code_hash: [u8; 32],
    /// A sign-up's user; `None` for recovery.
    pub pending: Option<Pending<'a>>,
}

/// What a request for a text found and counted.
pub(in crate::sms) struct Requested {
    pub counts: Counts,
    /// A user has the cellnumber (active or not).
    pub has_account: bool,
}

/// Counts a request for a text against every limit and, when all let it through, takes the text
/// and stores its code (replacing the previous one of that purpose); a recovery request for a
/// cellnumber that has an account records `password.reset.requested`, unless it is refused with
/// 429. One transaction, one round trip.
pub(in crate::sms) async fn request_text(
    conn: &mut DbConn,
    config: &SmsConfig,
    request: &TextRequest<'_>,
) -> Result<Requested, ApiError> {
    let claim = crate::auth::random::bytes::<16>()?.to_vec();
    let cellnumber = request.cellnumber;
    let address = request.source.as_str();
    let ttl = config.code_ttl.as_secs();
    let hourly = || -> Vec<Value> {
        vec![
            address.into(),
            config.max_per_address_per_hour.into(),
            config.max_per_hour.into(),
        ]
    };
    let claimed = || -> Vec<Value> { vec![cellnumber.into(), claim.clone().into()] };
    // Who may get a text: a number within the prefixes, within the hourly limits, and for
    // recovery one that has an active account.
    let (eligible, mut eligible_values) = match request.purpose {
        Purpose::Recovery => (
            format!(
                "? AND {WITHIN_HOURLY_LIMITS} \
                 AND EXISTS (SELECT 1 FROM users WHERE cellnumber = ? AND is_active)"
            ),
            [
                vec![request.prefix_allowed.into()],
                hourly(),
                vec![cellnumber.into()],
            ]
            .concat(),
        ),
        Purpose::Signup => (
            format!("? AND {WITHIN_HOURLY_LIMITS}"),
            [vec![request.prefix_allowed.into()], hourly()].concat(),
        ),
    };
    let number_row = Statement::new(
        format!(
            "INSERT INTO sms_number_count (cellnumber, last_sent, day_start, day_texts, claim) \
             SELECT ?, NULL, UTC_TIMESTAMP(6), 0, NULL FROM DUAL WHERE {eligible} \
             ON DUPLICATE KEY UPDATE \
               day_texts = IF(day_start <= UTC_TIMESTAMP(6) - INTERVAL 1 DAY, 0, day_texts), \
               day_start = IF(day_start <= UTC_TIMESTAMP(6) - INTERVAL 1 DAY, \
                              UTC_TIMESTAMP(6), day_start)"
        ),
        [vec![cellnumber.into()], eligible_values.clone()].concat(),
    );
    let mut claim_values: Vec<Value> = vec![
        claim.clone().into(),
        cellnumber.into(),
        config.max_per_number_per_day.into(),
        config.resend_interval.as_secs().into(),
    ];
    claim_values.append(&mut eligible_values);
    let take_text = Statement::new(
        format!(
            "UPDATE sms_number_count \
             SET day_texts = day_texts + 1, last_sent = UTC_TIMESTAMP(6), claim = ? \
             WHERE cellnumber = ? AND day_texts < ? \
               AND (last_sent IS NULL OR last_sent <= UTC_TIMESTAMP(6) - INTERVAL ? SECOND) \
               AND {eligible}"
        ),
        claim_values,
    );
    let mut statements = vec![
        Statement::new(LOCK_USER, [cellnumber.into()]),
        Statement::new(COUNT_ADDRESS, [address.into()]),
        Statement::new(LOCK_DEPLOYMENT, []),
        number_row,
        take_text,
        Statement::new(
            format!("UPDATE sms_deployment_count SET texts = texts + 1 WHERE id = 1 AND {CLAIMED}"),
            claimed(),
        ),
        store_code(request, ttl, &claim),
    ];
    if request.purpose == Purpose::Recovery {
        statements.extend(reset_requested_events(
            request.source,
            cellnumber,
            &claim,
            config,
        ));
    }
    statements.push(Statement::new(
        READ_COUNTS,
        [claimed(), vec![address.into()]].concat(),
    ));
    let answers = batch::answers_in_transaction(conn, &statements).await?;
    let has_account = !answers[0].rows.is_empty();
    let counts = read_counts(&answers[statements.len() - 1])?;
    Ok(Requested {
        counts,
        has_account,
    })
}

/// The code of a request that took its text, replacing the previous one of its purpose and
/// number (with its tries): a recovery code for the user that has the number, a sign-up code
/// with its pending user for a number no user has.
fn store_code(request: &TextRequest<'_>, ttl: u64, claim: &[u8]) -> Statement {
    let cellnumber = request.cellnumber;
    let hash = request.code_hash.to_vec();
    match &request.pending {
        None => Statement::new(
            "INSERT INTO sms_code (purpose, cellnumber, code_hash, attempts, expires, user_id) \
             SELECT 'recovery', u.cellnumber, ?, 0, UTC_TIMESTAMP(6) + INTERVAL ? SECOND, u.id \
             FROM users u JOIN sms_number_count n ON n.cellnumber = u.cellnumber \
             WHERE u.cellnumber = ? AND n.claim = ? \
             ON DUPLICATE KEY UPDATE code_hash = ?, attempts = 0, \
               expires = UTC_TIMESTAMP(6) + INTERVAL ? SECOND, \
               user_id = (SELECT id FROM users WHERE cellnumber = ?)",
            [
                hash.clone().into(),
                ttl.into(),
                cellnumber.into(),
                claim.to_vec().into(),
                hash.into(),
                ttl.into(),
                cellnumber.into(),
            ],
        ),
        Some(pending) => {
            let user: [Value; 3] = [
                pending.name.into(),
                pending.email.into(),
                pending.password_hash.into(),
            ];
            Statement::new(
                "INSERT INTO sms_code (purpose, cellnumber, code_hash, attempts, expires, \
                   name, email, password_hash) \
                 SELECT 'signup', n.cellnumber, ?, 0, UTC_TIMESTAMP(6) + INTERVAL ? SECOND, \
                   ?, ?, ? \
                 FROM sms_number_count n \
                 WHERE n.cellnumber = ? AND n.claim = ? \
                   AND NOT EXISTS (SELECT 1 FROM users WHERE cellnumber = ?) \
                 ON DUPLICATE KEY UPDATE code_hash = ?, attempts = 0, \
                   expires = UTC_TIMESTAMP(6) + INTERVAL ? SECOND, \
                   name = ?, email = ?, password_hash = ?",
                [
                    vec![hash.clone().into(), ttl.into()],
                    user.to_vec(),
                    vec![
                        cellnumber.into(),
                        claim.to_vec().into(),
                        cellnumber.into(),
                        hash.into(),
                        ttl.into(),
                    ],
                    user.to_vec(),
                ]
                .concat(),
            )
        }
    }
}

/// `password.reset.requested` for a cellnumber that has an account (its user the target): sent
/// when this request took a text, not sent when it took none but is not refused either.
fn reset_requested_events(
    source: &SourceIp,
    cellnumber: &str,
    claim: &[u8],
    config: &SmsConfig,
) -> [Statement; 2] {
    let parties = Parties {
        actor_id: None,
        target_id: None,
        source,
    };
    let claimed: Vec<Value> = vec![cellnumber.into(), claim.to_vec().into()];
    // The target is the id of the row the condition finds (the helper made for new rows takes
    // it from there); the row is locked by the first statement of the batch.
    let sent = audit::insert_for_new_row(
        parties,
        &Event::PasswordResetRequested { sent: true },
        RowCondition::new(
            format!("users WHERE cellnumber = ? AND {CLAIMED}"),
            [vec![cellnumber.into()], claimed.clone()].concat(),
        ),
    );
    let not_sent = audit::insert_for_new_row(
        parties,
        &Event::PasswordResetRequested { sent: false },
        RowCondition::new(
            format!("users WHERE cellnumber = ? AND NOT {CLAIMED} AND {WITHIN_HOURLY_LIMITS}"),
            [
                vec![cellnumber.into()],
                claimed,
                vec![
                    source.as_str().into(),
                    config.max_per_address_per_hour.into(),
                    config.max_per_hour.into(),
                ],
            ]
            .concat(),
        ),
    );
    [sent, not_sent]
}

fn read_counts(answer: &Answer) -> Result<Counts, ApiError> {
    let unread = || ApiError::Internal("the SMS counters were not read back".into());
    let row = answer.rows.first().ok_or_else(unread)?;
    let number = |index: usize| {
        row.get_opt::<u64, _>(index)
            .and_then(Result::ok)
            .ok_or_else(unread)
    };
    Ok(Counts {
        address_requests: number(0)?,
        address_seconds_left: number(1)?,
        deployment_texts: number(2)?,
        deployment_seconds_left: number(3)?,
        claimed: number(4)? == 1,
    })
}
