-- Login attempts, counted before the password is checked (see shared/src/throttle.rs): one row
-- per (cellnumber, client address), and one per cellnumber with source_ip '*' for all addresses.
-- Rows exist for unknown cellnumbers too, so throttling does not reveal which are registered.
-- Every statement can run again after a run that stopped anywhere (MySQL commits DDL statement
-- by statement): ALTERs MySQL cannot guard with IF NOT EXISTS are built only when still needed.
CREATE TABLE IF NOT EXISTS login_attempt (
    cellnumber   VARCHAR(16)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    -- An IPv6 address in text is at most 45 characters.
    source_ip    VARCHAR(45)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    attempts     INT UNSIGNED NOT NULL,
    window_start DATETIME(6)  NOT NULL,
    PRIMARY KEY (cellnumber, source_ip),
    -- Clean-up deletes by window.
    KEY ix_login_attempt_window (window_start)
) ENGINE = InnoDB DEFAULT CHARSET = ascii COLLATE = ascii_bin;

-- Counted after the password check: replaced by login_attempt.
DROP TABLE IF EXISTS login_failure;

-- E-mail uniqueness by a key the application computes (lower case, the domain in its IDNA ASCII
-- form) in a binary collation: the column's own case-insensitive collation also folds accents,
-- which made a@bucher.de and a@bücher.de one address, and a@xn--bcher-kva.de another.
SET @ddl = IF(
    EXISTS (SELECT 1 FROM information_schema.columns
            WHERE table_schema = DATABASE() AND table_name = 'users' AND column_name = 'email_key'),
    'DO 0',
    'ALTER TABLE users ADD COLUMN email_key VARCHAR(512) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL AFTER email');
PREPARE ddl FROM @ddl;
EXECUTE ddl;
DEALLOCATE PREPARE ddl;

UPDATE users SET email_key = LOWER(email) WHERE email IS NOT NULL AND email_key IS NULL;

SET @ddl = IF(
    EXISTS (SELECT 1 FROM information_schema.statistics
            WHERE table_schema = DATABASE() AND table_name = 'users'
              AND index_name = 'uq_users_email' AND column_name = 'email'),
    'ALTER TABLE users DROP INDEX uq_users_email, ADD UNIQUE KEY uq_users_email (email_key)',
    'DO 0');
PREPARE ddl FROM @ddl;
EXECUTE ddl;
DEALLOCATE PREPARE ddl;
