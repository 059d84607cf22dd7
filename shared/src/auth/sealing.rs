//! Secrets kept encrypted at rest (the TOTP secrets of the second factor): AES-256-GCM under keys
//! the database does not hold (`MFA_KEYS`, from Secrets Manager in AWS). Each sealed secret names its key by id, so a new
//! key can come first while secrets sealed under the older ones still open.

use base64::Engine;
use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey, NONCE_LEN};
use ring::{hkdf, hmac};

use crate::auth::random as secure_random;
use crate::error::ApiError;

/// Longest key id (the column is `VARCHAR(32)`).
const MAX_KEY_ID_CHARS: usize = 32;

/// A secret sealed under the key `key_id`: the nonce, then the ciphertext and its tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub key_id: String,
    pub bytes: Vec<u8>,
}

/// The keys of `MFA_KEYS`, newest (the one that seals) first.
pub struct SealingKeys {
    keys: Vec<(String, LessSafeKey)>,
    /// HKDF-SHA256 extracted from the newest key: the root of [`SealingKeys::derived_key`].
    derivation: hkdf::Prk,
}

/// The salt of [`SealingKeys::derived_key`]'s extraction: fixed, as RFC 5869 allows for a key
/// that is already uniformly random.
const DERIVATION_SALT: &[u8] = b"users-api derived keys";

impl std::fmt::Debug for SealingKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("SealingKeys")
            .field("key_ids", &ids)
            .finish()
    }
}

