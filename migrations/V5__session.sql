-- A session per login: ended by logout, a password change, an admin or a refresh token's reuse,
-- or by time (`expires`, fixed at login, never extended). Its access tokens die with it: the
-- authenticating query joins the session and requires it live. Every statement can run again
-- after a run that stopped anywhere (see V4).
CREATE TABLE IF NOT EXISTS session (
    -- 128 random bits in URL-safe base64: the opaque sessionId clients see.
    id                    CHAR(22)        CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    user_id               BIGINT UNSIGNED NOT NULL,
    created               DATETIME(6)     NOT NULL,
    refreshed             DATETIME(6)     NULL,
    expires               DATETIME(6)     NOT NULL,
    -- SHA-256 of the current refresh token (256 random bits), and of the one it replaced, so a
    -- replayed spent token is recognised as theft. Never the tokens themselves.
    refresh_hash          BINARY(32)      NOT NULL,
    previous_refresh_hash BINARY(32)      NULL,
    ended                 DATETIME(6)     NULL,
    UNIQUE KEY uq_session_refresh (refresh_hash),
    KEY ix_session_previous_refresh (previous_refresh_hash),
    KEY ix_session_user (user_id, created),
    -- Clean-up deletes by expiry.
    KEY ix_session_expires (expires),
    CONSTRAINT fk_session_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = ascii COLLATE = ascii_bin;

SET @ddl = IF(
    EXISTS (SELECT 1 FROM information_schema.columns
            WHERE table_schema = DATABASE() AND table_name = 'access_token' AND column_name = 'session_id'),
    'DO 0',
    'ALTER TABLE access_token ADD COLUMN session_id CHAR(22) CHARACTER SET ascii COLLATE ascii_bin NULL AFTER user_id');
PREPARE ddl FROM @ddl;
EXECUTE ddl;
DEALLOCATE PREPARE ddl;

-- Tokens issued before sessions existed keep working: each gets a session of its own, ending
-- when the token does, with a refresh token nobody holds.
INSERT IGNORE INTO session (id, user_id, created, expires, refresh_hash)
SELECT LEFT(jti, 22), user_id, created, expires, UNHEX(SHA2(CONCAT(jti, RAND(), UUID()), 256))
FROM access_token WHERE session_id IS NULL;

UPDATE access_token SET session_id = LEFT(jti, 22) WHERE session_id IS NULL;

SET @ddl = IF(
    EXISTS (SELECT 1 FROM information_schema.table_constraints
            WHERE constraint_schema = DATABASE() AND table_name = 'access_token'
              AND constraint_name = 'fk_access_token_session'),
    'DO 0',
    'ALTER TABLE access_token MODIFY session_id CHAR(22) CHARACTER SET ascii COLLATE ascii_bin NOT NULL, ADD KEY ix_access_token_session (session_id), ADD CONSTRAINT fk_access_token_session FOREIGN KEY (session_id) REFERENCES session (id) ON DELETE CASCADE');
PREPARE ddl FROM @ddl;
EXECUTE ddl;
DEALLOCATE PREPARE ddl;
