-- Roles are fixed by the contract (1 admin, 2 user); the table documents them and lets the
-- foreign key refuse any other role id.
CREATE TABLE IF NOT EXISTS roles (
    id   TINYINT UNSIGNED NOT NULL PRIMARY KEY,
    name VARCHAR(32)      NOT NULL UNIQUE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

INSERT IGNORE INTO roles (id, name) VALUES (1, 'admin'), (2, 'user');

CREATE TABLE IF NOT EXISTS users (
    id            BIGINT UNSIGNED  NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name          VARCHAR(100)     NOT NULL,
    cellnumber    VARCHAR(16)      CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    -- Case-insensitive collation: Alice@x.org and alice@x.org are one address for uniqueness.
    email         VARCHAR(254)     NULL,
    profilepic    VARCHAR(2048)    NULL,
    password_hash CHAR(60)         CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    role_id       TINYINT UNSIGNED NOT NULL DEFAULT 2,
    -- Always written as UTC by the application.
    created       DATETIME(6)      NOT NULL,
    updated       DATETIME(6)      NOT NULL,
    UNIQUE KEY uq_users_cellnumber (cellnumber),
    UNIQUE KEY uq_users_email (email),
    KEY ix_users_role (role_id),
    CONSTRAINT fk_users_role FOREIGN KEY (role_id) REFERENCES roles (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
