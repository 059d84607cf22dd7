//! What the SMS limits mean, apart from how they are counted (`store`): which numbers a text may
//! go to, and what a request's counts answer.
//!
//! - beyond the client address's requests of the hour or the deployment's texts of the hour: 429
//!   with `Retry-After`, the same for every cellnumber, so it tells nothing about any of them;
//! - beyond the cellnumber's own limits (one text per `SMS_RESEND_SECONDS`, so many a day), to a
//!   number outside the allowed prefixes, or with no account to recover: 202 and no text, the
//!   answer every other request gets.

use crate::app::config::SmsConfig;
use crate::error::ApiError;

/// Whether a text may go to `cellnumber`: it starts with one of the allowed E.164 prefixes (a
/// number written without its `+` has no country to check, so it matches none), or no prefix is
/// configured.
pub fn prefix_allowed(cellnumber: &str, allowed_prefixes: &[String]) -> bool {
    allowed_prefixes.is_empty()
        || allowed_prefixes
            .iter()
            .any(|prefix| cellnumber.starts_with(prefix.as_str()))
}

/// The counts one request for a text left behind, read in its transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Requests from the client's address in its current hour, this one included.
    pub address_requests: u64,
    /// Seconds until the address's hour ends.
    pub address_seconds_left: u64,
    /// Texts of the deployment in its current hour, this request's included if it took one.
    pub deployment_texts: u64,
    /// Seconds until the deployment's hour ends.
    pub deployment_seconds_left: u64,
    /// This request took a text: every limit let it through.
    pub claimed: bool,
}

/// What to do with a request for a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Send the text.
    Send,
    /// Answer 202 and send nothing.
    Quiet,
    /// Answer 429 with `Retry-After`.
    Throttled { retry_after_seconds: u64 },
}

impl Verdict {
    /// Whether a text goes, or the 429 of [`Verdict::Throttled`].
    pub fn sends(self) -> Result<bool, ApiError> {
        match self {
            Self::Send => Ok(true),
            Self::Quiet => Ok(false),
            Self::Throttled {
                retry_after_seconds,
            } => Err(ApiError::TooManyTexts {
                retry_after_seconds,
            }),
        }
    }
}

/// The answer `counts` call for under `config`'s limits. The statements that took the counts
/// applied the same limits (a text is claimed only within them), so `claimed` decides whether a
/// text goes; the limits only say whether a request that took none is refused.
pub fn verdict(counts: &Counts, config: &SmsConfig) -> Verdict {
    if counts.address_requests > u64::from(config.max_per_address_per_hour) {
        return Verdict::Throttled {
            retry_after_seconds: counts.address_seconds_left.max(1),
        };
    }
    if counts.claimed {
        return Verdict::Send;
    }
    if counts.deployment_texts >= u64::from(config.max_per_hour) {
        return Verdict::Throttled {
            retry_after_seconds: counts.deployment_seconds_left.max(1),
        };
    }
    Verdict::Quiet
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::texts::SmsSender;
    use std::time::Duration;

    fn config() -> SmsConfig {
        SmsConfig {
            sender: SmsSender::Outbox("outbox.jsonl".into()),
            code_ttl: Duration::from_secs(600),
            code_max_attempts: 5,
            resend_interval: Duration::from_secs(60),
            max_per_number_per_day: 5,
            max_per_address_per_hour: 20,
            max_per_hour: 200,
            allowed_prefixes: Vec::new(),
            signup_open: false,
        }
    }

    fn counts() -> Counts {
        Counts {
            address_requests: 1,
            address_seconds_left: 3600,
            deployment_texts: 0,
            deployment_seconds_left: 3000,
            claimed: false,
        }
    }

    #[test]
    fn prefixes_allow_numbers_that_start_with_one_of_them() {
        let allowed = vec!["+1".to_owned(), "+44".to_owned()];
        assert!(prefix_allowed("+15550000002", &allowed));
        assert!(prefix_allowed("+447700900123", &allowed));
        assert!(!prefix_allowed("+33612345678", &allowed));
        assert!(!prefix_allowed("+4915112345678", &allowed));
        assert!(
            !prefix_allowed("15550000002", &allowed),
            "no + means no country"
        );
        assert!(prefix_allowed("15550000002", &[]));
        assert!(prefix_allowed("+33612345678", &[]));
    }

    #[test]
    fn a_claimed_text_is_sent_and_one_not_claimed_is_quiet() {
        let config = config();
        let claimed = Counts {
            claimed: true,
            deployment_texts: 200,
            ..counts()
        };
        assert_eq!(verdict(&claimed, &config), Verdict::Send);
        assert_eq!(verdict(&counts(), &config), Verdict::Quiet);
        let just_under = Counts {
            deployment_texts: 199,
            ..counts()
        };
        assert_eq!(verdict(&just_under, &config), Verdict::Quiet);
    }

    #[test]
    fn hourly_limits_answer_429_with_the_seconds_left() {
        let config = config();
        let address = Counts {
            address_requests: 21,
            claimed: false,
            ..counts()
        };
        assert_eq!(
            verdict(&address, &config),
            Verdict::Throttled {
                retry_after_seconds: 3600
            }
        );
        assert_eq!(
            verdict(
                &Counts {
                    address_requests: 20,
                    ..counts()
                },
                &config
            ),
            Verdict::Quiet
        );
        let deployment = Counts {
            deployment_texts: 200,
            ..counts()
        };
        assert_eq!(
            verdict(&deployment, &config),
            Verdict::Throttled {
                retry_after_seconds: 3000
            }
        );
        let ending = Counts {
            deployment_texts: 200,
            deployment_seconds_left: 0,
            ..counts()
        };
        assert_eq!(
            verdict(&ending, &config),
            Verdict::Throttled {
                retry_after_seconds: 1
            }
        );
        assert!(matches!(
            verdict(&address, &config).sends(),
            Err(ApiError::TooManyTexts {
                retry_after_seconds: 3600
            })
        ));
        assert!(!Verdict::Quiet.sends().unwrap());
        assert!(Verdict::Send.sends().unwrap());
    }
}
