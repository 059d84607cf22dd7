//! Texts to a cellnumber: account recovery and sign-up by a one-time code, with the tries and the
//! SMS bill bounded in the database.
//!
//! The rules are pure ([`code`]: codes, their keyed hashes and the texts; [`limits`]: what the
//! counts answer); the SQL is in `store`; the two flows are `recovery` and `signup`; `pace` sends a
//! text or waits as long as one takes.

pub mod code;
pub mod limits;
mod pace;
mod recovery;
mod signup;
mod store;

pub use recovery::{forgot, reset, ForgotRequest, ResetRequest, FORGOT_ANSWER};
pub use signup::{ensure_open, signup, verify, SignupRequest, VerifyRequest, SIGNUP_ANSWER};
