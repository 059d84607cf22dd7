-- Failed logins per cellnumber, shared by every Lambda instance. Rows exist for unknown
-- cellnumbers too, so throttling does not reveal which cellnumbers are registered.
CREATE TABLE IF NOT EXISTS login_failure (
    cellnumber   VARCHAR(16)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    failures     INT UNSIGNED NOT NULL,
    window_start DATETIME(6)  NOT NULL,
    KEY ix_login_failure_window (window_start)
) ENGINE = InnoDB DEFAULT CHARSET = ascii COLLATE = ascii_bin;
