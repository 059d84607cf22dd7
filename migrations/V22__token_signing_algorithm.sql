-- What signed each access token: `RS256:<kid>` for the tokens signed with an RSA key, `HS256`
-- for those of the HS256 key of before the switch. A token is accepted only with the algorithm
-- and key its record names, so once the last HS256 record has expired (at most
-- TOKEN_TTL_SECONDS after the switch) no HS256 token is accepted again, whoever holds the old
-- key. Rows written before this version, and by instances of an earlier version still running
-- during a deployment, were all signed HS256: the default says so. Every statement can run
-- again after a run that stopped anywhere (see V4).
SET @ddl = IF(
    EXISTS (SELECT 1 FROM information_schema.columns
            WHERE table_schema = DATABASE() AND table_name = 'access_token' AND column_name = 'signed_with'),
    'DO 0',
    'ALTER TABLE access_token ADD COLUMN signed_with VARCHAR(24) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT ''HS256''');
PREPARE ddl FROM @ddl;
EXECUTE ddl;
DEALLOCATE PREPARE ddl;
