//! JWT issue and verification: RS256 with `kid`, and the claims `iss`, `aud`, `sub`, `sid`,
//! `role`, `iat`, `exp` and a unique `jti`; HS256 only for the tokens of a deployment from before
//! the switch, with its old key.
//!
//! A verified signature is necessary but not sufficient: [`crate::auth`] also requires the
//! token's `access_token` row, its live session and its user to exist.

use base64::Engine;
use chrono::{DateTime, TimeZone, Utc};
use jsonwebtoken::{Algorithm, Header, Validation};
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;
use std::time::Duration;

use crate::auth::key_ring::{is_kid, KeyRing, KeySource, KeyVersion, Signer, VerifyingKey};
use crate::auth::signing_key::{Jwk, RsaKey};
use crate::error::ApiError;

pub use crate::auth::signing_key::MIN_SECRET_KEY_BYTES;

/// Clock skew tolerated between the instances that issue and verify tokens.
pub const LEEWAY_SECONDS: u64 = 5;
/// No token we issue comes close; anything longer is refused before it is parsed.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// `aud` unless `TOKEN_AUDIENCE` says otherwise.
pub const DEFAULT_AUDIENCE: &str = "users-api";
/// How long a new key is published before it signs: an instance reads the keys every five
/// minutes and the JWKS may be cached for [`JWKS_MAX_AGE_SECONDS`].
pub const DEFAULT_PUBLISH_DELAY: Duration =
    Duration::from_secs(crate::auth::key_ring::REFRESH_INTERVAL.as_secs() + JWKS_MAX_AGE_SECONDS);
/// `Cache-Control: max-age` of the JWKS and the discovery document.
pub const JWKS_MAX_AGE_SECONDS: u64 = 300;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Absent only from HS256 tokens of before the switch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// The user id, as a string per RFC 7519.
    pub sub: String,
    /// The session id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
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
    /// The algorithm and key that signed it, as its record keeps them: `RS256:<kid>`, or `HS256`.
    pub signed_with: String,
}

/// What a verified token says: the user it claims, its id in the store, and what signed it
/// (which its record must say too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    pub user_id: u64,
    pub jti: String,
    pub signed_with: String,
}

/// `signed_with` of a token signed by the legacy HS256 key (whatever its `kid`).
pub const LEGACY_SIGNED_WITH: &str = "HS256";

fn signed_with(alg: Algorithm, kid: &str) -> String {
    match alg {
        Algorithm::RS256 => format!("RS256:{kid}"),
        _ => LEGACY_SIGNED_WITH.to_owned(),
    }
}

/// Keys and rules, built once per cold start; the keys are renewed after a rotation (see
/// [`crate::auth::key_ring`]).
pub struct TokenKeys {
    ring: KeyRing,
    /// One per algorithm: jsonwebtoken wants every algorithm of a validation in the key's family.
    rs256: Validation,
    hs256: Validation,
    ttl: Duration,
    /// `TOKEN_ISSUER`, or the API's base URL as the first request shows it.
    issuer: OnceLock<String>,
    audience: String,
}

impl TokenKeys {
    /// Keys of the given versions, newest first (environment keys: they sign at once).
    pub fn new(versions: &[KeyVersion], ttl: Duration) -> Result<Self, String> {
        Ok(Self::with_ring(
            KeyRing::new(versions, DEFAULT_PUBLISH_DELAY)?,
            ttl,
        ))
    }

    pub fn with_ring(ring: KeyRing, ttl: Duration) -> Self {
        provider::install();
        // The accepted algorithm of a token is its key's (see `verify`).
        let validation = |algorithm| {
            let mut validation = Validation::new(algorithm);
            validation.leeway = LEEWAY_SECONDS;
            validation.validate_exp = true;
            validation.validate_nbf = true;
            // Checked in `verify` against the deployment's values, and only for RS256 tokens:
            // the HS256 tokens of before the switch carry neither.
            validation.validate_aud = false;
            validation.set_required_spec_claims(&["exp", "sub"]);
            validation
        };
        Self {
            ring,
            rs256: validation(Algorithm::RS256),
            hs256: validation(Algorithm::HS256),
            ttl,
            issuer: OnceLock::new(),
            audience: DEFAULT_AUDIENCE.to_owned(),
        }
    }

    /// A fixed issuer (`TOKEN_ISSUER`), rather than the API's base URL seen in requests.
    pub fn with_issuer(self, issuer: &str) -> Self {
        let _first = self.issuer.set(issuer.trim_end_matches('/').to_owned());
        self
    }

