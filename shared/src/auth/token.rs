//! JWT issue and verification: HS256 only, with `sub`, `role`, `iat`, `exp` and a unique `jti`.
//!
//! A verified signature is necessary but not sufficient: [`crate::auth`] also requires the
//! token's `access_token` row, its live session and its user to exist.

use chrono::{DateTime, TimeZone, Utc};
use jsonwebtoken::{Algorithm, Header, Validation};
use serde::{Deserialize, Serialize};
use std::time::Duration;

use crate::auth::key_ring::{is_kid, KeyRing, KeySource};
use crate::error::ApiError;

/// HS256 keys shorter than the hash output make brute-forcing the key the weakest link.
pub const MIN_SECRET_KEY_BYTES: usize = 32;

/// Clock skew tolerated between the instances that issue and verify tokens.
pub const LEEWAY_SECONDS: u64 = 5;
/// No token we issue comes close; anything longer is refused before it is parsed.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id, as a string per RFC 7519.
    pub sub: String,
    /// The role when issued; informative only, since authorization reads the current role.
    pub role: u8,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

/// A freshly signed token and what the access-token store records of it.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: String,
    pub jti: String,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// What a verified token says: the user it claims and its id in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    pub user_id: u64,
    pub jti: String,
}

/// Keys and rules, built once per cold start; the keys are renewed after a rotation (see
/// [`crate::auth::key_ring`]).
pub struct TokenKeys {
    ring: KeyRing,
    validation: Validation,
    ttl: Duration,
}

impl TokenKeys {
    pub fn new(secret: &[u8], ttl: Duration) -> Self {
        Self::with_versions(&[secret], ttl)
    }

    /// Keys of several versions of the secret, newest first: the newest signs, all verify.
    pub fn with_versions(versions: &[&[u8]], ttl: Duration) -> Self {
        hs256::install();
        // The accepted algorithm is fixed here, never read from the token's header.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self {
            ring: KeyRing::new(versions),
            validation,
            ttl,
        }
    }

    /// Keys that are read again from `source` when they may have changed.
    pub fn with_source(mut self, source: KeySource) -> Self {
        self.ring = self.ring.with_source(source);
        self
    }

    /// Reads the keys again after `interval` rather than every few minutes (tests).
    pub fn with_refresh_interval(mut self, interval: Duration) -> Self {
        self.ring = self.ring.with_refresh_interval(interval);
        self
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The ring of keys: what signs and verifies now, and when it is read again.
    pub fn ring(&self) -> &KeyRing {
        &self.ring
    }

    /// Reads the keys again when they are due (every few minutes); called before each request.
    pub async fn refresh_if_due(&self) {
        self.ring.refresh_if_due().await;
    }

    /// Signs a token for `user_id`, valid for the configured lifetime but never past
    /// `not_after` (the end of its session): a token must not outlive what it was issued for.
    pub fn issue(
        &self,
        user_id: u64,
        role: u8,
        now: DateTime<Utc>,
        not_after: DateTime<Utc>,
    ) -> Result<IssuedToken, ApiError> {
        // Whole seconds, so the expiry recorded in the store is the one inside the token; the
        // cap is rounded down, so `exp` is never later than `not_after`.
        let whole_second = |at: DateTime<Utc>| {
            Utc.timestamp_opt(at.timestamp(), 0)
                .single()
                .ok_or_else(|| ApiError::Internal("clock out of range".into()))
        };
        let issued_at = whole_second(now)?;
        let expires_at = (issued_at + self.ttl).min(whole_second(not_after)?);
        let jti = uuid::Uuid::new_v4().simple().to_string();
        let claims = Claims {
            sub: user_id.to_string(),
            role,
            iat: issued_at.timestamp(),
            exp: expires_at.timestamp(),
            jti: jti.clone(),
        };
        let keys = self.ring.keys();
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(keys.signing_kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, &keys.signing)
            .map_err(|error| ApiError::Internal(format!("signing a token failed: {error}")))?;
        Ok(IssuedToken {
            token,
            jti,
            issued_at,
            expires_at,
        })
    }

    /// Signature, algorithm, expiry and shape; every failure is the same `Unauthorized`. The
    /// key is the one the token's `kid` names (read again, rate-limited, when it is not known
    /// yet: a token of an instance that has picked up a rotation first); a token without `kid`
    /// (issued before tokens carried one) is checked with each key held.
    pub async fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<VerifiedToken, ApiError> {
        if token.is_empty() || token.len() > MAX_TOKEN_BYTES {
            return Err(ApiError::Unauthorized);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| ApiError::Unauthorized)?;
        // A header that points at a key (jku, jwk, x5u, x5c) was not made here, whatever its
        // signature says; a kid is only ever one of ours, never a URL or a path.
        if header.alg != Algorithm::HS256
            || header.jku.is_some()
            || header.jwk.is_some()
            || header.x5u.is_some()
            || header.x5c.is_some()
            || header.kid.as_deref().is_some_and(|kid| !is_kid(kid))
        {
            return Err(ApiError::Unauthorized);
        }
        let mut keys = self.ring.keys();
        if let Some(kid) = header.kid.as_deref() {
            if keys.verifying_key(kid).is_none() {
                if !self.ring.refresh_for(kid).await {
                    return Err(ApiError::Unauthorized);
                }
                keys = self.ring.keys();
            }
        }
        let claims = match header.kid.as_deref() {
            Some(kid) => {
                let key = keys.verifying_key(kid).ok_or(ApiError::Unauthorized)?;
                jsonwebtoken::decode::<Claims>(token, key, &self.validation)
                    .map_err(|_| ApiError::Unauthorized)?
                    .claims
            }
            // Issued before tokens named their key: by one of the (at most two) held.
            None => {
                keys.verifying
                    .iter()
                    .find_map(|(_, key)| {
                        jsonwebtoken::decode::<Claims>(token, key, &self.validation).ok()
                    })
                    .ok_or(ApiError::Unauthorized)?
                    .claims
            }
        };
        // A token from the future was not issued by a clock we trust.
        if claims.iat > now.timestamp() + LEEWAY_SECONDS as i64 {
            return Err(ApiError::Unauthorized);
        }
        let user_id: u64 = claims.sub.parse().map_err(|_| ApiError::Unauthorized)?;
        if claims.jti.len() != 32 || !claims.jti.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ApiError::Unauthorized);
        }
        Ok(VerifiedToken {
            user_id,
            jti: claims.jti,
        })
    }
}

