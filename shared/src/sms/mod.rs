//! Texts to a cellnumber: account recovery and sign-up by a one-time code, with the tries and the
//! SMS bill bounded in the database.
//!
//! The rules are pure ([`code`]: codes, their keyed hashes and the texts; [`limits`]: what the
//! counts answer); the SQL is in `store`; the two flows are `recovery` and `signup`; `pace` sends a
//! text or waits as long as one takes.

pub mod code;
pub mod delivery;
pub mod limits;
mod pace;
mod recovery;
pub mod settings;
mod signup;
mod store;

pub use recovery::{forgot, reset, ForgotRequest, ResetRequest, FORGOT_ANSWER};
pub use signup::{ensure_open, signup, verify, SignupRequest, VerifyRequest, SIGNUP_ANSWER};

use delivery::{Logged, NoSender, Outbox, Sns, TextSender};
use settings::{SmsConfig, SmsSender};

/// The sender of a function that sends texts, as the configuration names it, logged and counted
/// ([`Logged`]); created once per cold start by `http::run_sending_texts`. It names the SNS
/// client: every other function's `App` gets [`sender_without_sns`], so the client (0.2 MB
/// of a stripped release binary) is linked into the functions that send texts alone.
pub fn sender(config: &SmsConfig) -> Box<dyn TextSender> {
    match &config.sender {
        SmsSender::Sns => Box::new(Logged::new("sns", Sns::new())),
        SmsSender::Outbox(_) => sender_without_sns(config),
    }
}

/// The sender every `App` starts with: the outbox when texts go there (locally, where any
/// function may write it); with `SMS_SENDER=sns`, [`NoSender`], which fails every text loudly
/// in a function that was not started to send them.
pub fn sender_without_sns(config: &SmsConfig) -> Box<dyn TextSender> {
    match &config.sender {
        SmsSender::Outbox(path) => Box::new(Logged::new("outbox", Outbox::new(path))),
        SmsSender::Sns => Box::new(Logged::new("none", NoSender)),
    }
}
