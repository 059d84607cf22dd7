//! Abuse resistance, tried as an attacker would: parallel guesses from separate instances (each
//! with a pool of its own, as Lambda runs them), many addresses, spraying, the address API Gateway
//! saw, and wrong current passwords throttled like logins.

use api_tests::{
    app_with, call, fixture, insert_user, login, login_from, test_app_with, token, Answer, Event,
    TestDb, ADMIN_CELL, ADMIN_PASS, USER_CELL, USER_PASS,
};
use serde_json::json;
use shared::App;

/// Statuses of `instances` wrong logins for `cellnumber` sent at once, each from an instance of
/// its own, from the addresses given in turn.
async fn parallel_logins(
    url: &str,
    overrides: &[(&'static str, &'static str)],
    cellnumber: &str,
    addresses: &[&'static str],
    instances: usize,
) -> Vec<(&'static str, u16, Option<String>)> {
    let mut tasks = Vec::new();
    for n in 0..instances {
        let (url, overrides, cellnumber) =
            (url.to_owned(), overrides.to_vec(), cellnumber.to_owned());
        let address = addresses[n % addresses.len()];
        tasks.push(tokio::spawn(async move {
            let app = app_with(&url, &overrides);
            let answer = login_from(&app, &cellnumber, "wrong-password", address).await;
            let retry_after = answer.header("retry-after").map(str::to_owned);
            if answer.status != 401 {
                answer.assert_error(429);
            }
            (address, answer.status, retry_after)
        }));
    }
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    outcomes
}

fn count_status(outcomes: &[(&str, u16, Option<String>)], address: &str, status: u16) -> usize {
    outcomes
        .iter()
        .filter(|(a, s, _)| *a == address && *s == status)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forty_parallel_wrong_logins_reach_bcrypt_at_most_the_limit() {
    let f = fixture().await;
    let outcomes = parallel_logins(&f.db.url, &[], USER_CELL, &["198.51.100.1"], 40).await;
    assert_eq!(
        count_status(&outcomes, "198.51.100.1", 401),
        5,
        "{outcomes:?}"
    );
    assert_eq!(
        count_status(&outcomes, "198.51.100.1", 429),
        35,
        "{outcomes:?}"
    );
    for (_, status, retry_after) in &outcomes {
        if *status == 429 {
            let seconds: u64 = retry_after.as_deref().unwrap().parse().unwrap();
            assert!((1..=900).contains(&seconds), "{seconds}");
        }
    }
    // The right password from that address is refused too, without a check...
    login_from(&f.app, USER_CELL, USER_PASS, "198.51.100.1")
        .await
        .assert_error(429);
    // ...while the user signs in from anywhere else.
    token(&f.app, USER_CELL, USER_PASS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_locked_address_does_not_lock_another_until_the_total_limit() {
    let db = TestDb::new().await;
    let limits = [
        ("LOGIN_MAX_FAILURES", "3"),
        ("LOGIN_MAX_FAILURES_TOTAL", "8"),
    ];
    let app = test_app_with(&db, &limits);
    insert_user(&app, 2, USER_CELL, USER_PASS).await;

    // Two addresses at once: each gets its own 3 guesses.
    let addresses = ["198.51.100.1", "198.51.100.2"];
    let outcomes = parallel_logins(&db.url, &limits, USER_CELL, &addresses, 30).await;
    for address in addresses {
        assert_eq!(count_status(&outcomes, address, 401), 3, "{outcomes:?}");
        assert_eq!(count_status(&outcomes, address, 429), 12, "{outcomes:?}");
    }
    // A third address still signs in (the total counts 6 of 8 failures)...
    let third = login_from(&app, USER_CELL, USER_PASS, "198.51.100.3").await;
    assert_eq!(third.status, 200, "{}", third.body);
    // ...and a botnet of fresh addresses gets the last 2 guesses of the window, then nothing:
    // not even the right password from a new address, while the address the user just signed
    // in from is held only to its own limit.
    let outcomes = parallel_logins(
        &db.url,
        &limits,
        USER_CELL,
        &["203.0.113.4", "203.0.113.5", "203.0.113.6", "203.0.113.7"],
        8,
    )
    .await;
    let guessed = outcomes.iter().filter(|(_, s, _)| *s == 401).count();
    assert_eq!(guessed, 2, "{outcomes:?}");
    login_from(&app, USER_CELL, USER_PASS, "198.51.100.4")
        .await
        .assert_error(429);
    let known = login_from(&app, USER_CELL, USER_PASS, "198.51.100.3").await;
    assert_eq!(known.status, 200, "{}", known.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_victim_keeps_signing_in_from_home_while_ten_addresses_hammer_its_cellnumber() {
    let f = fixture().await;
    const HOME: &str = "192.0.2.50";
    let home = login_from(&f.app, USER_CELL, USER_PASS, HOME).await;
    assert_eq!(home.status, 200, "{}", home.body);

    // Ten addresses, five wrong passwords each: the whole LOGIN_MAX_FAILURES_TOTAL (50).
    let botnet: Vec<&'static str> = (1..=10)
        .map(|n| -> &'static str { format!("203.0.113.{}", 100 + n).leak() })
        .collect();
    let outcomes = parallel_logins(&f.db.url, &[], USER_CELL, &botnet, 50).await;
    assert_eq!(
        outcomes.iter().filter(|(_, s, _)| *s == 401).count(),
        50,
        "{outcomes:?}"
    );
    // A new address of the victim, right password and all, is refused...
    login_from(&f.app, USER_CELL, USER_PASS, "198.51.100.77")
        .await
        .assert_error(429);
    // ...but home is not, however long the hammering goes on.
    for _ in 0..3 {
        let outcomes = parallel_logins(&f.db.url, &[], USER_CELL, &botnet, 20).await;
        assert_eq!(count_status_all(&outcomes, 429), 20, "{outcomes:?}");
        let home = login_from(&f.app, USER_CELL, USER_PASS, HOME).await;
        assert_eq!(home.status, 200, "{}", home.body);
    }
    // Home is still held to its own limit.
    for _ in 0..5 {
        login_from(&f.app, USER_CELL, "wrong-password", HOME)
            .await
            .assert_error(401);
    }
    login_from(&f.app, USER_CELL, USER_PASS, HOME)
        .await
        .assert_error(429);
}

fn count_status_all(outcomes: &[(&str, u16, Option<String>)], status: u16) -> usize {
    outcomes.iter().filter(|(_, s, _)| *s == status).count()
}

/// Statuses of wrong logins sent at once from `address`, each for a cellnumber of its own (no
/// user has any of them) from an instance of its own.
async fn spray(url: &str, limit: &'static str, address: &'static str, n: usize) -> Vec<u16> {
    let mut tasks = Vec::new();
    for i in 0..n {
        let url = url.to_owned();
        tasks.push(tokio::spawn(async move {
            let app = app_with(&url, &[("LOGIN_MAX_FAILURES_PER_ADDRESS", limit)]);
            let cellnumber = format!("+1555{:07}", 4_000_000 + i);
            let answer = login_from(&app, &cellnumber, "wrong-password", address).await;
            if answer.status != 401 {
                answer.assert_error(429);
            }
            answer.status
        }));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    statuses
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_address_stops_after_its_limit_of_failures_across_many_cellnumbers() {
    let f = fixture().await;
    let limit = [("LOGIN_MAX_FAILURES_PER_ADDRESS", "12")];
    let app = app_with(&f.db.url, &limit);
    const SPRAYER: &str = "198.51.100.66";
    // A user who signed in from that address before (a shared office address, say).
    let office = login_from(&app, ADMIN_CELL, ADMIN_PASS, SPRAYER).await;
    assert_eq!(office.status, 200, "{}", office.body);

    // 40 cellnumbers at once, one guess each: 12 reach bcrypt, however the requests interleave.
    let statuses = spray(&f.db.url, "12", SPRAYER, 40).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        12,
        "{statuses:?}"
    );
    // Every further cellnumber is refused from there, a user's right password included...
    let retry = login_from(&app, "+15559999999", "wrong-password", SPRAYER).await;
    retry.assert_error(429);
    let seconds: u64 = retry.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=900).contains(&seconds), "{seconds}");
    login_from(&app, USER_CELL, USER_PASS, SPRAYER)
        .await
        .assert_error(429);
    // ...while that user signs in from anywhere else, and the one who signs in from that
    // address is held only to its own limit there.
    let elsewhere = login_from(&app, USER_CELL, USER_PASS, "198.51.100.67").await;
    assert_eq!(elsewhere.status, 200, "{}", elsewhere.body);
    let office = login_from(&app, ADMIN_CELL, ADMIN_PASS, SPRAYER).await;
    assert_eq!(office.status, 200, "{}", office.body);
}

#[tokio::test]
async fn the_default_per_address_limit_is_a_hundred_failures() {
    let f = fixture().await;
    const SPRAYER: &str = "198.51.100.88";
    for n in 0..100 {
        let cellnumber = format!("+1555{:07}", 5_000_000 + n);
        login_from(&f.app, &cellnumber, "wrong-password", SPRAYER)
            .await
            .assert_error(401);
    }
    login_from(&f.app, "+15556000000", "wrong-password", SPRAYER)
        .await
        .assert_error(429);
}

#[tokio::test]
async fn the_client_address_is_the_one_api_gateway_saw_never_x_forwarded_for() {
    let f = fixture().await;
    for n in 0..5 {
        let event = Event::v2("login")
            .from_address("198.51.100.9")
            .header("x-forwarded-for", &format!("10.0.0.{n}"))
            .json_body(&json!({ "cellnumber": USER_CELL, "password": "wrong-password" }));
        call!(login, &f.app, event).assert_error(401);
    }
    let event = Event::v2("login")
        .from_address("198.51.100.9")
        .header("x-forwarded-for", "10.0.0.99")
        .json_body(&json!({ "cellnumber": USER_CELL, "password": USER_PASS }));
    call!(login, &f.app, event).assert_error(429);

    // A REST API event names the address in requestContext.identity.
    let rest = |ip: &str, password: &str| {
        Event::v1("POST", "/api/users/login", "/api/users/login")
            .from_address(ip)
            .json_body(&json!({ "cellnumber": ADMIN_CELL, "password": password }))
    };
    for _ in 0..5 {
        call!(login, &f.app, rest("198.51.100.10", "wrong-password")).assert_error(401);
    }
    call!(login, &f.app, rest("198.51.100.10", ADMIN_PASS)).assert_error(429);
    assert_eq!(
        call!(login, &f.app, rest("198.51.100.11", ADMIN_PASS)).status,
        200
    );
}

async fn change_password(app: &App, token: &str, current: &str, new: &str) -> Answer {
    let body = json!({ "currentPassword": current, "newPassword": new });
    call!(
        change_password,
        app,
        Event::v2("change-password").bearer(token).json_body(&body)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_wrong_current_passwords_are_throttled_like_logins() {
    let f = fixture().await;
    let mut tasks = Vec::new();
    for n in 0..30 {
        let (url, user) = (f.db.url.clone(), f.user.clone());
        tasks.push(tokio::spawn(async move {
            let app = app_with(&url, &[]);
            let answer =
                change_password(&app, &user, &format!("guess-{n}-wrong"), "brand-new-pass-1").await;
            answer.assert_error(if answer.status == 403 { 403 } else { 429 });
            answer.status
        }));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 403).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        25,
        "{statuses:?}"
    );
    // They were failed logins of that cellnumber from that address.
    login(&f.app, USER_CELL, USER_PASS).await.assert_error(429);
    let elsewhere = login_from(&f.app, USER_CELL, USER_PASS, "198.51.100.1").await;
    assert_eq!(elsewhere.status, 200, "{}", elsewhere.body);
    assert_eq!(
        call!(get_me, &f.app, Event::v2("get-me").bearer(&f.user)).status,
        200,
        "no failed change revoked anything"
    );
}
