//! Many Lambda instances at once: each task below has an app (and pool) of its own, as separate
//! instances would, against one database.

use std::collections::HashSet;

use api_tests::{app_for_url, call, fixture, Event, USER_CELL, USER_PASS};
use serde_json::json;

const INSTANCES: usize = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_creates_of_one_cellnumber_give_exactly_one_201() {
    let f = fixture().await;
    let mut tasks = Vec::new();
    for n in 0..INSTANCES {
        let (url, admin) = (f.db.url.clone(), f.admin.clone());
        tasks.push(tokio::spawn(async move {
            let app = app_for_url(&url);
            let body = json!({ "name": format!("Racer {n}"), "cellnumber": "+15559990000", "password": "racer-password" });
            call!(create_user, &app, Event::v2("create-user").bearer(&admin).json_body(&body)).status
        }));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 409),
        "{statuses:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_logins_of_one_user_give_fifty_valid_tokens() {
    let f = fixture().await;
    let mut tasks = Vec::new();
    // From fifty addresses: attempts are counted before the password is checked, so from one
    // address only LOGIN_MAX_FAILURES of them would be let through at once (see abuse.rs).
    for n in 0..INSTANCES {
        let url = f.db.url.clone();
        tasks.push(tokio::spawn(async move {
            let app = app_for_url(&url);
            let address = format!("198.51.100.{n}");
            let answer = api_tests::login_from(&app, USER_CELL, USER_PASS, &address).await;
            assert_eq!(answer.status, 200, "{}", answer.body);
            answer.body["token"].as_str().unwrap().to_owned()
        }));
    }
    let mut tokens = HashSet::new();
    for task in tasks {
        tokens.insert(task.await.unwrap());
    }
    assert_eq!(tokens.len(), INSTANCES, "every token is distinct");
    for token in &tokens {
        let me = call!(get_me, &f.app, Event::v2("get-me").bearer(token));
        assert_eq!(me.status, 200, "{}", me.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_patches_and_deletes_of_one_user_never_fail_with_5xx() {
    let f = fixture().await;
    let mut tasks = Vec::new();
    for n in 0..20 {
        let (url, admin, id) = (f.db.url.clone(), f.admin.clone(), f.user_id.to_string());
        tasks.push(tokio::spawn(async move {
            let app = app_for_url(&url);
            if n % 4 == 0 {
                call!(
                    delete_user,
                    &app,
                    Event::v2("delete-user")
                        .bearer(&admin)
                        .path_param("id", &id)
                )
                .status
            } else {
                let body = if n % 3 == 0 {
                    json!({ "password": format!("new-password-{n}") })
                } else {
                    json!({ "name": format!("Name {n}") })
                };
                let event = Event::v2("update-user")
                    .bearer(&admin)
                    .path_param("id", &id)
                    .json_body(&body);
                call!(update_user, &app, event).status
            }
        }));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    assert!(
        statuses.iter().all(|s| [200, 404].contains(s)),
        "{statuses:?}"
    );
    assert!(statuses.contains(&200), "{statuses:?}");
    let after = call!(
        get_user,
        &f.app,
        Event::v2("get-user")
            .bearer(&f.admin)
            .path_param("id", &f.user_id.to_string())
    );
    assert_eq!(after.status, 404, "the user is gone in the end");
}

/// Each PATCH reads the row with its token check and writes only if the row is unchanged since;
/// the losers of a race fall back to the locking path, so no update is lost or half-applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_patches_of_one_user_all_apply_in_some_order() {
    let f = fixture().await;
    let mut tasks = Vec::new();
    for n in 0..INSTANCES {
        let (url, admin, id) = (f.db.url.clone(), f.admin.clone(), f.user_id.to_string());
        tasks.push(tokio::spawn(async move {
            let app = app_for_url(&url);
            // Half touch the name, half the email, so a lost update would show as a mix.
            let body = if n % 2 == 0 {
                json!({ "name": format!("Name {n}") })
            } else {
                json!({ "email": format!("user{n}@example.com") })
            };
            let event = Event::v2("update-user")
                .bearer(&admin)
                .path_param("id", &id)
                .json_body(&body);
            let answer = call!(update_user, &app, event);
            assert_eq!(answer.status, 200, "{}", answer.body);
            answer.body
        }));
    }
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    let updated_of = |user: &serde_json::Value| {
        chrono::DateTime::parse_from_rfc3339(user["updated"].as_str().unwrap()).unwrap()
    };
    let updated: HashSet<_> = answers.iter().map(updated_of).collect();
    assert_eq!(updated.len(), INSTANCES, "every write moved `updated`");
    let last = answers.iter().max_by_key(|user| updated_of(user)).unwrap();
    let stored = call!(
        get_user,
        &f.app,
        Event::v2("get-user")
            .bearer(&f.admin)
            .path_param("id", &f.user_id.to_string())
    );
    assert_eq!(
        &stored.body, last,
        "the row is what the last write returned"
    );
}