    pub fn with_audience(mut self, audience: &str) -> Self {
        self.audience = audience.to_owned();
        self
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

    /// The issuer of a request's API (its base URL), taken when no issuer is configured and
    /// none was taken before: one instance serves one API.
    pub fn learn_issuer(&self, base_url: impl FnOnce() -> Option<String>) {
        if self.issuer.get().is_none() {
            if let Some(url) = base_url() {
                let _first = self.issuer.set(url.trim_end_matches('/').to_owned());
            }
        }
    }

    /// `iss` of the tokens, once known.
    pub fn issuer(&self) -> Option<&str> {
        self.issuer.get().map(String::as_str)
    }

    pub fn audience(&self) -> &str {
        &self.audience
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The ring of keys: what signs and verifies now, and when it is read again.
    pub fn ring(&self) -> &KeyRing {
        &self.ring
    }

    /// The public keys of the JWKS.
    pub fn jwks(&self) -> Vec<Jwk> {
        self.ring.keys().jwks()
    }

    /// Reads the keys again when they are due (every few minutes); called before each request.
    pub async fn refresh_if_due(&self) {
        self.ring.refresh_if_due().await;
    }

    /// Signs a token for `user_id` in session `session_id`, valid for the configured lifetime
    /// but never past `not_after` (the end of its session): a token must not outlive what it was
    /// issued for.
    pub fn issue(
        &self,
        user_id: u64,
        role: u8,
        session_id: &str,
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
        let mut claims = Claims {
            iss: None,
            aud: None,
            sub: user_id.to_string(),
            sid: Some(session_id.to_owned()),
            role,
            iat: issued_at.timestamp(),
            exp: expires_at.timestamp(),
            jti: jti.clone(),
        };
        let (token, signed_with) = match self.ring.keys().signer(now) {
            Signer::Rs256(key) => {
                claims.iss = Some(
                    self.issuer()
                        .ok_or_else(|| ApiError::Internal("the token issuer is not known".into()))?
                        .to_owned(),
                );
                claims.aud = Some(self.audience.clone());
                (
                    sign_rs256(&key, &claims)?,
                    signed_with(Algorithm::RS256, &key.kid),
                )
            }
            Signer::LegacyHs256 { kid, key } => {
                let mut header = Header::new(Algorithm::HS256);
                header.kid = Some(kid);
                let token = jsonwebtoken::encode(
                    &header,
                    &claims,
                    &jsonwebtoken::EncodingKey::from_secret(&key),
                )
                .map_err(|error| ApiError::Internal(format!("signing a token failed: {error}")))?;
                (token, LEGACY_SIGNED_WITH.to_owned())
            }
        };
        Ok(IssuedToken {
            token,
            jti,
            issued_at,
            expires_at,
            signed_with,
        })
    }

    /// Signature, algorithm, issuer, audience, expiry and shape; every failure is the same
    /// `Unauthorized`. The key is the one the token's `kid` names (read again, rate-limited,
    /// when it is not known yet: a token of an instance that has picked up a rotation first),
    /// and the algorithm is that key's: an RSA key verifies RS256 only, a legacy key HS256 only.
    /// A token without `kid` (HS256, issued before tokens carried one) is checked with the
    /// legacy keys held.
    pub async fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<VerifiedToken, ApiError> {
        if token.is_empty() || token.len() > MAX_TOKEN_BYTES {
            return Err(ApiError::Unauthorized);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| ApiError::Unauthorized)?;
        // A header that points at a key (jku, jwk, x5u, x5c) was not made here, whatever its
        // signature says; a kid is only ever one of ours, never a URL or a path.
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::HS256)
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
        let decode = |key: &VerifyingKey| -> Option<Claims> {
            // The algorithm is bound to the key, never taken from the header alone.
            if key.alg != header.alg {
                return None;
            }
            let validation = match key.alg {
                Algorithm::RS256 => &self.rs256,
                _ => &self.hs256,
            };
            jsonwebtoken::decode::<Claims>(token, &key.key, validation)
                .ok()
                .map(|data| data.claims)
        };
        let (key, claims) = match header.kid.as_deref() {
            Some(kid) => {
                let key = keys.verifying_key(kid).ok_or(ApiError::Unauthorized)?;
                (key, decode(key).ok_or(ApiError::Unauthorized)?)
            }
            None => keys
                .legacy_keys()
                .find_map(|key| Some((key, decode(key)?)))
                .ok_or(ApiError::Unauthorized)?,
        };
        if key.alg == Algorithm::RS256
            && (claims.iss.is_none()
                || claims.iss.as_deref() != self.issuer()
                || claims.aud.as_deref() != Some(self.audience.as_str())
                || claims.sid.is_none())
        {
            return Err(ApiError::Unauthorized);
        }
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
            signed_with: signed_with(key.alg, &key.kid),
        })
    }
}

/// `header.claims.signature` of an RS256 token, signed with the key pair held (jsonwebtoken's
/// `encode` would parse the PKCS#8 key again for every token).
fn sign_rs256(key: &RsaKey, claims: &Claims) -> Result<String, ApiError> {
    #[derive(Serialize)]
    struct RsHeader<'a> {
        alg: &'static str,
        typ: &'static str,
        kid: &'a str,
    }
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let unserializable = |_| ApiError::Internal("a token could not be serialized".into());
    let header = RsHeader {
        alg: "RS256",
        typ: "JWT",
        kid: &key.kid,
    };
    let mut token = b64.encode(serde_json::to_vec(&header).map_err(unserializable)?);
    token.push('.');
    token.push_str(&b64.encode(serde_json::to_vec(claims).map_err(unserializable)?));
    let mut signature = vec![0; key.pair.public().modulus_len()];
    key.pair
        .sign(
            &ring::signature::RSA_PKCS1_SHA256,
            &ring::rand::SystemRandom::new(),
            token.as_bytes(),
            &mut signature,
        )
        .map_err(|_| ApiError::Internal("signing a token failed".into()))?;
    token.push('.');
    token.push_str(&b64.encode(signature));
    Ok(token)
}

/// jsonwebtoken's cryptography on `ring`: HS256, and RS256 verification.
mod provider;

#[cfg(test)]
mod tests;
