//! The token signing keys of an instance: every version the secret still holds (`AWSCURRENT` and
//! `AWSPREVIOUS`) verifies and, when it is an RSA key, is published in the JWKS; the newest RSA
//! key signs once it has been published long enough. Each key is known by a short `kid`.
//!
//! A rotation of the signing-key secret must not sign anyone out: tokens signed with the previous
//! key stay valid until they expire, and every instance signs with the new key within minutes.
//! So the ring is read again every [`REFRESH_INTERVAL`], and when a token names a `kid` the ring
//! does not know (a token an instance that has already refreshed signed), at most once per
//! [`UNKNOWN_KID_INTERVAL`], so made-up `kid`s cannot turn requests into Secrets Manager calls.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use base64::Engine;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey};

use crate::auth::signing_key::{Jwk, KeyMaterial, RsaKey};
use crate::secret::Secret;

/// How old the ring may get before a request reads it again.
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(300);
/// At most one read for unknown `kid`s in this interval.
pub const UNKNOWN_KID_INTERVAL: Duration = Duration::from_secs(10);
/// After a failed read the old ring is kept, and reading is tried again after this.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(30);
/// The longest a read of the keys may hold the request it rides on.
const READ_BOUND: Duration = Duration::from_secs(2);
/// Characters of a `kid`: base64url of 12 bytes.
const KID_LEN: usize = 16;

pub type KeysFuture = Pin<Box<dyn Future<Output = Result<Vec<KeyVersion>, String>> + Send>>;
/// Reads the key versions again, newest first.
pub type KeySource = Arc<dyn Fn() -> KeysFuture + Send + Sync>;

/// One version of the signing key as its source holds it.
pub struct KeyVersion {
    pub text: Secret,
    /// When the version was made (Secrets Manager's `CreatedDate`); `None` for a key given in
    /// the environment, which signs at once.
    pub created: Option<DateTime<Utc>>,
}

impl KeyVersion {
    pub fn given(text: &str) -> Self {
        Self {
            text: Secret::new(text.to_owned()),
            created: None,
        }
    }
}

/// A key that verifies tokens, with the one algorithm it is for: a token whose header names
/// another is refused before any signature is checked.
pub struct VerifyingKey {
    pub kid: String,
    pub alg: Algorithm,
    pub key: DecodingKey,
}

/// What signs new tokens.
#[derive(Clone)]
pub enum Signer {
    Rs256(RsaKey),
    /// Only where no RSA key is configured: a deployment before the switch.
    LegacyHs256 {
        kid: String,
        key: Arc<[u8]>,
    },
}

struct PublishedRsa {
    key: RsaKey,
    /// From when it may sign: once every cached JWKS can have it.
    signs_from: Option<DateTime<Utc>>,
}

pub struct KeySet {
    rsa: Vec<PublishedRsa>,
    legacy: Option<(String, Arc<[u8]>)>,
    verifying: Vec<VerifyingKey>,
    loaded_at: Instant,
}

impl KeySet {
    /// The versions, newest first; a version that is not a valid key is left out (and logged),
    /// and a set without any key is an error. An RSA key signs only `publish_delay` after its
    /// version was made, so that it is in every JWKS a verifier may still have cached first.
    pub fn new(versions: &[KeyVersion], publish_delay: Duration) -> Result<Self, String> {
        let mut rsa = Vec::new();
        let mut legacy = None;
        let mut verifying = Vec::new();
        for version in versions {
            match KeyMaterial::parse(version.text.expose()) {
                Ok(KeyMaterial::Rsa(key)) => {
                    let (n, e) = key.public_components();
                    verifying.push(VerifyingKey {
                        kid: key.kid.clone(),
                        alg: Algorithm::RS256,
                        key: DecodingKey::from_rsa_raw_components(&n, &e),
                    });
                    let signs_from = version.created.map(|created| {
                        created + chrono::Duration::from_std(publish_delay).unwrap_or_default()
                    });
                    rsa.push(PublishedRsa { key, signs_from });
                }
                Ok(KeyMaterial::LegacyHs256(secret)) => {
                    let kid = kid_of(&secret);
                    verifying.push(VerifyingKey {
                        kid: kid.clone(),
                        alg: Algorithm::HS256,
                        key: DecodingKey::from_secret(&secret),
                    });
                    legacy.get_or_insert((kid, secret));
                }
                Err(error) => tracing::error!(%error, "a version of the signing key is not a key"),
            }
        }
        if rsa.is_empty() && legacy.is_none() {
            return Err("no version of the signing key is a valid key".into());
        }
        if rsa.is_empty() {
            tracing::warn!(
                "no RSA signing key is configured: tokens are signed HS256 as before the switch \
                 (set SIGNING_KEY, or rotate the signing-key secret)"
            );
        }
        Ok(Self {
            rsa,
            legacy,
            verifying,
            loaded_at: Instant::now(),
        })
    }

    /// What signs at `now`: the newest RSA key published long enough, else the one published
    /// longest; the legacy HS256 key only when there is no RSA key.
    pub fn signer(&self, now: DateTime<Utc>) -> Signer {
        let ready = self
            .rsa
            .iter()
            .find(|published| published.signs_from.is_none_or(|from| from <= now))
            .or(self.rsa.last());
        match (ready, &self.legacy) {
            (Some(published), _) => Signer::Rs256(published.key.clone()),
            (None, Some((kid, key))) => Signer::LegacyHs256 {
                kid: kid.clone(),
                key: key.clone(),
            },
            (None, None) => unreachable!("a key set has at least one key"),
        }
    }

