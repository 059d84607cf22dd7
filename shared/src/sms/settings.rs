//! The settings of texts: where they go, how long a code lives and how many tries it allows, the
//! limits that bound the SMS bill, and whether sign-up is open (read by `app::config`).

use std::path::PathBuf;
use std::time::Duration;

pub const DEFAULT_CODE_TTL_SECONDS: u64 = 600;
pub const DEFAULT_CODE_MAX_ATTEMPTS: u32 = 5;
pub const DEFAULT_RESEND_SECONDS: u64 = 60;
pub const DEFAULT_MAX_PER_NUMBER_PER_DAY: u32 = 5;
pub const DEFAULT_MAX_PER_ADDRESS_PER_HOUR: u32 = 20;
pub const DEFAULT_MAX_PER_HOUR: u32 = 200;
pub const DEFAULT_OUTBOX: &str = "target/sms-outbox.jsonl";

/// Where texts go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmsSender {
    /// Amazon SNS, as transactional texts (`SMS_SENDER=sns`).
    Sns,
    /// One JSON line per text appended to a file (`SMS_SENDER=outbox`, the default).
    Outbox(PathBuf),
}

#[derive(Debug, Clone)]
pub struct SmsConfig {
    pub sender: SmsSender,
    /// `RESET_CODE_TTL_SECONDS`: how long a code (recovery or sign-up) is good for.
    pub code_ttl: Duration,
    /// `RESET_CODE_MAX_ATTEMPTS`: tries a code allows in all, however many arrive at once.
    pub code_max_attempts: u32,
    /// `SMS_RESEND_SECONDS`: at most one text per cellnumber in this long.
    pub resend_interval: Duration,
    /// `SMS_MAX_PER_NUMBER_PER_DAY`.
    pub max_per_number_per_day: u32,
    /// `SMS_MAX_PER_ADDRESS_PER_HOUR`: requests from one client address.
    pub max_per_address_per_hour: u32,
    /// `SMS_MAX_PER_HOUR`: texts of the whole deployment.
    pub max_per_hour: u32,
    /// `SMS_ALLOWED_PREFIXES`: E.164 prefixes a text may go to; empty allows every number.
    pub allowed_prefixes: Vec<String>,
    /// `SIGNUP=open`.
    pub signup_open: bool,
}
