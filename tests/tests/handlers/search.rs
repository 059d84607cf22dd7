//! `GET /api/users` search, filters and order, through the handler with API Gateway events.

use api_tests::{call, fixture, Answer, Event, Fixture};
use mysql_async::prelude::Queryable;
use serde_json::json;

async fn list(f: &Fixture, query: &str) -> Answer {
    call!(
        list_users,
        &f.app,
        Event::v2("list-users").bearer(&f.admin).query(query)
    )
}

fn ids(answer: &Answer) -> Vec<u64> {
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_u64().unwrap())
        .collect()
}

/// The fixture (admin 1 "User +15550000001", user 2 "User +15550000002") and named users.
async fn people() -> (Fixture, Vec<u64>) {
    let f = fixture().await;
    let mut conn = f.app.pool.get_conn().await.unwrap();
    let rows = [
        (
            "Ada Lovelace",
            "+4915112345678",
            Some("ada@example.com"),
            2,
            true,
            "2026-01-03",
        ),
        (
            "grace hopper",
            "15557654321",
            Some("Grace@Navy.MIL"),
            1,
            true,
            "2026-01-01",
        ),
        ("50% Off_Sale", "+15551110000", None, 2, false, "2026-01-02"),
        (
            r"Back\slash",
            "+15552220000",
            Some("back@example.org"),
            2,
            true,
            "2026-01-05",
        ),
        ("Zoë Ærø", "+15553330000", None, 2, false, "2026-01-04"),
    ];
    let mut ids = Vec::new();
    for (name, cell, email, role, active, created) in rows {
        conn.exec_drop(
            "INSERT INTO users (name, cellnumber, email, email_key, password_hash, role_id, is_active, created, updated) \
             VALUES (?, ?, ?, LOWER(?), REPEAT('x', 60), ?, ?, ?, ?)",
            (name, cell, email, email, role, active, created, created),
        )
        .await
        .unwrap();
        ids.push(conn.last_insert_id().unwrap());
    }
    (f, ids)
}

#[tokio::test]
async fn q_matches_name_email_and_cellnumber_ignoring_case() {
    let (f, p) = people().await;
    assert_eq!(ids(&list(&f, "q=ADA").await), [p[0]]);
    assert_eq!(ids(&list(&f, "q=navy.mil").await), [p[1]]);
    assert_eq!(ids(&list(&f, "q=grace").await), [p[1]]);
    // Cellnumbers: a leading + of q is ignored, so +1555765 and 1555765 both find 15557654321.
    assert_eq!(ids(&list(&f, "q=%2B1555765").await), [p[1]]);
    assert_eq!(ids(&list(&f, "q=1555765").await), [p[1]]);
    assert_eq!(ids(&list(&f, "q=12345678").await), [p[0]]);
    // Trimmed.
    assert_eq!(ids(&list(&f, "q=%20%20lovelace%20").await), [p[0]]);
    let answer = list(&f, "q=example").await;
    assert_eq!(ids(&answer), [f.admin_id, f.user_id, p[0], p[3]]);
    assert_eq!(answer.body["total"], 4);
    assert_eq!(ids(&list(&f, "q=zo%C3%AB").await), [p[4]]);
    assert_eq!(ids(&list(&f, "q=nobody-has-this").await), Vec::<u64>::new());
}

#[tokio::test]
async fn percent_underscore_and_backslash_are_plain_characters() {
    let (f, p) = people().await;
    assert_eq!(ids(&list(&f, "q=50%25").await), [p[2]]);
    assert_eq!(ids(&list(&f, "q=%25").await), [p[2]]);
    assert_eq!(ids(&list(&f, "q=_").await), [p[2]]);
    assert_eq!(ids(&list(&f, "q=f_s").await), [p[2]]);
    assert_eq!(ids(&list(&f, "q=%5C").await), [p[3]]);
    assert_eq!(ids(&list(&f, "q=k%5Cs").await), [p[3]]);
    assert_eq!(ids(&list(&f, "q=!").await), Vec::<u64>::new());
    assert_eq!(ids(&list(&f, "q='").await), Vec::<u64>::new());
}

#[tokio::test]
async fn filters_combine_and_total_counts_the_matches() {
    let (f, p) = people().await;
    assert_eq!(ids(&list(&f, "roleId=1").await), [f.admin_id, p[1]]);
    assert_eq!(ids(&list(&f, "isActive=false").await), [p[2], p[4]]);
    assert_eq!(
        ids(&list(&f, "isActive=true&roleId=2").await),
        [f.user_id, p[0], p[3]]
    );
    let page = list(&f, "roleId=2&limit=2&offset=1").await;
    assert_eq!(ids(&page), [p[0], p[2]]);
    assert_eq!(page.body["total"], 5);
    let past = list(&f, "roleId=2&q=example&offset=10").await;
    assert_eq!(past.body["items"], json!([]));
    assert_eq!(past.body["total"], 3);
}

#[tokio::test]
async fn every_sort_orders_with_ties_by_id() {
    let (f, p) = people().await;
    let all = [f.admin_id, f.user_id, p[0], p[1], p[2], p[3], p[4]];
    assert_eq!(ids(&list(&f, "sort=id").await), all);
    let mut reversed = all;
    reversed.reverse();
    assert_eq!(ids(&list(&f, "sort=-id").await), reversed);
    // unicode_ci: case and accents do not decide the order.
    let by_name = ids(&list(&f, "sort=name&q=a").await);
    assert_eq!(by_name[..3], [p[2], p[0], p[3]]);
    let by_created = ids(&list(&f, "sort=created&roleId=2&isActive=false").await);
    assert_eq!(by_created, [p[2], p[4]]);
    let newest = ids(&list(&f, "sort=-created&limit=2").await);
    assert_eq!(newest.len(), 2);
    assert!(newest.contains(&f.admin_id) || newest.contains(&f.user_id));
    // Ties: the two fixture users share a name prefix but not a name; give two the same name.
    let mut conn = f.app.pool.get_conn().await.unwrap();
    conn.exec_drop(
        "UPDATE users SET name = 'Same', created = '2026-01-01' WHERE id IN (?, ?)",
        (p[3], p[0]),
    )
    .await
    .unwrap();
    assert_eq!(ids(&list(&f, "q=same&sort=name").await), [p[0], p[3]]);
    assert_eq!(ids(&list(&f, "q=same&sort=-name").await), [p[3], p[0]]);
    assert_eq!(ids(&list(&f, "q=same&sort=-created").await), [p[3], p[0]]);
}

#[tokio::test]
async fn any_other_value_or_parameter_is_422() {
    let (f, _) = people().await;
    for query in [
        "q=",
        "q=%20%20",
        &format!("q={}", "a".repeat(101)),
        "roleId=3",
        "roleId=0",
        "roleId=x",
        "isActive=1",
        "isActive=yes",
        "sort=email",
        "sort=ID",
        "sort=",
        "page=2",
        "Q=ada",
        "limit=10&foo=bar",
    ] {
        list(&f, query).await.assert_error(422);
    }
    assert_eq!(
        list(&f, &format!("q=%20{}%20", "a".repeat(100)))
            .await
            .status,
        200
    );
    let user = call!(
        list_users,
        &f.app,
        Event::v2("list-users").bearer(&f.user).query("q=ada")
    );
    user.assert_error(403);
}
