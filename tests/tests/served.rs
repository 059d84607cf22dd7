//! The API as `make serve` serves it: every function under `cargo lambda watch`, over HTTP, on
//! the contract's paths.

use api_tests::serve::Served;
use api_tests::{insert_user, test_app, test_env, TestDb};
use mysql_async::prelude::Queryable;
use serde_json::json;

#[test]
fn sign_in_and_read_over_http_under_cargo_lambda_watch() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let db = runtime.block_on(TestDb::new());
    let app = test_app(&db);
    let (admin_id, user_id) = runtime.block_on(async {
        (
            insert_user(&app, 1, "+15550000001", "admin-password-1").await,
            insert_user(&app, 2, "+15550000002", "user-password-2").await,
        )
    });
    let server = Served::start(&test_env(&db));

    let login = |cellnumber: &str, password: &str| {
        server.call(
            "POST",
            "/api/users/login",
            None,
            Some(&json!({ "cellnumber": cellnumber, "password": password })),
        )
    };
    let answer = login("+15550000001", "admin-password-1");
    assert_eq!(answer.status, 200, "{}\n{}", answer.body, server.logs());
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    let admin = answer.body["token"].as_str().unwrap().to_owned();

    let answer = server.call("GET", "/api/users/me", Some(&admin), None);
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["id"], admin_id);
    assert_eq!(answer.body["roleId"], 1);

    let answer = server.call("GET", &format!("/api/users/{user_id}"), Some(&admin), None);
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["cellnumber"], "+15550000002");

    let user = login("+15550000002", "user-password-2").body["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let answer = server.call("GET", &format!("/api/users/{admin_id}"), Some(&user), None);
    assert_eq!(answer.status, 403, "{}", answer.body);
    assert_eq!(answer.body["detail"], "Not enough permissions");

    let answer = login("+15550000002", "wrong-password");
    assert_eq!(answer.status, 401);
    assert_eq!(answer.header("www-authenticate"), Some("Bearer"));

    let answer = server.call("GET", "/api/users/me", None, None);
    assert_eq!(answer.status, 401);
    assert_eq!(answer.body["detail"], "Could not validate credentials");

    // Revoking the user's token rows makes its token fail at once.
    runtime.block_on(async {
        let mut conn = app.pool.get_conn().await.unwrap();
        conn.exec_drop("DELETE FROM access_token WHERE user_id = ?", (user_id,))
            .await
            .unwrap();
    });
    assert_eq!(
        server
            .call("GET", "/api/users/me", Some(&user), None)
            .status,
        401
    );
    assert_eq!(
        server
            .call("GET", "/api/users/me", Some(&admin), None)
            .status,
        200
    );

    // Paths and methods outside the contract are not routed.
    assert_eq!(
        server
            .call("GET", "/api/nothing-here", Some(&admin), None)
            .status,
        404
    );
}