impl SealingKeys {
    /// Parses `kid:base64,kid:base64,…` (newest first; each key 32 bytes in standard base64).
    /// The error names what is wrong, never a key.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut keys: Vec<(String, LessSafeKey)> = Vec::new();
        let mut newest: Option<Vec<u8>> = None;
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (id, encoded) = entry
                .split_once(':')
                .ok_or("each key must be written id:base64")?;
            let id = id.trim();
            let valid_id = !id.is_empty()
                && id.len() <= MAX_KEY_ID_CHARS
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !valid_id {
                return Err(format!(
                    "a key id must be 1 to {MAX_KEY_ID_CHARS} letters, digits, - or _"
                ));
            }
            if keys.iter().any(|(known, _)| known == id) {
                return Err(format!("key id {id} appears twice"));
            }
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .map_err(|_| format!("key {id} is not base64"))?;
            let unbound = UnboundKey::new(&aead::AES_256_GCM, &bytes)
                .map_err(|_| format!("key {id} must be 32 bytes"))?;
            keys.push((id.to_owned(), LessSafeKey::new(unbound)));
            newest.get_or_insert(bytes);
        }
        let Some(newest) = newest else {
            return Err("no key given".into());
        };
        let derivation = hkdf::Salt::new(hkdf::HKDF_SHA256, DERIVATION_SALT).extract(&newest);
        Ok(Self { keys, derivation })
    }

    /// An HMAC-SHA256 key for another use than sealing (the hashes of SMS codes), derived from
    /// the newest key with HKDF and `label` as its info: no second secret to deploy, and each
    /// label gives a key unrelated to the sealing key and to every other label's. A new newest key
    /// gives new derived keys, so what was hashed under the old one no longer verifies.
    pub fn derived_key(&self, label: &'static [u8]) -> hmac::Key {
        let labels = [label];
        match self.derivation.expand(&labels, hmac::HMAC_SHA256) {
            Ok(okm) => hmac::Key::from(okm),
            // Only a length over 255 digests fails, and an HMAC-SHA256 key is one digest long.
            Err(_) => unreachable!("HKDF-SHA256 expands to 32 bytes"),
        }
    }

    /// Seals `secret` under the newest key, bound to `user_id` (a sealed secret copied onto
    /// another user's row does not open there).
    pub fn seal(&self, user_id: u64, secret: &[u8]) -> Result<Sealed, ApiError> {
        let (key_id, key) = &self.keys[0];
        // A random 96-bit nonce per seal: far fewer seals per key than the 2^32 that would make
        // a repeat likely.
        let nonce_bytes = secure_random::bytes::<NONCE_LEN>()?;
        let mut in_out = secret.to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce_bytes),
            Aad::from(user_id.to_be_bytes()),
            &mut in_out,
        )
        .map_err(|_| ApiError::Internal("sealing a TOTP secret failed".into()))?;
        let mut bytes = nonce_bytes.to_vec();
        bytes.extend_from_slice(&in_out);
        Ok(Sealed {
            key_id: key_id.clone(),
            bytes,
        })
    }

    /// The secret `sealed` holds for `user_id`. An unknown key id or a sealed value that does
    /// not open (tampered, or another user's) is an internal error: the data is not the client's.
    pub fn open(&self, user_id: u64, sealed: &Sealed) -> Result<Vec<u8>, ApiError> {
        let (_, key) = self
            .keys
            .iter()
            .find(|(id, _)| *id == sealed.key_id)
            .ok_or_else(|| {
                ApiError::Internal(format!(
                    "a TOTP secret is sealed under key {}, which MFA_KEYS does not hold",
                    sealed.key_id
                ))
            })?;
        let unopenable = || ApiError::Internal("a TOTP secret does not open".into());
        if sealed.bytes.len() < NONCE_LEN {
            return Err(unopenable());
        }
        let (nonce, ciphertext) = sealed.bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| unopenable())?;
        let mut in_out = ciphertext.to_vec();
        let opened = key
            .open_in_place(nonce, Aad::from(user_id.to_be_bytes()), &mut in_out)
            .map_err(|_| unopenable())?;
        Ok(opened.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> String {
        base64::engine::general_purpose::STANDARD.encode([byte; 32])
    }

    #[test]
    fn a_sealed_secret_opens_for_its_user_only() {
        let keys = SealingKeys::parse(&format!("k2:{}", key(2))).unwrap();
        let sealed = keys.seal(7, b"twenty bytes secret!").unwrap();
        assert_eq!(sealed.key_id, "k2");
        assert!(!sealed.bytes.windows(5).any(|window| window == b"twent"));
        assert_eq!(keys.open(7, &sealed).unwrap(), b"twenty bytes secret!");
        assert!(keys.open(8, &sealed).is_err());
        let mut tampered = sealed.clone();
        *tampered.bytes.last_mut().unwrap() ^= 1;
        assert!(keys.open(7, &tampered).is_err());
        // Two seals of one secret differ (a fresh nonce each).
        assert_ne!(keys.seal(7, b"twenty bytes secret!").unwrap(), sealed);
    }

    #[test]
    fn a_new_key_seals_and_the_old_one_still_opens() {
        let old = SealingKeys::parse(&format!("k1:{}", key(1))).unwrap();
        let sealed_before = old.seal(3, b"secret").unwrap();
        let rotated = SealingKeys::parse(&format!("k2:{}, k1:{}", key(2), key(1))).unwrap();
        assert_eq!(rotated.open(3, &sealed_before).unwrap(), b"secret");
        assert_eq!(rotated.seal(3, b"secret").unwrap().key_id, "k2");
        let without_old = SealingKeys::parse(&format!("k2:{}", key(2))).unwrap();
        let error = without_old.open(3, &sealed_before).unwrap_err();
        assert!(error.to_string().contains("k1"));
    }

    #[test]
    fn derived_keys_follow_the_newest_key_and_differ_by_label() {
        let tag = |keys: &SealingKeys, label: &'static [u8]| {
            hmac::sign(&keys.derived_key(label), b"message")
                .as_ref()
                .to_vec()
        };
        let one = SealingKeys::parse(&format!("k1:{}", key(1))).unwrap();
        let again = SealingKeys::parse(&format!("k1:{}, k0:{}", key(1), key(0))).unwrap();
        let rotated = SealingKeys::parse(&format!("k2:{}, k1:{}", key(2), key(1))).unwrap();
        assert_eq!(
            tag(&one, b"a"),
            tag(&again, b"a"),
            "older keys play no part"
        );
        assert_ne!(tag(&one, b"a"), tag(&one, b"b"));
        assert_ne!(tag(&one, b"a"), tag(&rotated, b"a"));
        // Not the key itself: an HMAC under the raw key gives another tag.
        let raw = hmac::Key::new(hmac::HMAC_SHA256, &[1; 32]);
        assert_ne!(tag(&one, b"a"), hmac::sign(&raw, b"message").as_ref());
    }

    #[test]
    fn malformed_key_lists_are_refused_without_showing_a_key() {
        let secret_text = key(9);
        for bad in [
            String::new(),
            secret_text.clone(),
            format!("k1:{}", &secret_text[..20]),
            format!("bad id:{secret_text}"),
            format!("k1:{secret_text},k1:{secret_text}"),
            "k1:not base64!".to_owned(),
        ] {
            let error = SealingKeys::parse(&bad).unwrap_err();
            assert!(!error.contains(&secret_text[..20]), "{error}");
        }
    }
}
