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
mod tests {
    use super::*;
    use jsonwebtoken::{DecodingKey, EncodingKey};

    /// `verify` from a synchronous test (it awaits only when a kid is unknown and the keys can be
    /// read again, which these keys cannot).
    trait VerifyNow {
        fn verify_now(&self, token: &str, now: DateTime<Utc>) -> Result<VerifiedToken, ApiError>;
    }

    impl VerifyNow for TokenKeys {
        fn verify_now(&self, token: &str, now: DateTime<Utc>) -> Result<VerifiedToken, ApiError> {
            tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap()
                .block_on(self.verify(token, now))
        }
    }

    #[test]
    fn tokens_name_their_key_and_every_version_held_verifies() {
        let now = Utc::now();
        let old = TokenKeys::new(
            b"the-previous-key-0123456789abcdef",
            Duration::from_secs(60),
        );
        let rotated = TokenKeys::with_versions(
            &[SECRET, b"the-previous-key-0123456789abcdef"],
            Duration::from_secs(60),
        );
        let before = old
            .issue(1, 1, now, now + chrono::Duration::days(1))
            .unwrap();
        let after = rotated
            .issue(1, 1, now, now + chrono::Duration::days(1))
            .unwrap();
        let kid = |token: &str| jsonwebtoken::decode_header(token).unwrap().kid.unwrap();
        assert_eq!(kid(&after.token), crate::auth::key_ring::kid_of(SECRET));
        assert_ne!(kid(&before.token), kid(&after.token));
        assert!(rotated.verify_now(&before.token, now).is_ok());
        assert!(rotated.verify_now(&after.token, now).is_ok());
        // The old instance, not yet refreshed (and unable to: no source), refuses the new key.
        assert!(old.verify_now(&after.token, now).is_err());
        // After the next rotation the first key is retired.
        let retired = TokenKeys::with_versions(
            &[b"the-next-key-0123456789abcdef0123", SECRET],
            Duration::from_secs(60),
        );
        assert!(retired.verify_now(&before.token, now).is_err());
        assert!(retired.verify_now(&after.token, now).is_ok());
    }

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn keys() -> TokenKeys {
        TokenKeys::new(SECRET, Duration::from_secs(3600))
    }

