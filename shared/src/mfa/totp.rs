//! Time-based one-time passwords (RFC 6238 over RFC 4226): HMAC-SHA1, 6 digits, 30-second steps.
//! Pure: the clock and the last step used are given, so every rule is tested without a database.

use ring::hmac;

/// Seconds per step.
pub const STEP_SECONDS: u64 = 30;
/// Digits of a code.
pub const DIGITS: usize = 6;
/// 160 bits, the length RFC 4226 recommends for HMAC-SHA1.
pub const SECRET_BYTES: usize = 20;
/// Steps of clock skew accepted either side of the current one.
const SKEW_STEPS: u64 = 1;

/// The step `unix_seconds` falls in.
pub fn step_at(unix_seconds: u64) -> u64 {
    unix_seconds / STEP_SECONDS
}

/// The code of `counter` (RFC 4226 section 5.3), as a number below 10^`digits`.
fn hotp(secret: &[u8], counter: u64, digits: u32) -> u32 {
    // SHA-1 is what every authenticator app computes for TOTP; HMAC-SHA1 is not weakened by
    // SHA-1's collisions.
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
    let tag = hmac::sign(&key, &counter.to_be_bytes());
    let mac = tag.as_ref();
    let offset = usize::from(mac[mac.len() - 1] & 0x0f);
    let truncated = u32::from_be_bytes([
        mac[offset] & 0x7f,
        mac[offset + 1],
        mac[offset + 2],
        mac[offset + 3],
    ]);
    truncated % 10u32.pow(digits)
}

/// The 6-digit code of `step`, zero-padded.
pub fn code_at(secret: &[u8], step: u64) -> String {
    format!(
        "{:0width$}",
        hotp(secret, step, DIGITS as u32),
        width = DIGITS
    )
}

/// Whether `code` is a well-formed TOTP code: exactly 6 ASCII digits.
pub fn is_code(code: &str) -> bool {
    code.len() == DIGITS && code.bytes().all(|b| b.is_ascii_digit())
}

/// The step whose code `code` is, among the current step `now_step` and one either side, that is
/// later than `last_step` (the step of the last code accepted for this user; 0 for none): each
/// step's code is accepted at most once. `None` for any other code. Every candidate is computed
/// and compared in constant time, so timing does not tell which one matched.
pub fn matching_step(secret: &[u8], code: &str, now_step: u64, last_step: u64) -> Option<u64> {
    if !is_code(code) {
        return None;
    }
    let mut found = None;
    for step in now_step.saturating_sub(SKEW_STEPS)..=now_step + SKEW_STEPS {
        let expected = code_at(secret, step);
        let same = same_in_constant_time(expected.as_bytes(), code.as_bytes());
        if same && step > last_step && found.is_none() {
            found = Some(step);
        }
    }
    found
}

/// Equality of two byte strings of the same length that takes as long wherever they differ.
fn same_in_constant_time(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// RFC 4648 base32 without padding, as authenticator apps take a secret. Only encoding is ever
/// needed (secrets are made here, never typed in), which is a few lines: not worth a dependency.
pub fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
        buffer &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// The `otpauth://` URI an authenticator app reads (from a QR code) to enrol `account`.
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
    let issuer_text = utf8_percent_encode(issuer, NON_ALPHANUMERIC).to_string();
    let account_text = utf8_percent_encode(account, NON_ALPHANUMERIC).to_string();
    format!(
        "otpauth://totp/{issuer_text}:{account_text}?secret={}&issuer={issuer_text}\
         &algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
        base32(secret)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B: the SHA-1 secret is the ASCII of "12345678901234567890".
    const RFC_SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn rfc_6238_test_vectors() {
        // (time, 8-digit TOTP) of Appendix B for SHA-1.
        let vectors = [
            (59u64, 94287082u32),
            (1111111109, 7081804),
            (1111111111, 14050471),
            (1234567890, 89005924),
            (2000000000, 69279037),
            (20000000000, 65353130),
        ];
        for (time, expected) in vectors {
            assert_eq!(hotp(RFC_SECRET, step_at(time), 8), expected, "at {time}");
            // The 6-digit code is the last 6 digits of the same number.
            assert_eq!(
                code_at(RFC_SECRET, step_at(time)),
                format!("{:06}", expected % 1_000_000)
            );
        }
    }

    #[test]
    fn a_code_of_the_step_before_or_after_is_accepted_and_no_further() {
        let now = step_at(1_234_567_890);
        for (offset, accepted) in [(-2i64, false), (-1, true), (0, true), (1, true), (2, false)] {
            let step = now.checked_add_signed(offset).unwrap();
            let code = code_at(RFC_SECRET, step);
            assert_eq!(
                matching_step(RFC_SECRET, &code, now, 0),
                accepted.then_some(step),
                "offset {offset}"
            );
        }
    }

    #[test]
    fn a_step_already_used_is_refused_and_a_later_one_accepted() {
        let now = step_at(2_000_000_000);
        let code = code_at(RFC_SECRET, now);
        assert_eq!(matching_step(RFC_SECRET, &code, now, now - 1), Some(now));
        assert_eq!(matching_step(RFC_SECRET, &code, now, now), None);
        // An earlier step's code after a later one was used: refused too.
        let earlier = code_at(RFC_SECRET, now - 1);
        assert_eq!(matching_step(RFC_SECRET, &earlier, now, now), None);
        let later = code_at(RFC_SECRET, now + 1);
        assert_eq!(matching_step(RFC_SECRET, &later, now, now), Some(now + 1));
    }

    #[test]
    fn malformed_codes_are_refused() {
        for bad in ["", "12345", "1234567", "12345a", " 123456", "١٢٣٤٥٦"] {
            assert!(!is_code(bad), "{bad}");
            assert_eq!(matching_step(RFC_SECRET, bad, 100, 0), None);
        }
    }

    #[test]
    fn base32_is_rfc_4648() {
        // RFC 4648 section 10, without padding.
        for (input, encoded) in [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(base32(input.as_bytes()), encoded, "{input}");
        }
        assert_eq!(base32(RFC_SECRET), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    }

    #[test]
    fn the_uri_names_everything_an_app_needs() {
        let uri = otpauth_uri("Users API", "+15550000001", RFC_SECRET);
        assert_eq!(
            uri,
            "otpauth://totp/Users%20API:%2B15550000001?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=Users%20API&algorithm=SHA1&digits=6&period=30"
        );
    }
}
