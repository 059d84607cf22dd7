-- Every refresh token a session has spent, not only the last one, and the login throttle's
-- counters per client address and its known addresses. Every statement can run again after a
-- run that stopped anywhere (see V4).

-- The SHA-256 of each refresh token a session spent: presenting any of them again is theft and
-- ends the session. They go with the session's row (deleted once it has expired, or with its
-- user); `session.refreshes` bounds how many one session can have.
CREATE TABLE IF NOT EXISTS spent_refresh (
    hash       BINARY(32) NOT NULL PRIMARY KEY,
    session_id CHAR(22)   CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    KEY ix_spent_refresh_session (session_id),
    CONSTRAINT fk_spent_refresh_session FOREIGN KEY (session_id) REFERENCES session (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = ascii COLLATE = ascii_bin;

-- The one spent token each session remembered until now. `previous_refresh_hash` is neither
-- read nor written after this version; a later migration can drop it once no instance of an
-- earlier version runs.
INSERT IGNORE INTO spent_refresh (hash, session_id)
SELECT previous_refresh_hash, id FROM session
WHERE previous_refresh_hash IS NOT NULL AND ended IS NULL;

SET @ddl = IF(
    EXISTS (SELECT 1 FROM information_schema.columns
            WHERE table_schema = DATABASE() AND table_name = 'session' AND column_name = 'refreshes'),
    'DO 0',
    'ALTER TABLE session ADD COLUMN refreshes INT UNSIGNED NOT NULL DEFAULT 0 AFTER refreshed');
PREPARE ddl FROM @ddl;
EXECUTE ddl;
DEALLOCATE PREPARE ddl;

-- Failed logins per client address over every cellnumber (see shared/src/throttle.rs), so one
-- address cannot spray passwords over many accounts.
CREATE TABLE IF NOT EXISTS login_address_attempt (
    -- An IPv6 address in text is at most 45 characters.
    source_ip    VARCHAR(45)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    attempts     INT UNSIGNED NOT NULL,
    window_start DATETIME(6)  NOT NULL,
    -- Clean-up deletes by window.
    KEY ix_login_address_attempt_window (window_start)
) ENGINE = InnoDB DEFAULT CHARSET = ascii COLLATE = ascii_bin;

-- The addresses a user signed in from, and when last: for 30 days such an address is held only
-- to its own limit, so failures from elsewhere cannot lock the user out of it.
CREATE TABLE IF NOT EXISTS login_known_address (
    user_id      BIGINT UNSIGNED NOT NULL,
    source_ip    VARCHAR(45)     CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    last_success DATETIME(6)     NOT NULL,
    PRIMARY KEY (user_id, source_ip),
    -- Clean-up deletes by age.
    KEY ix_login_known_address_last (last_success),
    CONSTRAINT fk_login_known_address_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = ascii COLLATE = ascii_bin;
