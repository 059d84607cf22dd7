-- One row per issued token, keyed by its jti (never the token itself). Logging out, a password
-- change or deleting the user removes rows, which revokes those tokens.
CREATE TABLE IF NOT EXISTS access_token (
    jti     CHAR(32)        CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    user_id BIGINT UNSIGNED NOT NULL,
    created DATETIME(6)     NOT NULL,
    expires DATETIME(6)     NOT NULL,
    KEY ix_access_token_user (user_id),
    -- Clean-up deletes by expiry.
    KEY ix_access_token_expires (expires),
    CONSTRAINT fk_access_token_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = ascii COLLATE = ascii_bin;
