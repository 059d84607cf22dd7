-- Issue 15: account state, search and the audit log.

-- Every existing user stays active; an admin disables an account with PATCH {"isActive": false}.
-- The indexes serve the sorts of GET /api/users (ties are ordered by id, which InnoDB appends to
-- every secondary index) and the last-active-admin check (role, state).
-- Built only while still needed, so the file can run again after a run that stopped anywhere
-- (see V4): MySQL has no ADD COLUMN IF NOT EXISTS. One ALTER, so it is all or nothing.
SET @ddl = IF(
    EXISTS (SELECT 1 FROM information_schema.columns
            WHERE table_schema = DATABASE() AND table_name = 'users' AND column_name = 'is_active'),
    'DO 0',
    'ALTER TABLE users ADD COLUMN is_active BOOLEAN NOT NULL DEFAULT TRUE AFTER role_id, ADD KEY ix_users_name (name), ADD KEY ix_users_created (created), ADD KEY ix_users_role_active (role_id, is_active)');
PREPARE ddl FROM @ddl;
EXECUTE ddl;
DEALLOCATE PREPARE ddl;

-- Who did what to whom, when and from where. No foreign keys: an event outlives the users it
-- names. `detail` is a JSON object whose keys are fixed per action (shared/src/audit.rs); no
-- column ever holds a password, a hash or a token.
CREATE TABLE IF NOT EXISTS audit_event (
    id        BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    at        DATETIME(6)     NOT NULL,
    action    VARCHAR(32)     CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    actor_id  BIGINT UNSIGNED NULL,
    target_id BIGINT UNSIGNED NULL,
    -- An IPv6 address in text is at most 45 characters; NULL when the event carried none.
    source_ip VARCHAR(45)     CHARACTER SET ascii COLLATE ascii_bin NULL,
    detail    TEXT            CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    -- The filters of GET /api/audit, newest first (id order), and the retention clean-up.
    KEY ix_audit_event_action (action, id),
    KEY ix_audit_event_actor (actor_id, id),
    KEY ix_audit_event_target (target_id, id),
    KEY ix_audit_event_at (at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
