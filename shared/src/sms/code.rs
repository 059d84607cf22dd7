//! One-time codes sent by SMS: made from the operating system's CSPRNG, kept only as a keyed hash
//! (HMAC-SHA256 under a key derived from `MFA_KEYS`), compared in constant time, and the bodies of
//! the texts that carry them.

use std::time::Duration;

use ring::hmac;

use crate::auth::random as secure_random;
use crate::error::ApiError;

/// Digits of a code.
pub const CODE_DIGITS: usize = 6;

/// The HKDF label of the key that hashes codes: another label gives an unrelated key.
const KEY_LABEL: &[u8] = b"sms-code-v1";

/// The largest multiple of 10^6 that fits in a `u32`: a random number below it, taken modulo
/// 10^6, gives every code with the same chance.
const UNBIASED_BELOW: u32 = u32::MAX - u32::MAX % 1_000_000;

/// What a code proves: the two flows never accept each other's codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Recovery,
    Signup,
}

impl Purpose {
    /// The value of `sms_code.purpose`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Recovery => "recovery",
            Self::Signup => "signup",
        }
    }
}

/// A code as the user types it: exactly 6 ASCII digits (no other digits of Unicode, no spaces).
pub fn is_code(text: &str) -> bool {
    text.len() == CODE_DIGITS && text.bytes().all(|b| b.is_ascii_digit())
}

/// A new code: 6 digits, each of the 10^6 codes equally likely.
pub fn new_code() -> Result<String, ApiError> {
    loop {
        let number = u32::from_be_bytes(secure_random::bytes::<4>()?);
        // Rejecting the top 0.02% of the range keeps the modulo unbiased.
        if number < UNBIASED_BELOW {
            return Ok(format!("{:06}", number % 1_000_000));
        }
    }
}

/// The key that hashes codes, derived from the deployment's `MFA_KEYS`. Without them there is
/// no key the database does not hold, so the SMS routes refuse to work (503) rather than store
/// codes that a read of the database would reveal.
pub fn hashing_key(app: &crate::App) -> Result<hmac::Key, ApiError> {
    match &app.sealing_keys {
        Some(keys) => Ok(keys.derived_key(KEY_LABEL)),
        None => Err(ApiError::Unavailable(
            "MFA_KEYS is not set: SMS codes cannot be hashed, so recovery and sign-up by SMS \
             answer 503 until it is"
                .into(),
        )),
    }
}

/// What is hashed: the purpose and the cellnumber with the code, so a stored hash proves this
/// code for this number and flow only (a row copied to another number does not verify there).
fn message(purpose: Purpose, cellnumber: &str, code: &str) -> Vec<u8> {
    [purpose.as_str(), cellnumber, code].join("\n").into_bytes()
}

