//! The token signing keys of an instance: the newest version signs, every version the secret
//! still holds (`AWSCURRENT` and `AWSPREVIOUS`) verifies, each known by a short `kid`.
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
use jsonwebtoken::{DecodingKey, EncodingKey};

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

pub type KeysFuture = Pin<Box<dyn Future<Output = Result<Vec<Secret>, String>> + Send>>;
/// Reads the key versions again, newest first.
pub type KeySource = Arc<dyn Fn() -> KeysFuture + Send + Sync>;

pub struct KeySet {
    pub signing_kid: String,
    pub signing: EncodingKey,
    /// Newest first; the first is the signing key's.
    pub verifying: Vec<(String, DecodingKey)>,
    loaded_at: Instant,
}

impl KeySet {
    fn new(versions: &[&[u8]]) -> Self {
        let newest = versions.first().copied().unwrap_or_default();
        Self {
            signing_kid: kid_of(newest),
            signing: EncodingKey::from_secret(newest),
            verifying: versions
                .iter()
                .map(|key| (kid_of(key), DecodingKey::from_secret(key)))
                .collect(),
            loaded_at: Instant::now(),
        }
    }

    pub fn verifying_key(&self, kid: &str) -> Option<&DecodingKey> {
        self.verifying
            .iter()
            .find(|(known, _)| known == kid)
            .map(|(_, key)| key)
    }
}

pub struct KeyRing {
    keys: RwLock<Arc<KeySet>>,
    source: Option<KeySource>,
    refresh_interval: Duration,
    /// When a read was last attempted; held while reading, so concurrent requests share a read.
    last_attempt: tokio::sync::Mutex<Option<Instant>>,
    reads: AtomicU64,
}

/// The `kid` of a key: 12 bytes of an HMAC of a fixed label under the key, base64url. It names
/// the key without revealing anything a token's own signature does not already bind to it, and it
/// is never a URL or a path.
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
    /// A ring of `versions`, newest first (at least one).
    pub fn new(versions: &[&[u8]]) -> Self {
        Self {
            keys: RwLock::new(Arc::new(KeySet::new(versions))),
            source: None,
            refresh_interval: REFRESH_INTERVAL,
            last_attempt: tokio::sync::Mutex::new(None),
            reads: AtomicU64::new(0),
        }
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
        self.keys
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
            Ok(versions) if !versions.is_empty() => {
                let versions: Vec<&[u8]> =
                    versions.iter().map(|key| key.expose().as_bytes()).collect();
                let keys = Arc::new(KeySet::new(&versions));
                if keys.signing_kid != self.keys().signing_kid {
                    tracing::info!(kid = %keys.signing_kid, "the token signing key changed: signing with the new one");
                }
                *self.keys.write().unwrap_or_else(|p| p.into_inner()) = keys;
            }
            Ok(_) => tracing::error!("the signing key secret has no version"),
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
