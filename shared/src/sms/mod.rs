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
