//! Tokens made by hand, as an attacker or another deployment would: signed RS256 with the suite's
//! key (as the test apps sign, so only the part a test changes can get one refused), HMAC'd with
//! any secret whatever the header says, and their parts read back.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;
use shared::auth::signing_key::RsaKey;

use crate::test_signing_key;

/// The suite's signing key, parsed: its `kid` and its key pair.
pub fn test_rsa_key() -> RsaKey {
    RsaKey::from_pem(test_signing_key()).expect("the test key is an RSA PKCS#8 PEM")
}

/// The JWT of `header` and `claims`, signed RS256 (PKCS#1 v1.5, SHA-256) with the suite's key,
/// whatever the header says.
pub fn rs256_signed(header: &Value, claims: &Value) -> String {
    rs256_signed_with(&test_rsa_key(), header, claims)
}

/// [`rs256_signed`] with another key.
pub fn rs256_signed_with(key: &RsaKey, header: &Value, claims: &Value) -> String {
    let input = signing_input(header, claims);
    let pair = &key.pair;
    let mut signature = vec![0; pair.public().modulus_len()];
    pair.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        input.as_bytes(),
        &mut signature,
    )
    .expect("RSA signing");
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// The JWT of `header` and `claims`, HMAC-SHA256'd with `secret`, whatever the header says.
pub fn hmac_signed(header: &Value, claims: &Value, secret: &[u8]) -> String {
    let input = signing_input(header, claims);
    let tag = ring::hmac::sign(
        &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret),
        input.as_bytes(),
    );
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
}

/// A token's header (`part` 0) or claims (`part` 1), decoded.
pub fn token_part(token: &str, part: usize) -> Value {
    let text = token.split('.').nth(part).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(text).unwrap()).unwrap()
}

fn signing_input(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}
