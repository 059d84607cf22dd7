//! Migrations are safe to repeat and to race: one run at a time per database (a named
//! lock, waited for with a bound and no client-side cut-off), every migration can be applied
//! again after a run that stopped anywhere inside it, and databases that applied V1 to V3 before
//! they were made repeatable migrate on.

use std::time::{Duration, Instant};

use api_tests::TestDb;
use mysql_async::prelude::Queryable;
use shared::app::config::DatabaseTls;
use shared::db;

fn pool(db: &TestDb) -> mysql_async::Pool {
    db::pool(&db.url, DatabaseTls::Off).unwrap()
}

/// Every migration file, by version: `(version, statements)`.
fn migration_files() -> Vec<(u32, Vec<String>)> {
    let dir = format!("{}/../migrations", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<(u32, Vec<String>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_owned();
            let version: u32 = name[1..name.find("__").unwrap()].parse().unwrap();
            let text = std::fs::read_to_string(&path).unwrap();
            let code: String = text
                .lines()
                .filter(|line| !line.trim_start().starts_with("--"))
                .collect::<Vec<_>>()
                .join("\n");
            let statements = code
                .split(';')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            (version, statements)
        })
        .collect();
    files.sort();
    files
}

/// The schema and the reference rows, for comparing two databases.
async fn shape(conn: &mut mysql_async::Conn) -> Vec<String> {
    let mut rows: Vec<String> = conn
        .query_map(
            "SELECT CONCAT_WS(' ', table_name, column_name, column_type, is_nullable, column_key) \
             FROM information_schema.columns WHERE table_schema = DATABASE() \
             AND table_name <> 'refinery_schema_history' ORDER BY table_name, ordinal_position",
            |row: String| row,
        )
        .await
        .unwrap();
    rows.extend(
        conn.query_map(
            "SELECT CONCAT_WS(' ', table_name, index_name, column_name, non_unique) \
             FROM information_schema.statistics WHERE table_schema = DATABASE() \
             AND table_name <> 'refinery_schema_history' ORDER BY table_name, index_name, seq_in_index",
            |row: String| row,
        )
        .await
        .unwrap(),
    );
    rows.extend(
        conn.query_map(
            "SELECT CONCAT(id, ' ', name) FROM roles ORDER BY id",
            |row: String| row,
        )
        .await
        .unwrap(),
    );
    rows
}

#[tokio::test]
async fn concurrent_runs_apply_each_migration_once() {
    let db = TestDb::empty().await;
    let runs: Vec<_> = (0..4)
        .map(|_| {
            let pool = pool(&db);
            tokio::spawn(async move { db::migrate(&pool).await })
        })
        .collect();
    let mut applied = 0;
    for run in runs {
        applied += run.await.unwrap().expect("every run succeeds");
    }
    let files = migration_files();
    assert_eq!(
        applied,
        files.len(),
        "each migration applied by exactly one run"
    );
    let mut conn = pool(&db).get_conn().await.unwrap();
    let recorded: Option<u64> = conn
        .query_first("SELECT COUNT(*) FROM refinery_schema_history")
        .await
        .unwrap();
    assert_eq!(recorded, Some(files.len() as u64));
}

#[tokio::test]
async fn a_run_waits_a_bounded_time_for_another_and_then_says_so() {
    let db = TestDb::empty().await;
    let mut other = mysql_async::Conn::from_url(&db.url).await.unwrap();
    let got: Option<i64> = other
        .query_first(
            "SELECT GET_LOCK(CONCAT('users-api migrations ', LEFT(SHA2(DATABASE(), 256), 32)), 0)",
        )
        .await
        .unwrap();
    assert_eq!(got, Some(1));
    let started = Instant::now();
    let error = db::migrate_waiting(&pool(&db), Duration::from_secs(1))
        .await
        .unwrap_err();
    let waited = started.elapsed();
    assert!(
        matches!(error, db::DbSetupError::MigrationLockBusy(_)),
        "{error}"
    );
    assert!(
        error.to_string().contains("another migration run"),
        "{error}"
    );
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    other
        .query_drop(
            "DO RELEASE_LOCK(CONCAT('users-api migrations ', LEFT(SHA2(DATABASE(), 256), 32)))",
        )
        .await
        .unwrap();
    assert!(db::migrate(&pool(&db)).await.unwrap() > 0);
}

/// A run stopped after any statement of a migration (the function's timeout, a lost
/// connection; MySQL commits DDL statement by statement) leaves it half-applied and unrecorded:
/// the next run applies it again and ends with the same schema as a clean run.
#[tokio::test]
async fn every_migration_can_be_applied_again_after_a_run_stopped_inside_it() {
    let clean = TestDb::new().await;
    let expected = shape(&mut pool(&clean).get_conn().await.unwrap()).await;
    let mut cases = 0;
    for (version, statements) in migration_files() {
        for done in 1..=statements.len() {
            let db = TestDb::empty().await;
            let pool = pool(&db);
            if version > 1 {
                db::migrate_until(&pool, version - 1).await.unwrap();
            }
            let mut conn = pool.get_conn().await.unwrap();
            for statement in &statements[..done] {
                conn.query_drop(statement).await.unwrap();
            }
            drop(conn);
            db::migrate(&pool).await.unwrap_or_else(|error| {
                panic!(
                    "V{version} stopped after statement {done} of {}: {error}",
                    statements.len()
                )
            });
            let mut conn = pool.get_conn().await.unwrap();
            assert_eq!(
                shape(&mut conn).await,
                expected,
                "V{version}, {done} statement(s)"
            );
            cases += 1;
        }
    }
    println!("migrations: {cases} half-applied states, each completed by the next run");
}

#[tokio::test]
async fn databases_that_applied_the_first_versions_of_v1_to_v3_migrate_on() {
    let db = TestDb::new().await;
    let mut conn = pool(&db).get_conn().await.unwrap();
    for (version, checksum) in [
        (1, "12660748002497764459"),
        (2, "11876955030244711485"),
        (3, "6268127714158883667"),
    ] {
        conn.exec_drop(
            "UPDATE refinery_schema_history SET checksum = ? WHERE version = ?",
            (checksum, version),
        )
        .await
        .unwrap();
    }
    assert_eq!(db::migrate(&pool(&db)).await.unwrap(), 0);
    // Another edit of an applied migration is still refused.
    conn.exec_drop(
        "UPDATE refinery_schema_history SET checksum = '1' WHERE version = 1",
        (),
    )
    .await
    .unwrap();
    assert!(db::migrate(&pool(&db)).await.is_err());
}