    pub fn verifying_key(&self, kid: &str) -> Option<&VerifyingKey> {
        self.verifying.iter().find(|known| known.kid == kid)
    }

    /// The legacy HS256 keys: a token without `kid` (issued before tokens named their key) is
    /// checked with these.
    pub fn legacy_keys(&self) -> impl Iterator<Item = &VerifyingKey> {
        self.verifying
            .iter()
            .filter(|key| key.alg == Algorithm::HS256)
    }

    /// The public keys of the JWKS: every RSA key held, the next one before it signs.
    pub fn jwks(&self) -> Vec<Jwk> {
        self.rsa
            .iter()
            .map(|published| published.key.jwk.clone())
            .collect()
    }
}

pub struct KeyRing {
    current: RwLock<Arc<KeySet>>,
    source: Option<KeySource>,
    refresh_interval: Duration,
    publish_delay: Duration,
    /// When a read was last attempted; held while reading, so concurrent requests share a read.
    last_attempt: tokio::sync::Mutex<Option<Instant>>,
    reads: AtomicU64,
}

/// The `kid` of a legacy HS256 key: 12 bytes of an HMAC of a fixed label under the key,
/// base64url. It names the key without revealing anything a token's own signature does not
/// already bind to it, and it is never a URL or a path.
pub fn kid_of(key: &[u8]) -> String {
    let tag = ring::hmac::sign(
        &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key),
        b"users-api signing key id",
    );
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&tag.as_ref()[..12])
}

/// Whether `kid` has the shape of one of ours; anything else is refused before any lookup.
pub fn is_kid(kid: &str) -> bool {
    kid.len() == KID_LEN
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl KeyRing {
    /// A ring of `versions`, newest first (at least one valid key).
    pub fn new(versions: &[KeyVersion], publish_delay: Duration) -> Result<Self, String> {
        Ok(Self {
            current: RwLock::new(Arc::new(KeySet::new(versions, publish_delay)?)),
            source: None,
            refresh_interval: REFRESH_INTERVAL,
            publish_delay,
            last_attempt: tokio::sync::Mutex::new(None),
            reads: AtomicU64::new(0),
        })
    }

    pub fn with_source(mut self, source: KeySource) -> Self {
        self.source = Some(source);
        self
    }

    /// Another interval than [`REFRESH_INTERVAL`] (tests, which cannot wait minutes).
    pub fn with_refresh_interval(mut self, interval: Duration) -> Self {
        self.refresh_interval = interval;
        self
    }

    pub fn keys(&self) -> Arc<KeySet> {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// How many times the keys were read again since the cold start.
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    /// Reads the keys again when the ring is older than its refresh interval.
    pub async fn refresh_if_due(&self) {
        if self.source.is_none() || self.keys().loaded_at.elapsed() < self.refresh_interval {
            return;
        }
        self.refresh(|ring, last| {
            ring.keys().loaded_at.elapsed() >= ring.refresh_interval
                && last.is_none_or(|at| at.elapsed() >= RETRY_AFTER_FAILURE)
        })
        .await;
    }

    /// Reads the keys again for a token whose `kid` the ring does not know, unless that was done
    /// less than [`UNKNOWN_KID_INTERVAL`] ago. True when `kid` is known afterwards.
    pub async fn refresh_for(&self, kid: &str) -> bool {
        if self.source.is_none() {
            return false;
        }
        self.refresh(|ring, last| {
            ring.keys().verifying_key(kid).is_none()
                && last.is_none_or(|at| at.elapsed() >= UNKNOWN_KID_INTERVAL)
        })
        .await;
        self.keys().verifying_key(kid).is_some()
    }

    async fn refresh(&self, still_wanted: impl Fn(&Self, Option<Instant>) -> bool) {
        let Some(source) = &self.source else { return };
        let mut last_attempt = self.last_attempt.lock().await;
        // Decided again under the lock: a request that waited here may find it done.
        if !still_wanted(self, *last_attempt) {
            return;
        }
        *last_attempt = Some(Instant::now());
        self.reads.fetch_add(1, Ordering::Relaxed);
        // The read rides on a request: an unreachable Secrets Manager must not hold it long.
        let read = tokio::time::timeout(READ_BOUND, source())
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {READ_BOUND:?}")));
        match read {
            Ok(versions) => match KeySet::new(&versions, self.publish_delay) {
                Ok(keys) => {
                    *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(keys);
                }
                Err(error) => {
                    tracing::error!(%error, "the signing keys read are not usable; the ones read before stay in use")
                }
            },
            Err(error) => {
                tracing::warn!(%error, "reading the signing keys failed; the ones read before stay in use")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kids_are_short_stable_and_differ_between_keys() {
        let a = kid_of(b"0123456789abcdef0123456789abcdef");
        assert_eq!(a, kid_of(b"0123456789abcdef0123456789abcdef"));
        assert_ne!(a, kid_of(b"0123456789abcdef0123456789abcdeF"));
        assert!(is_kid(&a), "{a}");
        for bad in [
            "",
            "../../keys/other",
            "https://x.example/k",
            &"a".repeat(17),
        ] {
            assert!(!is_kid(bad), "{bad}");
        }
    }
}
