//! The login throttle's rules, one instance at a time: failures per cellnumber until the window
//! passes, a success resetting the count, unknown cellnumbers counted like known ones, the
//! configured limit; and what a login clears on the way (expired tokens, stale failures). The
//! throttle under parallel attack is `login_abuse.rs`.

use api_tests::{
    count, fixture, insert_user, login, test_app_with, token, TestDb, ADMIN_CELL, ADMIN_PASS,
    USER_CELL, USER_PASS,
};
use mysql_async::prelude::Queryable;

#[tokio::test]
async fn repeated_failures_throttle_one_cellnumber_until_the_window_passes() {
    let f = fixture().await;
    for _ in 0..5 {
        login(&f.app, USER_CELL, "wrong-password")
            .await
            .assert_error(401);
    }
    let throttled = login(&f.app, USER_CELL, USER_PASS).await;
    throttled.assert_error(429);
    let retry_after: u64 = throttled.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=901).contains(&retry_after), "{retry_after}");
    // Other cellnumbers are unaffected.
    token(&f.app, ADMIN_CELL, ADMIN_PASS).await;
    // Once the window has passed, the right password works and resets the counter.
    let mut conn = f.app.pool.get_conn().await.unwrap();
    conn.query_drop("UPDATE login_attempt SET window_start = window_start - INTERVAL 901 SECOND")
        .await
        .unwrap();
    token(&f.app, USER_CELL, USER_PASS).await;
    assert_eq!(
        count(
            &f.app,
            "SELECT COALESCE(SUM(attempts), 0) FROM login_attempt"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn a_success_resets_the_failure_count() {
    let f = fixture().await;
    for _ in 0..4 {
        login(&f.app, USER_CELL, "wrong-password")
            .await
            .assert_error(401);
    }
    token(&f.app, USER_CELL, USER_PASS).await;
    for _ in 0..4 {
        login(&f.app, USER_CELL, "wrong-password")
            .await
            .assert_error(401);
    }
    token(&f.app, USER_CELL, USER_PASS).await;
}

#[tokio::test]
async fn unknown_cellnumbers_are_throttled_like_known_ones() {
    let f = fixture().await;
    for _ in 0..5 {
        login(&f.app, "+19998887777", "whatever-password")
            .await
            .assert_error(401);
    }
    login(&f.app, "+19998887777", "whatever-password")
        .await
        .assert_error(429);
}

#[tokio::test]
async fn the_throttle_follows_its_configuration() {
    let db = TestDb::new().await;
    let app = test_app_with(&db, &[("LOGIN_MAX_FAILURES", "2")]);
    insert_user(&app, 2, USER_CELL, USER_PASS).await;
    login(&app, USER_CELL, "wrong-password")
        .await
        .assert_error(401);
    login(&app, USER_CELL, "wrong-password")
        .await
        .assert_error(401);
    login(&app, USER_CELL, USER_PASS).await.assert_error(429);
}

#[tokio::test]
async fn login_removes_expired_tokens_and_stale_failures() {
    let f = fixture().await;
    let mut conn = f.app.pool.get_conn().await.unwrap();
    conn.exec_drop(
        "INSERT INTO access_token (jti, user_id, session_id, created, expires) \
         SELECT REPEAT('a', 32), user_id, id, UTC_TIMESTAMP(6) - INTERVAL 2 DAY, \
                UTC_TIMESTAMP(6) - INTERVAL 1 DAY FROM session WHERE user_id = ? \
         UNION ALL \
         SELECT REPEAT('b', 32), user_id, id, UTC_TIMESTAMP(6) - INTERVAL 2 HOUR, \
                UTC_TIMESTAMP(6) - INTERVAL 1 HOUR FROM session WHERE user_id = ?",
        (f.user_id, f.admin_id),
    )
    .await
    .unwrap();
    conn.query_drop(
        "INSERT INTO login_attempt VALUES \
         ('+15550123456', '203.0.113.10', 3, UTC_TIMESTAMP(6) - INTERVAL 1 DAY), \
         ('+15550123456', '*', 3, UTC_TIMESTAMP(6) - INTERVAL 1 DAY)",
    )
    .await
    .unwrap();
    assert_eq!(count(&f.app, "SELECT COUNT(*) FROM access_token").await, 4);
    token(&f.app, ADMIN_CELL, ADMIN_PASS).await;
    assert_eq!(
        count(
            &f.app,
            "SELECT COUNT(*) FROM access_token WHERE expires < UTC_TIMESTAMP(6)"
        )
        .await,
        0
    );
    assert_eq!(count(&f.app, "SELECT COUNT(*) FROM access_token").await, 3);
    assert_eq!(
        count(
            &f.app,
            "SELECT COUNT(*) FROM login_attempt WHERE cellnumber = '+15550123456'"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn a_failed_login_removes_stale_attempts_too() {
    let f = fixture().await;
    let mut conn = f.app.pool.get_conn().await.unwrap();
    conn.query_drop(
        "INSERT INTO login_attempt VALUES \
         ('+15550123456', '198.51.100.1', 3, UTC_TIMESTAMP(6) - INTERVAL 1 DAY), \
         ('+15550123457', '*', 9, UTC_TIMESTAMP(6) - INTERVAL 1 DAY)",
    )
    .await
    .unwrap();
    login(&f.app, "+19998887777", "wrong-password")
        .await
        .assert_error(401);
    let stale = "SELECT COUNT(*) FROM login_attempt WHERE cellnumber LIKE '+1555012345_'";
    assert_eq!(count(&f.app, stale).await, 0);
}
