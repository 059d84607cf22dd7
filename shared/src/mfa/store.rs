//! The SQL of the second factor: the sealed secret, the steps used, recovery codes, challenges.

use mysql_async::Value;

use crate::auth::sealing::Sealed;
use crate::db::batch::Statement;
use crate::db::statements::Statements;
use crate::error::ApiError;
use crate::App;

/// A user's TOTP secret as stored, and the step of the last code accepted.
pub(super) struct StoredTotp {
    pub sealed: Sealed,
    pub last_step: u64,
}

impl StoredTotp {
    pub fn from_columns(
        key_id: Option<String>,
        sealed: Option<Vec<u8>>,
        last_step: Option<u64>,
    ) -> Option<Self> {
        Some(Self {
            sealed: Sealed {
                key_id: key_id?,
                bytes: sealed?,
            },
            last_step: last_step.unwrap_or(0),
        })
    }

    /// The secret itself, opened with the deployment's keys.
    pub fn open(&self, app: &App, user_id: u64) -> Result<Vec<u8>, ApiError> {
        keys(app)?.open(user_id, &self.sealed)
    }
}

/// The keys that seal secrets; a deployment without `MFA_KEYS` cannot use the second factor.
pub(super) fn keys(app: &App) -> Result<&crate::auth::sealing::SealingKeys, ApiError> {
    app.sealing_keys
        .as_ref()
        .ok_or_else(|| ApiError::Internal("MFA_KEYS is not set".into()))
}

/// The user's secret (pending or on), read under a lock when `for_update`.
/// Whether user `user_id` has the factor on (`None`: no such user), its row locked to the end
/// of the transaction: the user's row first, then the factor's, the order every writer takes.
pub(super) async fn lock_enabled<Q: Statements>(
    tx: &mut Q,
    user_id: u64,
) -> Result<Option<bool>, ApiError> {
    Ok(tx
        .first(
            "SELECT mfa_enabled FROM users WHERE id = ? FOR UPDATE",
            (user_id,),
        )
        .await?)
}

pub(super) async fn read_totp<Q: Statements>(
    db: &mut Q,
    user_id: u64,
) -> Result<Option<StoredTotp>, ApiError> {
    let row: Option<(String, Vec<u8>, u64)> = db
        .first(
            "SELECT key_id, sealed, last_step FROM mfa_totp WHERE user_id = ?",
            (user_id,),
        )
        .await?;
    Ok(row.map(|(key_id, bytes, last_step)| StoredTotp {
        sealed: Sealed { key_id, bytes },
        last_step,
    }))
}

/// Takes `step` as the user's last used one, only if it is later than the last: true when this
/// request took it (a concurrent request with the same code gets false).
pub(super) async fn claim_step<Q: Statements>(
    db: &mut Q,
    user_id: u64,
    step: u64,
) -> Result<bool, ApiError> {
    let claimed = db
        .run(
            "UPDATE mfa_totp SET last_step = ? WHERE user_id = ? AND last_step < ?",
            (step, user_id, step),
        )
        .await?;
    Ok(claimed.affected_rows == 1)
}

/// Spends one recovery code: true when this request deleted it.
pub(super) async fn spend_recovery_code<Q: Statements>(
    db: &mut Q,
    user_id: u64,
    hash: [u8; 32],
) -> Result<bool, ApiError> {
    let spent = db
        .run(
            "DELETE FROM mfa_recovery_code WHERE user_id = ? AND hash = ?",
            (user_id, hash.to_vec()),
        )
        .await?;
    Ok(spent.affected_rows == 1)
}

/// Replaces the user's recovery codes with `hashes`.
pub(super) async fn replace_recovery_codes<Q: Statements>(
    db: &mut Q,
    user_id: u64,
    hashes: &[[u8; 32]],
) -> Result<(), ApiError> {
    db.run(
        "DELETE FROM mfa_recovery_code WHERE user_id = ?",
        (user_id,),
    )
    .await?;
    let rows = vec!["(?, ?)"; hashes.len()].join(", ");
    let mut values: Vec<Value> = Vec::with_capacity(hashes.len() * 2);
    for hash in hashes {
        values.push(user_id.into());
        values.push(hash.to_vec().into());
    }
    db.run(
        &format!("INSERT INTO mfa_recovery_code (user_id, hash) VALUES {rows}"),
        values,
    )
    .await?;
    Ok(())
}

/// Turns the factor off: the secret, the codes and pending challenges go; `updated` moves when
/// it was on. True when there was a secret (on or pending) to remove.
pub(super) async fn remove_factor<Q: Statements>(
    db: &mut Q,
    user_id: u64,
) -> Result<bool, ApiError> {
    let removed = db
        .run("DELETE FROM mfa_totp WHERE user_id = ?", (user_id,))
        .await?;
    db.run(
        "DELETE FROM mfa_recovery_code WHERE user_id = ?",
        (user_id,),
    )
    .await?;
    db.run("DELETE FROM mfa_challenge WHERE user_id = ?", (user_id,))
        .await?;
    db.run(
        "UPDATE users SET mfa_enabled = FALSE, \
         updated = GREATEST(UTC_TIMESTAMP(6), updated + INTERVAL 1 MICROSECOND) \
         WHERE id = ? AND mfa_enabled",
        (user_id,),
    )
    .await?;
    Ok(removed.affected_rows > 0)
}

/// The statement, for a login's clean-up batch, that removes a bounded batch of challenges
/// that have expired.
pub(crate) fn remove_expired_challenges() -> Statement {
    Statement::new(
        "DELETE FROM mfa_challenge WHERE expires < UTC_TIMESTAMP(6) LIMIT 500",
        [],
    )
}
