//! Secrets made here: random bytes from the operating system's CSPRNG (ring's `SystemRandom`),
//! written in URL-safe base64, and the SHA-256 digests stored in their place.

use base64::Engine;
use ring::rand::{SecureRandom, SystemRandom};

use crate::error::ApiError;

/// `N` bytes from the operating system's CSPRNG.
pub fn bytes<const N: usize>() -> Result<[u8; N], ApiError> {
    let mut out = [0u8; N];
    SystemRandom::new()
        .fill(&mut out)
        .map_err(|_| ApiError::Internal("the system's random number generator failed".into()))?;
    Ok(out)
}

/// Unpadded URL-safe base64: safe in paths, query strings and JSON without escaping.
pub fn url_safe(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn sha256(data: &[u8]) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_a_known_input() {
        let hex: String = sha256(b"abc").iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn random_bytes_differ() {
        assert_ne!(bytes::<32>().unwrap(), bytes::<32>().unwrap());
        assert_eq!(url_safe(&[0xfb, 0xff]), "-_8");
    }
}
