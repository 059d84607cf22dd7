//! Rotation of the database secret: a MariaDB user whose password is changed in the
//! server and in a (moto) Secrets Manager while warm instances serve requests, and whose
//! connections are then killed. Every request after the change succeeds, on the same instances
//! (no cold start): the request that finds the old password refused reads the secret again,
//! once per instance, and is retried on a new pool.
//!
//! One test per binary, since it sets the process environment the way Lambda does.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use api_tests::moto::{test_server_address, Moto};
use api_tests::{call, insert_user, test_app, Event, TestDb, TEST_SECRET};
use mysql_async::prelude::Queryable;
use serde_json::json;
use shared::App;

const INSTANCES: usize = 3;
const ADMIN_CELL: &str = "+15550000001";
const ADMIN_PASS: &str = "admin-password-1";

struct Outcome {
    instance: usize,
    started: Instant,
    status: u16,
    body: String,
}

async fn serve(
    instance: usize,
    app: Arc<App>,
    token: String,
    stop: Arc<AtomicBool>,
    log: Arc<Mutex<Vec<Outcome>>>,
) {
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        let answer = if n % 2 == 0 {
            call!(get_me, &app, Event::v2("get-me").bearer(&token))
        } else {
            api_tests::login(&app, ADMIN_CELL, ADMIN_PASS).await
        };
        log.lock().unwrap().push(Outcome {
            instance,
            started,
            status: answer.status,
            body: answer.body.to_string(),
        });
        n += 1;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn kill_connections_of(root: &mut mysql_async::Conn, user: &str) -> usize {
    let ids: Vec<u64> = root
        .exec(
            "SELECT id FROM information_schema.processlist WHERE user = ?",
            (user,),
        )
        .await
        .unwrap();
    for id in &ids {
        let _ = root.query_drop(format!("KILL CONNECTION {id}")).await;
    }
    ids.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_database_password_is_picked_up_by_warm_instances_without_a_failed_request() {
    let moto = Moto::start();
    // SAFETY: one test in this binary.
    unsafe { moto.set_aws_environment() };
    let db = TestDb::new().await;
    let setup = test_app(&db);
    insert_user(&setup, 1, ADMIN_CELL, ADMIN_PASS).await;
    let user = format!("{}_rot", db.name);
    let mut root = setup.pool.get_conn().await.unwrap();
    // Left by a run of the other statement mode that failed before its end, if any.
    root.query_drop(format!("DROP USER IF EXISTS '{user}'@'%'"))
        .await
        .unwrap();
    root.query_drop(format!(
        "CREATE USER '{user}'@'%' IDENTIFIED BY 'password-1'"
    ))
    .await
    .unwrap();
    root.query_drop(format!(
        "GRANT SELECT, INSERT, UPDATE, DELETE ON `{}`.* TO '{user}'@'%'",
        db.name
    ))
    .await
    .unwrap();

    let (host, port) = test_server_address();
    let client = shared::app::secrets::client().await.unwrap();
    let secret_value =
        |password: &str| json!({ "username": user, "password": password }).to_string();
    let arn = client
        .create_secret()
        .name("users-api/db-rotating")
        .secret_string(secret_value("password-1"))
        .send()
        .await
        .unwrap()
        .arn()
        .unwrap()
        .to_owned();
    for (name, value) in [
        ("DB_HOST", host.as_str()),
        ("DB_PORT", port.as_str()),
        ("DB_NAME", db.name.as_str()),
        ("DB_SECRET_ARN", arn.as_str()),
        ("SECRET_KEY", TEST_SECRET),
        ("BCRYPT_COST", "4"),
        // Every login here comes from one address, several at once, and the rotation kills
        // some mid-request (their attempts are never given back): the throttle is not what
        // this test is about.
        ("LOGIN_MAX_FAILURES", "1000"),
    ] {
        // SAFETY: as above.
        unsafe { std::env::set_var(name, value) };
    }
    // SAFETY: as above.
    unsafe { std::env::remove_var("DATABASE_URL") };

    // Cold starts, then warm: each instance has served and holds a pooled connection.
    let mut apps = Vec::new();
    for _ in 0..INSTANCES {
        apps.push(Arc::new(App::load().await.expect("the app loads")));
    }
    let token = api_tests::token(&apps[0], ADMIN_CELL, ADMIN_PASS).await;
    for app in &apps {
        let me = call!(get_me, app, Event::v2("get-me").bearer(&token));
        assert_eq!(me.status, 200, "{}", me.body);
    }

    let stop = Arc::new(AtomicBool::new(false));
    let log = Arc::new(Mutex::new(Vec::new()));
    let tasks: Vec<_> = apps
        .iter()
        .enumerate()
        .map(|(i, app)| {
            tokio::spawn(serve(
                i,
                app.clone(),
                token.clone(),
                stop.clone(),
                log.clone(),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;

    // The rotation, as RDS does it: the password changes in the server and in the secret; the
    // connections open before go on working until they are closed (here: killed).
    root.query_drop(format!(
        "ALTER USER '{user}'@'%' IDENTIFIED BY 'password-2'"
    ))
    .await
    .unwrap();
    client
        .put_secret_value()
        .secret_id(&arn)
        .secret_string(secret_value("password-2"))
        .send()
        .await
        .unwrap();
    let killed = kill_connections_of(&mut root, &user).await;
    let changed_at = Instant::now();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }
    let outcomes = std::mem::take(&mut *log.lock().unwrap());
    let after: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| o.started >= changed_at)
        .collect();
    for instance in 0..INSTANCES {
        assert!(
            after.iter().filter(|o| o.instance == instance).count() >= 5,
            "instance {instance} served after the rotation"
        );
    }
    for outcome in &after {
        assert_eq!(
            outcome.status, 200,
            "instance {} after the rotation: {}",
            outcome.instance, outcome.body
        );
    }
    let rereads: Vec<u64> = apps.iter().map(|a| a.pool.credential_rereads()).collect();
    assert_eq!(
        rereads,
        vec![1; INSTANCES],
        "each instance read the secret once"
    );

    // A second rotation met by many requests of one instance at once: one read of the secret,
    // shared, and every request succeeds.
    root.query_drop(format!(
        "ALTER USER '{user}'@'%' IDENTIFIED BY 'password-3'"
    ))
    .await
    .unwrap();
    client
        .put_secret_value()
        .secret_id(&arn)
        .secret_string(secret_value("password-3"))
        .send()
        .await
        .unwrap();
    // Past the re-read interval of the first rotation.
    tokio::time::sleep(shared::db::pool::MIN_REREAD_INTERVAL).await;
    let killed_again = kill_connections_of(&mut root, &user).await;
    let app = apps[0].clone();
    let concurrent: Vec<_> = (0..8)
        .map(|_| {
            let app = app.clone();
            let token = token.clone();
            tokio::spawn(async move { call!(get_me, &app, Event::v2("get-me").bearer(&token)) })
        })
        .collect();
    for answer in concurrent {
        let answer = answer.await.unwrap();
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    assert_eq!(
        app.pool.credential_rereads(),
        2,
        "one shared read for 8 requests"
    );

    // A password that the secret does not know (a rotation half done): 503, not 500, and the
    // secret is not read again for every request.
    root.query_drop(format!(
        "ALTER USER '{user}'@'%' IDENTIFIED BY 'password-4'"
    ))
    .await
    .unwrap();
    tokio::time::sleep(shared::db::pool::MIN_REREAD_INTERVAL).await;
    kill_connections_of(&mut root, &user).await;
    for _ in 0..3 {
        let answer = call!(get_me, &apps[1], Event::v2("get-me").bearer(&token));
        answer.assert_error(503);
    }
    assert_eq!(
        apps[1].pool.credential_rereads(),
        2,
        "one read in the interval"
    );

    println!(
        "db rotation: {INSTANCES} warm instances, {} requests after the password change \
         ({killed} connections killed), all 200, 1 secret read per instance; then 8 concurrent \
         requests on one instance after a second change ({killed_again} killed): all 200, 1 read; \
         a password the secret does not hold: 503",
        after.len()
    );
    drop(apps);
    root.query_drop(format!("DROP USER '{user}'@'%'"))
        .await
        .unwrap();
}