/// jsonwebtoken's cryptography, HS256 only, on `ring` (which rustls links anyway). Its own
/// backends bring RSA, ECDSA and EdDSA code, whose only effect here would be size and an attack
/// surface: a token naming another algorithm is refused before any of it could run.
mod hs256 {
    use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
    use jsonwebtoken::errors::{ErrorKind, Result};
    use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, EncodingKey};
    use ring::hmac;

    struct Hs256(hmac::Key);

    impl signature::Signer<Vec<u8>> for Hs256 {
        fn try_sign(&self, message: &[u8]) -> std::result::Result<Vec<u8>, signature::Error> {
            Ok(hmac::sign(&self.0, message).as_ref().to_vec())
        }
    }

    impl JwtSigner for Hs256 {
        fn algorithm(&self) -> Algorithm {
            Algorithm::HS256
        }
    }

    impl signature::Verifier<Vec<u8>> for Hs256 {
        /// Constant-time comparison (ring's).
        fn verify(
            &self,
            message: &[u8],
            tag: &Vec<u8>,
        ) -> std::result::Result<(), signature::Error> {
            hmac::verify(&self.0, message, tag).map_err(|_| signature::Error::new())
        }
    }

    impl JwtVerifier for Hs256 {
        fn algorithm(&self) -> Algorithm {
            Algorithm::HS256
        }
    }

    fn hs256_key(algorithm: &Algorithm, family: AlgorithmFamily, secret: &[u8]) -> Result<Hs256> {
        if *algorithm != Algorithm::HS256 || family != AlgorithmFamily::Hmac {
            return Err(ErrorKind::InvalidAlgorithm.into());
        }
        Ok(Hs256(hmac::Key::new(hmac::HMAC_SHA256, secret)))
    }

    fn signer(algorithm: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>> {
        Ok(Box::new(hs256_key(
            algorithm,
            key.family(),
            key.as_bytes(),
        )?))
    }

    fn verifier(algorithm: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>> {
        Ok(Box::new(hs256_key(
            algorithm,
            key.family(),
            key.try_get_as_bytes()?,
        )?))
    }

    static PROVIDER: CryptoProvider = CryptoProvider {
        signer_factory: signer,
        verifier_factory: verifier,
        // JWK helpers: never called, since no key here comes from a JWK.
        key_utils: KeyUtils::new_unimplemented(),
    };

    /// Idempotent: the first call installs the provider for the process.
    pub fn install() {
        let _already_installed = PROVIDER.install_default();
    }
}

#[cfg(test)]
mod tests;
