//! The settings of texts: where they go, how long a code lives and how many tries it allows, the
//! limits that bound the SMS bill, and whether sign-up is open; read from the environment.

use std::path::PathBuf;
use std::time::Duration;

use super::{non_empty, parse_number, ConfigError};
pub use crate::texts::{SmsSender, DEFAULT_OUTBOX};

pub const DEFAULT_CODE_TTL_SECONDS: u64 = 600;
pub const DEFAULT_CODE_MAX_ATTEMPTS: u32 = 5;
pub const DEFAULT_RESEND_SECONDS: u64 = 60;
pub const DEFAULT_MAX_PER_NUMBER_PER_DAY: u32 = 5;
pub const DEFAULT_MAX_PER_ADDRESS_PER_HOUR: u32 = 20;
pub const DEFAULT_MAX_PER_HOUR: u32 = 200;

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

/// `SIGNUP`: `open`, or `closed` (the default). The fallback reads it alone, to answer 404 on
/// the sign-up paths for every method while sign-up is closed.
pub fn signup_open(lookup: &impl Fn(&str) -> Option<String>) -> Result<bool, ConfigError> {
    match non_empty(lookup, "SIGNUP").as_deref() {
        None | Some("closed") => Ok(false),
        Some("open") => Ok(true),
        Some(other) => Err(ConfigError::Invalid {
            name: "SIGNUP",
            reason: format!("expected open or closed, got {other:?}"),
        }),
    }
}

/// The `SMS_*`, `RESET_CODE_*` and `SIGNUP` variables, checked.
pub fn sms_config(lookup: &impl Fn(&str) -> Option<String>) -> Result<SmsConfig, ConfigError> {
    let get = |name: &'static str| non_empty(lookup, name);
    let sender = match get("SMS_SENDER").as_deref() {
        None | Some("outbox") => SmsSender::Outbox(PathBuf::from(
            get("SMS_OUTBOX").unwrap_or_else(|| DEFAULT_OUTBOX.to_owned()),
        )),
        Some("sns") => SmsSender::Sns,
        Some(other) => {
            return Err(ConfigError::Invalid {
                name: "SMS_SENDER",
                reason: format!("expected sns or outbox, got {other:?}"),
            })
        }
    };
    let signup_open = signup_open(lookup)?;
    let allowed_prefixes = get("SMS_ALLOWED_PREFIXES")
        .map(|list| parse_prefixes(&list))
        .transpose()?
        .unwrap_or_default();
    Ok(SmsConfig {
        sender,
        code_ttl: Duration::from_secs(parse_number(
            "RESET_CODE_TTL_SECONDS",
            get("RESET_CODE_TTL_SECONDS"),
            DEFAULT_CODE_TTL_SECONDS,
            60..=24 * 3600,
        )?),
        code_max_attempts: parse_number(
            "RESET_CODE_MAX_ATTEMPTS",
            get("RESET_CODE_MAX_ATTEMPTS"),
            DEFAULT_CODE_MAX_ATTEMPTS,
            1..=20,
        )?,
        resend_interval: Duration::from_secs(parse_number(
            "SMS_RESEND_SECONDS",
            get("SMS_RESEND_SECONDS"),
            DEFAULT_RESEND_SECONDS,
            0..=24 * 3600,
        )?),
        max_per_number_per_day: parse_number(
            "SMS_MAX_PER_NUMBER_PER_DAY",
            get("SMS_MAX_PER_NUMBER_PER_DAY"),
            DEFAULT_MAX_PER_NUMBER_PER_DAY,
            1..=1000,
        )?,
        max_per_address_per_hour: parse_number(
            "SMS_MAX_PER_ADDRESS_PER_HOUR",
            get("SMS_MAX_PER_ADDRESS_PER_HOUR"),
            DEFAULT_MAX_PER_ADDRESS_PER_HOUR,
            1..=100_000,
        )?,
        max_per_hour: parse_number(
            "SMS_MAX_PER_HOUR",
            get("SMS_MAX_PER_HOUR"),
            DEFAULT_MAX_PER_HOUR,
            1..=1_000_000,
        )?,
        allowed_prefixes,
        signup_open,
    })
}

/// `+1,+44`: each entry a `+` and 1 to 6 digits.
fn parse_prefixes(list: &str) -> Result<Vec<String>, ConfigError> {
    list.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let digits = entry.strip_prefix('+').unwrap_or("");
            if (1..=6).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
                Ok(entry.to_owned())
            } else {
                Err(ConfigError::Invalid {
                    name: "SMS_ALLOWED_PREFIXES",
                    reason: format!("expected E.164 prefixes such as +1,+44, got {entry:?}"),
                })
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<SmsConfig, ConfigError> {
        sms_config(&|name: &str| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.to_string())
        })
    }

    #[test]
    fn defaults_follow_the_contract() {
        let sms = config(&[]).unwrap();
        assert_eq!(sms.sender, SmsSender::Outbox(DEFAULT_OUTBOX.into()));
        assert_eq!(sms.code_ttl, Duration::from_secs(600));
        assert_eq!(sms.code_max_attempts, 5);
        assert_eq!(sms.resend_interval, Duration::from_secs(60));
        assert_eq!(sms.max_per_number_per_day, 5);
        assert_eq!(sms.max_per_address_per_hour, 20);
        assert_eq!(sms.max_per_hour, 200);
        assert!(sms.allowed_prefixes.is_empty());
        assert!(!sms.signup_open);
    }

    #[test]
    fn prefixes_and_switches_are_checked() {
        let sms = config(&[
            ("SMS_ALLOWED_PREFIXES", " +1, +44 ,"),
            ("SIGNUP", "open"),
            ("SMS_SENDER", "sns"),
        ])
        .unwrap();
        assert_eq!(sms.allowed_prefixes, ["+1", "+44"]);
        assert!(sms.signup_open);
        assert_eq!(sms.sender, SmsSender::Sns);
        for bad in [
            ("SMS_ALLOWED_PREFIXES", "44"),
            ("SMS_ALLOWED_PREFIXES", "+4a"),
            ("SIGNUP", "yes"),
            ("SMS_SENDER", "smtp"),
            ("RESET_CODE_MAX_ATTEMPTS", "0"),
        ] {
            assert!(config(&[bad]).is_err(), "{bad:?} accepted");
        }
    }
}
