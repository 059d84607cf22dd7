//! bcrypt hashing and verification, off the async runtime's thread.

use crate::error::ApiError;

/// bcrypt reads at most 72 bytes; the contract refuses longer passwords rather than silently
/// ignoring their tail.
pub const MAX_PASSWORD_BYTES: usize = 72;
pub const MIN_PASSWORD_BYTES: usize = 8;

/// Salt and digest of a hash whose password nobody knows. Verifying against it costs exactly as
/// much as verifying a real hash of the same cost, which is what keeps an unknown cellnumber
/// from answering faster than a wrong password.
const DUMMY_SALT_AND_DIGEST: &str = "N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy";

/// A stand-in hash at `cost`, for logins whose cellnumber does not exist.
pub fn dummy_hash(cost: u32) -> String {
    format!("$2b${cost:02}${DUMMY_SALT_AND_DIGEST}")
}

pub async fn hash(password: &str, cost: u32) -> Result<String, ApiError> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || bcrypt::hash(password, cost))
        .await
        .map_err(|join| ApiError::Internal(format!("bcrypt task failed: {join}")))?
        .map_err(|error| ApiError::Internal(format!("bcrypt hash failed: {error}")))
}

/// True only when `password` matches `hash`. A malformed stored hash counts as a mismatch (and is
/// logged), so it can never let anyone in.
pub async fn verify(password: &str, hash: &str) -> bool {
    let password = password.to_owned();
    let hash = hash.to_owned();
    match tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash)).await {
        Ok(Ok(matches)) => matches,
        Ok(Err(error)) => {
            tracing::error!(%error, "stored password hash could not be verified");
            false
        }
        Err(error) => {
            tracing::error!(%error, "bcrypt task failed");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let hashed = hash("correct horse", 4).await.unwrap();
        assert!(hashed.starts_with("$2b$04$"));
        assert!(verify("correct horse", &hashed).await);
        assert!(!verify("correct horsf", &hashed).await);
    }

    #[tokio::test]
    async fn the_dummy_hash_is_well_formed_and_matches_nothing() {
        for cost in [4, 12] {
            let dummy = dummy_hash(cost);
            assert_eq!(dummy.len(), 60);
            assert!(dummy.parse::<bcrypt::HashParts>().is_ok(), "{dummy}");
        }
        assert!(!verify("password", &dummy_hash(4)).await);
        assert!(!verify("", &dummy_hash(4)).await);
    }

    #[tokio::test]
    async fn a_malformed_stored_hash_never_matches() {
        assert!(!verify("anything", "not-a-bcrypt-hash").await);
    }
}
