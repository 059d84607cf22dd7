//! Recovery codes: ten per user, each 80 random bits, shown once and kept only as SHA-256 (a
//! slow hash is not needed for secrets nobody can guess); a code is spent by deleting its hash.

use crate::auth::random as secure_random;
use crate::error::ApiError;
use crate::mfa::totp::base32;

/// Codes made at a time.
pub const CODES: usize = 10;
/// Longest `recoveryCode` read (spaces and dashes included).
pub const MAX_CODE_CHARS: usize = 64;
/// 80 bits: 16 base32 characters.
const CODE_BYTES: usize = 10;
const CODE_CHARS: usize = 16;

/// A new code as shown: 16 base32 characters, lower case, in groups of four.
fn new_code() -> Result<String, ApiError> {
    let plain = base32(&secure_random::bytes::<CODE_BYTES>()?).to_ascii_lowercase();
    let groups: Vec<&str> = (0..CODE_CHARS)
        .step_by(4)
        .map(|start| &plain[start..start + 4])
        .collect();
    Ok(groups.join("-"))
}

/// [`CODES`] new codes, and the hashes to store of them.
pub fn new_codes() -> Result<(Vec<String>, Vec<[u8; 32]>), ApiError> {
    let codes = (0..CODES)
        .map(|_| new_code())
        .collect::<Result<Vec<_>, _>>()?;
    let hashes = codes
        .iter()
        .map(|code| hash(code).ok_or_else(|| ApiError::Internal("a new code is malformed".into())))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((codes, hashes))
}

/// The stored hash of what a user typed, with spaces and dashes ignored and case ignored; `None`
/// when it cannot be a code at all (no lookup is needed to refuse it).
pub fn hash(typed: &str) -> Option<[u8; 32]> {
    if typed.chars().count() > MAX_CODE_CHARS {
        return None;
    }
    let normal: String = typed
        .chars()
        .filter(|c| *c != ' ' && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let well_formed = normal.len() == CODE_CHARS
        && normal
            .bytes()
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b));
    well_formed.then(|| secure_random::sha256(normal.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_random_readable_and_hash_however_typed() {
        let (codes, hashes) = new_codes().unwrap();
        assert_eq!(codes.len(), CODES);
        assert_eq!(hashes.len(), CODES);
        let first = &codes[0];
        assert_eq!(first.len(), 19, "{first}");
        assert!(codes[1..].iter().all(|other| other != first));
        let typed = first.replace('-', " ").to_ascii_uppercase();
        assert_eq!(hash(&typed), Some(hashes[0]));
        assert_eq!(hash(&first.replace('-', "")), Some(hashes[0]));
    }

    #[test]
    fn what_cannot_be_a_code_has_no_hash() {
        for bad in [
            "",
            "abcd",
            "abcd-efgh-ijkl-mnop-q",
            "abcd-efgh-ijkl-mno1",
            "é",
            &"a".repeat(65),
        ] {
            assert_eq!(hash(bad), None, "{bad}");
        }
    }
}
