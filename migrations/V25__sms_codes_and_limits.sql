-- Account recovery and sign-up by a one-time code sent by SMS: the live codes (only their keyed
-- hashes) and the counters that bound the SMS bill, all in the database so that every instance
-- sees the same counts. Every statement can run again after a run that stopped anywhere (see
-- V4). V23 was never used: V24 was deployed first.

-- One live code per purpose and cellnumber: a new code replaces the old one. `code_hash` is an
-- HMAC-SHA256 under a key the database does not hold; `attempts` is taken one at a time by an
-- atomic UPDATE before a code is checked, so at most RESET_CODE_MAX_ATTEMPTS are checked. A
-- recovery code names its user (and dies with it); a sign-up code holds the pending user, since no
-- user row exists before its code is verified.
CREATE TABLE IF NOT EXISTS sms_code (
    purpose       ENUM('recovery', 'signup') CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    cellnumber    VARCHAR(16)      CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    code_hash     BINARY(32)       NOT NULL,
    attempts      TINYINT UNSIGNED NOT NULL DEFAULT 0,
    expires       DATETIME(6)      NOT NULL,
    user_id       BIGINT UNSIGNED  NULL,
    name          VARCHAR(100)     CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NULL,
    email         VARCHAR(254)     CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NULL,
    password_hash CHAR(60)         CHARACTER SET ascii COLLATE ascii_bin NULL,
    PRIMARY KEY (purpose, cellnumber),
    KEY ix_sms_code_user (user_id),
    -- Clean-up deletes by expiry.
    KEY ix_sms_code_expires (expires),
    CONSTRAINT fk_sms_code_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = ascii COLLATE = ascii_bin;

-- Texts per cellnumber: the last one (SMS_RESEND_SECONDS) and those of the day that began with
-- `day_start` (SMS_MAX_PER_NUMBER_PER_DAY). `claim` is a random value a request writes when it
-- takes a text, so that the rest of its transaction knows it did.
CREATE TABLE IF NOT EXISTS sms_number_count (
    cellnumber VARCHAR(16)       CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    last_sent  DATETIME(6)       NULL,
    day_start  DATETIME(6)       NOT NULL,
    day_texts  SMALLINT UNSIGNED NOT NULL DEFAULT 0,
    claim      BINARY(16)        NULL,
    -- Clean-up deletes by age.
    KEY ix_sms_number_count_day (day_start)
) ENGINE = InnoDB DEFAULT CHARSET = ascii COLLATE = ascii_bin;

-- Requests for a text per client address in the hour that began with `window_start`
-- (SMS_MAX_PER_ADDRESS_PER_HOUR).
CREATE TABLE IF NOT EXISTS sms_address_count (
    -- An IPv6 address in text is at most 45 characters.
    source_ip    VARCHAR(45)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    window_start DATETIME(6)  NOT NULL,
    requests     INT UNSIGNED NOT NULL,
    -- Clean-up deletes by window.
    KEY ix_sms_address_count_window (window_start)
) ENGINE = InnoDB DEFAULT CHARSET = ascii COLLATE = ascii_bin;

-- Texts of the whole deployment in the hour that began with `window_start` (SMS_MAX_PER_HOUR):
-- one row, id 1.
CREATE TABLE IF NOT EXISTS sms_deployment_count (
    id           TINYINT UNSIGNED NOT NULL PRIMARY KEY,
    window_start DATETIME(6)      NOT NULL,
    texts        INT UNSIGNED     NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = ascii COLLATE = ascii_bin;