/// The keyed hash stored in place of `code`.
pub fn hash(key: &hmac::Key, purpose: Purpose, cellnumber: &str, code: &str) -> [u8; 32] {
    let tag = hmac::sign(key, &message(purpose, cellnumber, code));
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

/// Whether `code` is the one `stored` was made of, compared in constant time (ring's HMAC
/// verification), so the time taken tells nothing about how much of it matched.
pub fn matches(
    key: &hmac::Key,
    purpose: Purpose,
    cellnumber: &str,
    code: &str,
    stored: &[u8],
) -> bool {
    hmac::verify(key, &message(purpose, cellnumber, code), stored).is_ok()
}

/// Whole minutes of `ttl`, rounded up, as a text says them.
fn minutes(ttl: Duration) -> u64 {
    ttl.as_secs().div_ceil(60).max(1)
}

/// The text with a recovery code. The code is its only run of 6 digits, so an app that reads
/// codes from texts finds it, and a reader cannot mistake another number for it.
pub fn recovery_text(code: &str, ttl: Duration) -> String {
    format!(
        "Your password reset code is {code}. It expires in {} minutes. If you did not ask for \
         it, ignore this text: your password stays as it is.",
        minutes(ttl)
    )
}

/// The text with a sign-up code.
pub fn signup_text(code: &str, ttl: Duration) -> String {
    format!(
        "Your sign-up code is {code}. It expires in {} minutes. If you did not sign up, ignore \
         this text.",
        minutes(ttl)
    )
}

/// The text a sign-up for a cellnumber that already has an account sends instead of a code: its
/// owner learns of it, the one who signed up learns nothing from the answer.
pub fn already_registered_text() -> String {
    "Someone tried to sign up with this number, which already has an account. If it was you, \
     sign in, or reset your password if you forgot it. If not, ignore this text."
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The runs of ASCII digits of `text`.
    fn digit_runs(text: &str) -> Vec<&str> {
        text.split(|c: char| !c.is_ascii_digit())
            .filter(|run| !run.is_empty())
            .collect()
    }

    #[test]
    fn codes_are_six_digits_and_differ() {
        let codes: Vec<String> = (0..50).map(|_| new_code().unwrap()).collect();
        for code in &codes {
            assert!(is_code(code), "{code}");
        }
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert!(unique.len() > 45, "{codes:?}");
        assert_eq!(UNBIASED_BELOW % 1_000_000, 0);
    }

    #[test]
    fn only_six_ascii_digits_are_a_code() {
        assert!(is_code("012345"));
        for bad in [
            "",
            "12345",
            "1234567",
            "12 456",
            " 12345",
            "12345 ",
            "١٢٣٤٥٦",
            "１２３４５６",
            "12345a",
            "+12345",
            "-12345",
            "1.2345",
        ] {
            assert!(!is_code(bad), "{bad:?}");
        }
    }

    #[test]
    fn a_hash_verifies_its_code_number_and_purpose_only() {
        let key = hmac::Key::new(hmac::HMAC_SHA256, &[7; 32]);
        let stored = hash(&key, Purpose::Recovery, "+15550000002", "123456");
        let other_key = hmac::Key::new(hmac::HMAC_SHA256, &[8; 32]);
        let right = (
            &key,
            Purpose::Recovery,
            "+15550000002",
            "123456",
            &stored[..],
        );
        assert!(matches(right.0, right.1, right.2, right.3, right.4));
        // Each a change of one thing: the code, the purpose, the number, the key, the stored hash.
        for (key, purpose, number, code, stored) in [
            (
                &key,
                Purpose::Recovery,
                "+15550000002",
                "123457",
                &stored[..],
            ),
            (&key, Purpose::Signup, "+15550000002", "123456", &stored[..]),
            (
                &key,
                Purpose::Recovery,
                "+15550000003",
                "123456",
                &stored[..],
            ),
            (
                &other_key,
                Purpose::Recovery,
                "+15550000002",
                "123456",
                &stored[..],
            ),
            (
                &key,
                Purpose::Recovery,
                "+15550000002",
                "123456",
                &stored[..31],
            ),
        ] {
            assert!(!matches(key, purpose, number, code, stored));
        }
        // Not a plain digest of the code: the key is needed to make one.
        assert_ne!(stored, secure_random::sha256(b"123456"));
    }

    #[test]
    fn the_code_is_the_only_run_of_six_digits_of_its_text() {
        for ttl in [60, 600, 601, 3600, 24 * 3600] {
            let ttl = Duration::from_secs(ttl);
            for text in [recovery_text("042424", ttl), signup_text("042424", ttl)] {
                let runs = digit_runs(&text);
                let long: Vec<&&str> = runs.iter().filter(|run| run.len() >= 6).collect();
                assert_eq!(long, [&"042424"], "{text}");
            }
        }
        assert!(recovery_text("000000", Duration::from_secs(600)).contains("10 minutes"));
        assert!(recovery_text("000000", Duration::from_secs(61)).contains("2 minutes"));
        assert!(digit_runs(&already_registered_text()).is_empty());
    }
}