    fn sign(claims: &serde_json::Value, header: Header, secret: &[u8]) -> String {
        hs256::install();
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret)).unwrap()
    }

    #[test]
    fn only_hs256_can_be_signed_or_verified() {
        hs256::install();
        let claims = claims_at(Utc::now().timestamp());
        let key = EncodingKey::from_secret(SECRET);
        for algorithm in [Algorithm::HS384, Algorithm::HS512, Algorithm::RS256] {
            assert!(jsonwebtoken::encode(&Header::new(algorithm), &claims, &key).is_err());
        }
        let token = sign(&claims, Header::default(), SECRET);
        let (message, tag) = token.rsplit_once('.').unwrap();
        let key = DecodingKey::from_secret(SECRET);
        assert!(
            jsonwebtoken::crypto::verify(tag, message.as_bytes(), &key, Algorithm::HS256).unwrap()
        );
        for algorithm in [Algorithm::HS384, Algorithm::HS512, Algorithm::RS256] {
            assert!(
                jsonwebtoken::crypto::verify(tag, message.as_bytes(), &key, algorithm).is_err()
            );
        }
    }

    fn claims_at(now: i64) -> serde_json::Value {
        serde_json::json!({
            "sub": "7", "role": 2, "iat": now, "exp": now + 60,
            "jti": "0123456789abcdef0123456789abcdef"
        })
    }

    #[test]
    fn an_issued_token_verifies_and_names_its_user() {
        let now = Utc::now();
        let issued = keys()
            .issue(42, 1, now, now + chrono::Duration::days(1))
            .unwrap();
        assert_eq!(
            issued.expires_at - issued.issued_at,
            chrono::Duration::seconds(3600)
        );
        let verified = keys().verify_now(&issued.token, now).unwrap();
        assert_eq!(verified.user_id, 42);
        assert_eq!(verified.jti, issued.jti);
        let header = jsonwebtoken::decode_header(&issued.token).unwrap();
        assert_eq!(header.alg, Algorithm::HS256);
    }

    #[test]
    fn a_token_never_outlives_the_end_it_is_given() {
        let now = Utc.timestamp_opt(1_700_000_000, 250_000_000).unwrap();
        // The session ends at ...1800.75: the token at ...1800, never a fraction later.
        let session_end = now + chrono::Duration::milliseconds(1_800_500);
        let issued = keys().issue(42, 1, now, session_end).unwrap();
        assert_eq!(issued.issued_at.timestamp(), 1_700_000_000);
        assert_eq!(issued.expires_at.timestamp(), 1_700_001_800);
        assert!(issued.expires_at <= session_end);
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_exp = false;
        let exp = jsonwebtoken::decode::<Claims>(
            &issued.token,
            &DecodingKey::from_secret(SECRET),
            &validation,
        )
        .unwrap()
        .claims
        .exp;
        assert_eq!(exp, issued.expires_at.timestamp());
        // A far end leaves the configured lifetime.
        let issued = keys()
            .issue(42, 1, now, now + chrono::Duration::days(1))
            .unwrap();
        assert_eq!(
            issued.expires_at.timestamp() - issued.issued_at.timestamp(),
            3600
        );
    }

    #[test]
    fn every_token_has_its_own_jti() {
        let now = Utc::now();
        let first = keys()
            .issue(1, 1, now, now + chrono::Duration::days(1))
            .unwrap();
        let second = keys()
            .issue(1, 1, now, now + chrono::Duration::days(1))
            .unwrap();
        assert_ne!(first.jti, second.jti);
        assert_ne!(first.token, second.token);
    }

    #[test]
    fn tampered_forged_and_expired_tokens_are_refused() {
        let now = Utc::now();
        let issued = keys()
            .issue(42, 2, now, now + chrono::Duration::days(1))
            .unwrap();
        let mut tampered = issued.token.clone();
        tampered.pop();
        tampered.push(if issued.token.ends_with('A') {
            'B'
        } else {
            'A'
        });
        let other_key = sign(
            &claims_at(now.timestamp()),
            Header::default(),
            b"another-secret-another-secret-xx",
        );
        let expired = sign(
            &claims_at(now.timestamp() - 3600),
            Header::default(),
            SECRET,
        );
        let mut no_exp = claims_at(now.timestamp());
        no_exp.as_object_mut().unwrap().remove("exp");
        let no_exp = sign(&no_exp, Header::default(), SECRET);
        let future = sign(&claims_at(now.timestamp() + 600), Header::default(), SECRET);
        let unsigned = {
            use base64::Engine;
            let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
            format!(
                "{}.{}.",
                b64(br#"{"alg":"none","typ":"JWT"}"#),
                b64(claims_at(now.timestamp()).to_string().as_bytes())
            )
        };
        for token in [
            tampered.as_str(),
            other_key.as_str(),
            expired.as_str(),
            no_exp.as_str(),
            future.as_str(),
            unsigned.as_str(),
            "",
            "garbage",
            &"a".repeat(MAX_TOKEN_BYTES + 1),
        ] {
            assert!(
                matches!(keys().verify_now(token, now), Err(ApiError::Unauthorized)),
                "accepted {token}"
            );
        }
    }

    #[test]
    fn a_valid_signature_over_a_non_numeric_subject_is_refused() {
        let now = Utc::now().timestamp();
        let mut claims = claims_at(now);
        claims["sub"] = "admin".into();
        let token = sign(&claims, Header::default(), SECRET);
        assert!(keys().verify_now(&token, Utc::now()).is_err());
    }

    /// A token signed with our key by someone else's rules: another algorithm named in the
    /// header (an RS256/ES256 header over an HMAC, the classic confusion), or a key reference.
    #[test]
    fn headers_that_name_other_algorithms_or_keys_are_refused() {
        use base64::Engine;
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let now = Utc::now();
        let claims = b64(claims_at(now.timestamp()).to_string().as_bytes());
        let hmac_signed = |header: &str| {
            use hmac::{Hmac, Mac};
            let signing_input = format!("{}.{claims}", b64(header.as_bytes()));
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET).unwrap();
            mac.update(signing_input.as_bytes());
            format!("{signing_input}.{}", b64(&mac.finalize().into_bytes()))
        };
        // The control: the same construction with a plain HS256 header is accepted.
        assert!(keys()
            .verify_now(&hmac_signed(r#"{"alg":"HS256","typ":"JWT"}"#), now)
            .is_ok());
        for header in [
            r#"{"alg":"RS256","typ":"JWT"}"#,
            r#"{"alg":"ES256","typ":"JWT"}"#,
            r#"{"alg":"HS512","typ":"JWT"}"#,
            r#"{"alg":"none","typ":"JWT"}"#,
            r#"{"alg":"HS256","typ":"JWT","kid":"../../keys/other"}"#,
            r#"{"alg":"HS256","typ":"JWT","jku":"https://attacker.example/jwks.json"}"#,
            r#"{"alg":"HS256","typ":"JWT","x5u":"https://attacker.example/cert.pem"}"#,
        ] {
            assert!(
                matches!(
                    keys().verify_now(&hmac_signed(header), now),
                    Err(ApiError::Unauthorized)
                ),
                "accepted a token with header {header}"
            );
        }
    }
}
