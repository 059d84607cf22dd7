//! Races of credentials, each side on an instance of its own: a password change racing an admin
//! reset, a logout and another change; a login racing the deletion of its user or a reset of its
//! password. Whoever wins, no stale password or session survives.

use std::time::Duration;

use api_tests::{
    admin_patch, app_with, call, count, fixture, insert_user, login, login_from, Answer, Event,
    Fixture, USER_CELL, USER_PASS,
};
use mysql_async::prelude::Queryable;
use serde_json::json;
use shared::App;

async fn change_password(app: &App, token: &str, current: &str, new: &str) -> Answer {
    let body = json!({ "currentPassword": current, "newPassword": new });
    call!(
        change_password,
        app,
        Event::v2("change-password").bearer(token).json_body(&body)
    )
}

/// An instance whose new hashes take long enough (cost 12) for another request to land while
/// one is computed.
fn slow_hashing(url: &str) -> App {
    app_with(url, &[("BCRYPT_COST", "12")])
}

async fn password_works(app: &App, password: &str) -> bool {
    login_from(app, USER_CELL, password, "192.0.2.77")
        .await
        .status
        == 200
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_admin_reset_during_a_self_change_wins() {
    let f = fixture().await;
    let (url, user) = (f.db.url.clone(), f.user.clone());
    let change = tokio::spawn(async move {
        change_password(&slow_hashing(&url), &user, USER_PASS, "self-chosen-pass-1").await
    });
    tokio::time::sleep(Duration::from_millis(60)).await;
    let reset = admin_patch(
        &f.app,
        &f.admin,
        f.user_id,
        &json!({ "password": "admin-chosen-pass-1" }),
    )
    .await;
    assert_eq!(reset.status, 200, "{}", reset.body);
    change.await.unwrap().assert_error(401);
    assert!(password_works(&f.app, "admin-chosen-pass-1").await);
    assert!(!password_works(&f.app, "self-chosen-pass-1").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_logout_during_a_self_change_wins() {
    let f = fixture().await;
    let (url, user) = (f.db.url.clone(), f.user.clone());
    let change = tokio::spawn(async move {
        change_password(&slow_hashing(&url), &user, USER_PASS, "self-chosen-pass-1").await
    });
    tokio::time::sleep(Duration::from_millis(60)).await;
    let logout = call!(logout, &f.app, Event::v2("logout").bearer(&f.user));
    assert_eq!(logout.status, 204, "{}", logout.body);
    change.await.unwrap().assert_error(401);
    assert!(password_works(&f.app, USER_PASS).await, "nothing changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_two_concurrent_self_changes_exactly_one_wins() {
    let f = fixture().await;
    let mut tasks = Vec::new();
    for new in ["first-new-pass-1", "second-new-pass-2"] {
        let (url, user) = (f.db.url.clone(), f.user.clone());
        tasks.push(tokio::spawn(async move {
            let answer = change_password(&slow_hashing(&url), &user, USER_PASS, new).await;
            (new, answer)
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        let (new, answer) = task.await.unwrap();
        if answer.status == 204 {
            winners.push(new);
        } else {
            answer.assert_error(401);
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    assert!(password_works(&f.app, winners[0]).await);
    assert!(!password_works(&f.app, USER_PASS).await);
}

/// Signs in a user whose stored hash takes long to verify (cost 12), runs `meanwhile` (the admin
/// acting on that user's id) while the login checks it, and answers the login's outcome, the
/// user's id and how many sessions and tokens it has afterwards.
async fn login_racing<F, Fut>(f: &Fixture, meanwhile: F) -> (Answer, u64, u64)
where
    F: FnOnce(u64) -> Fut,
    Fut: std::future::Future<Output = Answer>,
{
    let hash = shared::auth::password::hash(USER_PASS, 12).await.unwrap();
    let id = insert_user(&f.app, 2, "+15550000077", "placeholder").await;
    let mut conn = f.app.pool.get_conn().await.unwrap();
    conn.exec_drop(
        "UPDATE users SET password_hash = ? WHERE id = ?",
        (hash, id),
    )
    .await
    .unwrap();
    let url = f.db.url.clone();
    let signing_in = tokio::spawn(async move {
        let app = app_with(&url, &[("BCRYPT_COST", "12")]);
        login(&app, "+15550000077", USER_PASS).await
    });
    tokio::time::sleep(Duration::from_millis(60)).await;
    let acted = meanwhile(id).await;
    assert_eq!(acted.status, 200, "{}", acted.body);
    let outcome = signing_in.await.unwrap();
    let left = format!(
        "SELECT (SELECT COUNT(*) FROM access_token WHERE user_id = {id}) \
              + (SELECT COUNT(*) FROM session WHERE user_id = {id} AND ended IS NULL)"
    );
    (outcome, id, count(&f.app, &left).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_login_that_races_the_deletion_of_its_user_is_401_and_leaves_no_session() {
    let f = &fixture().await;
    let (outcome, _, left) = login_racing(f, |id| async move {
        call!(
            delete_user,
            &f.app,
            Event::v2("delete-user")
                .bearer(&f.admin)
                .path_param("id", &id.to_string())
        )
    })
    .await;
    outcome.assert_error(401);
    assert_eq!(left, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_login_that_races_an_admin_password_reset_gets_no_session() {
    let f = &fixture().await;
    let (outcome, _, left) = login_racing(f, |id| async move {
        admin_patch(
            &f.app,
            &f.admin,
            id,
            &json!({ "password": "admin-chosen-pass-1" }),
        )
        .await
    })
    .await;
    outcome.assert_error(401);
    assert_eq!(left, 0);
}
