//! Texts to a cellnumber: account recovery and sign-up by a one-time code, with the tries and the
//! SMS bill bounded in the database.

pub mod delivery;
pub mod settings;

use delivery::{Outbox, TextSender};
use settings::{SmsConfig, SmsSender, DEFAULT_OUTBOX};

/// The sender the configuration names, created once per cold start.
pub fn sender(config: &SmsConfig) -> Box<dyn TextSender> {
    match &config.sender {
        SmsSender::Outbox(path) => Box::new(Outbox::new(path)),
        // Amazon SNS is not wired in yet: until it is, texts go to the default outbox.
        SmsSender::Sns => Box::new(Outbox::new(DEFAULT_OUTBOX)),
    }
}
