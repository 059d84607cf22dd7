-- The second factor: a TOTP secret per user (kept sealed with a key the database does not hold),
-- its recovery codes (only their hashes) and the pending second steps of logins. Every statement
-- can run again after a run that stopped anywhere (see V4).

-- Whether the user's second factor is on: on the users row, so login reads it with the password
-- hash and a user without it pays no round trip more.
SET @ddl = IF(
    EXISTS (SELECT 1 FROM information_schema.columns
            WHERE table_schema = DATABASE() AND table_name = 'users' AND column_name = 'mfa_enabled'),
    'DO 0',
    'ALTER TABLE users ADD COLUMN mfa_enabled BOOLEAN NOT NULL DEFAULT FALSE AFTER is_active');
PREPARE ddl FROM @ddl;
EXECUTE ddl;
DEALLOCATE PREPARE ddl;

-- The secret, AES-256-GCM sealed under the key `key_id` names (nonce, then ciphertext and tag),
-- with the user's id as associated data so a row copied to another user does not open. Pending
-- until `users.mfa_enabled` is set by a confirmed first code. `last_step`: the 30-second step of
-- the last code accepted; only a later step's code is accepted after it (no replay).
CREATE TABLE IF NOT EXISTS mfa_totp (
    user_id   BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    key_id    VARCHAR(32)     CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    sealed    VARBINARY(128)  NOT NULL,
    last_step BIGINT UNSIGNED NOT NULL DEFAULT 0,
    created   DATETIME(6)     NOT NULL,
    CONSTRAINT fk_mfa_totp_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = ascii COLLATE = ascii_bin;

-- The SHA-256 of each unused recovery code (80 random bits each): a code is spent by deleting
-- its row.
CREATE TABLE IF NOT EXISTS mfa_recovery_code (
    user_id BIGINT UNSIGNED NOT NULL,
    hash    BINARY(32)      NOT NULL,
    PRIMARY KEY (user_id, hash),
    CONSTRAINT fk_mfa_recovery_code_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = ascii COLLATE = ascii_bin;

-- A login whose password was proven and that waits for its second step: the SHA-256 of its
-- `mfaToken`, the user, the password hash that was proven (the session starts only while the
-- user still has it), the tries taken (one atomic UPDATE each) and whether it was spent.
CREATE TABLE IF NOT EXISTS mfa_challenge (
    hash          BINARY(32)       NOT NULL PRIMARY KEY,
    user_id       BIGINT UNSIGNED  NOT NULL,
    password_hash VARCHAR(255)     NOT NULL,
    tries         TINYINT UNSIGNED NOT NULL DEFAULT 0,
    spent         BOOLEAN          NOT NULL DEFAULT FALSE,
    expires       DATETIME(6)      NOT NULL,
    KEY ix_mfa_challenge_user (user_id),
    -- Clean-up deletes by expiry.
    KEY ix_mfa_challenge_expires (expires),
    CONSTRAINT fk_mfa_challenge_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = ascii COLLATE = ascii_bin;
