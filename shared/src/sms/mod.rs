//! Texts to a cellnumber: account recovery and sign-up by a one-time code, with the tries and the
//! SMS bill bounded in the database.

pub mod delivery;
pub mod settings;

use delivery::{Logged, NoSender, Outbox, Sns, TextSender};
use settings::{SmsConfig, SmsSender};

/// The sender of a function that sends texts, as the configuration names it, logged and counted
/// ([`Logged`]); created once per cold start by `http::run_sending_texts`. It names the SNS
/// client: every other function's `App` gets [`sender_without_sns`], so the client (0.2 MB
/// of a stripped release binary) is linked into the functions that send texts alone.
pub fn sender(config: &SmsConfig) -> Box<dyn TextSender> {
    match &config.sender {
        SmsSender::Sns => Box::new(Logged::new("sns", Sns::new())),
        SmsSender::Outbox(path) => Box::new(Logged::new("outbox", Outbox::new(path))),
    }
}

/// The sender every `App` starts with, for the functions that send no texts: the outbox when
/// texts go there (local runs), and with `SMS_SENDER=sns` [`NoSender`], which fails and logs
/// every text. Not wrapped in [`Logged`], which these functions would otherwise all link.
pub fn sender_without_sns(config: &SmsConfig) -> Box<dyn TextSender> {
    match &config.sender {
        SmsSender::Outbox(path) => Box::new(Outbox::new(path)),
        SmsSender::Sns => Box::new(NoSender),
    }
}
