//! The key material of one version of the signing key: an RSA private key (PKCS#8 PEM), which
//! signs RS256 and is published in the JWKS, or a legacy HS256 secret of a deployment from before
//! RS256, which only ever verifies the tokens its own records say it signed.

use std::sync::Arc;

use base64::Engine;
use ring::signature::{KeyPair, RsaKeyPair};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::PrivatePkcs8KeyDer;
use serde::Serialize;

/// The smallest RSA modulus accepted, in bits (ring refuses smaller key pairs too).
pub const MIN_RSA_BITS: usize = 2048;
/// HS256 keys shorter than the hash output make brute-forcing the key the weakest link.
pub const MIN_SECRET_KEY_BYTES: usize = 32;

const PEM_BEGIN: &str = "-----BEGIN";

/// One key version, parsed.
#[derive(Clone)]
pub enum KeyMaterial {
    Rsa(RsaKey),
    /// The HS256 secret of a deployment before the switch: its tokens stay valid until they
    /// expire (their records say `HS256`), and it signs only where no RSA key is configured.
    LegacyHs256(Arc<[u8]>),
}

/// An RSA key pair, its `kid` and its public half as a JWK.
#[derive(Clone)]
pub struct RsaKey {
    pub kid: String,
    pub pair: Arc<RsaKeyPair>,
    pub jwk: Jwk,
}

/// A public key as the JWKS lists it (RFC 7517, 7518 §6.3.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Jwk {
    #[schema(value_type = String, pattern = "^RSA$")]
    pub kty: &'static str,
    #[serde(rename = "use")]
    #[schema(value_type = String, pattern = "^sig$")]
    pub use_: &'static str,
    #[schema(value_type = String, pattern = "^RS256$")]
    pub alg: &'static str,
    /// The key's id, as in the `kid` header of the tokens it signs.
    pub kid: String,
    /// The modulus, base64url.
    pub n: String,
    /// The public exponent, base64url.
    pub e: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("not a PKCS#8 PEM private key")]
    NotPkcs8Pem,
    #[error("not an RSA key of {MIN_RSA_BITS} bits or more: {0}")]
    NotRsa(String),
    #[error("an HS256 key must be at least {MIN_SECRET_KEY_BYTES} bytes long")]
    ShortSecret,
}

/// Whether `text` is a PEM document rather than an HS256 secret.
pub fn is_pem(text: &str) -> bool {
    normalize_pem(text).trim_start().starts_with(PEM_BEGIN)
}

/// A PEM kept on one line of a `.env` file, with `\n` escapes, made multi-line again.
pub fn normalize_pem(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains("\\n") {
        text.replace("\\n", "\n").into()
    } else {
        text.into()
    }
}

impl KeyMaterial {
    /// A version's text: a PEM is an RSA key (or an error), anything else an HS256 secret.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        if is_pem(text) {
            return RsaKey::from_pem(text).map(Self::Rsa);
        }
        if text.len() < MIN_SECRET_KEY_BYTES {
            return Err(KeyError::ShortSecret);
        }
        Ok(Self::LegacyHs256(text.as_bytes().into()))
    }
}

impl RsaKey {
    pub fn from_pem(text: &str) -> Result<Self, KeyError> {
        let der = PrivatePkcs8KeyDer::from_pem_slice(normalize_pem(text).trim().as_bytes())
            .map_err(|_| KeyError::NotPkcs8Pem)?;
        let pair = RsaKeyPair::from_pkcs8(der.secret_pkcs8_der())
            .map_err(|e| KeyError::NotRsa(e.to_string()))?;
        if pair.public().modulus_len() * 8 < MIN_RSA_BITS {
            return Err(KeyError::NotRsa("the modulus is too short".into()));
        }
        let components: ring::rsa::PublicKeyComponents<Vec<u8>> = pair.public_key().into();
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let (n, e) = (b64(&components.n), b64(&components.e));
        let kid = thumbprint_kid(&n, &e);
        Ok(Self {
            jwk: Jwk {
                kty: "RSA",
                use_: "sig",
                alg: "RS256",
                kid: kid.clone(),
                n,
                e,
            },
            kid,
            pair: Arc::new(pair),
        })
    }

    /// The public modulus and exponent, big-endian, for verifying.
    pub fn public_components(&self) -> (Vec<u8>, Vec<u8>) {
        let components: ring::rsa::PublicKeyComponents<Vec<u8>> = self.pair.public_key().into();
        (components.n, components.e)
    }
}

/// The first 12 bytes of the key's RFC 7638 thumbprint, base64url: derived from the public key
/// alone, so any verifier can check it names the key, and never a URL or a path.
fn thumbprint_kid(n: &str, e: &str) -> String {
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    let digest = ring::digest::digest(&ring::digest::SHA256, canonical.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest.as_ref()[..12])
}
