//! The contract's own 404 and 405: a path the API does not have is 404 {"detail": "Not Found"},
//! a path of the API with another method 405 {"detail": "Method Not Allowed"} with `Allow`, both
//! before any authentication: from the fallback function (API Gateway's `$default` route), from a
//! route whose `{id}` names a fixed path, and under `cargo lambda watch`.

use api_tests::serve::Served;
use api_tests::{call, fixture, test_app_with, test_env, Answer, Event, TestDb};

async fn fallback(method: &str, path: &str) -> Answer {
    fallback_with_signup(method, path, false).await
}

async fn fallback_with_signup(method: &str, path: &str, signup_open: bool) -> Answer {
    let event = Event::from_json(
        &std::fs::read_to_string(format!(
            "{}/../events/fallback.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    )
    .at(method, path);
    Answer::from_response(
        fallback::handler(event.request(), signup_open)
            .await
            .unwrap(),
    )
}

fn assert_not_found(answer: &Answer) {
    answer.assert_error(404);
    assert_eq!(answer.body, serde_json::json!({ "detail": "Not Found" }));
    assert!(answer.header("allow").is_none());
}

fn assert_not_allowed(answer: &Answer, allow: &str) {
    answer.assert_error(405);
    assert_eq!(
        answer.body,
        serde_json::json!({ "detail": "Method Not Allowed" })
    );
    assert_eq!(answer.header("allow"), Some(allow));
    assert_eq!(answer.header("cache-control"), Some("no-store"));
}

#[tokio::test]
async fn the_fallback_answers_404_for_unknown_paths_and_405_with_allow_for_unknown_methods() {
    for path in [
        "/",
        "/api",
        "/api/users/",
        "/api/users/1/sessions/2/x",
        "/API/USERS",
        "/docs/",
        "/api/users/1/extra",
    ] {
        assert_not_found(&fallback("GET", path).await);
    }
    for (method, path, allow) in [
        ("PUT", "/api/users/1", "GET, PATCH, DELETE"),
        ("POST", "/api/users/abc", "GET, PATCH, DELETE"),
        ("HEAD", "/api/users/me", "GET, PATCH"),
        ("POST", "/api/users/me", "GET, PATCH"),
        ("GET", "/api/users/login", "POST"),
        ("DELETE", "/api/users", "GET, POST"),
        ("OPTIONS", "/api/users", "GET, POST"),
        ("POST", "/docs", "GET"),
        ("PUT", "/docs/swagger-ui.css", "GET"),
        ("DELETE", "/api/openapi.json", "GET"),
    ] {
        assert_not_allowed(&fallback(method, path).await, allow);
    }
}

#[tokio::test]
async fn a_fixed_path_that_api_gateway_gives_to_an_id_route_is_405_before_authentication() {
    // API Gateway routes DELETE /api/users/me to DELETE /api/users/{id}: me is its own path.
    let f = fixture().await;
    let me = |method: &str| {
        Event::v2("get-user")
            .at(method, "/api/users/me")
            .path_param("id", "me")
    };
    assert_not_allowed(&call!(delete_user, &f.app, me("DELETE")), "GET, PATCH");
    // Without a token too: the route is decided first.
    assert_not_allowed(
        &call!(
            delete_user,
            &f.app,
            me("DELETE").without_header("authorization")
        ),
        "GET, PATCH",
    );
    // A non-number id is still the route's own 422, after the token check.
    let answer = call!(
        delete_user,
        &f.app,
        Event::v2("delete-user")
            .at("DELETE", "/api/users/abc")
            .path_param("id", "abc")
            .bearer(&f.admin)
    );
    answer.assert_error(422);
}

#[tokio::test]
async fn closed_sign_up_is_404_for_every_method_and_open_sign_up_405_for_all_but_post() {
    // The fallback takes what no route takes; API Gateway gives GET, PATCH and DELETE of
    // /api/users/signup to the {id} routes.
    let f = fixture().await;
    let open_app = test_app_with(&f.db, &[("SIGNUP", "open")]);
    for path in ["/api/users/signup", "/api/users/signup/verify"] {
        for method in ["GET", "PUT", "DELETE", "PATCH", "OPTIONS"] {
            assert_not_found(&fallback_with_signup(method, path, false).await);
            assert_not_allowed(&fallback_with_signup(method, path, true).await, "POST");
        }
    }
    let signup_as_id = |function: &str, method: &str| {
        Event::v2(function)
            .at(method, "/api/users/signup")
            .path_param("id", "signup")
            .bearer(&f.admin)
    };
    for (app, open) in [(&f.app, false), (&open_app, true)] {
        let answers = [
            call!(get_user, app, signup_as_id("get-user", "GET")),
            call!(update_user, app, signup_as_id("update-user", "PATCH")),
            call!(delete_user, app, signup_as_id("delete-user", "DELETE")),
        ];
        for answer in answers {
            if open {
                assert_not_allowed(&answer, "POST");
            } else {
                assert_not_found(&answer);
            }
        }
    }
}

#[test]
fn cargo_lambda_watch_answers_the_same_404_and_405() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let db = runtime.block_on(TestDb::new());
    let server = Served::start(&test_env(&db));
    for path in [
        "/",
        "/api/nothing-here",
        "/api/users/1/extra",
        "/favicon.ico",
        // Sign-up is closed by default.
        "/api/users/signup",
        "/api/users/signup/verify",
    ] {
        let answer = server.call("GET", path, None, None);
        assert_eq!(answer.status, 404, "{path}: {}", answer.body);
        assert_eq!(answer.body, serde_json::json!({ "detail": "Not Found" }));
    }
    for (method, path, allow) in [
        ("PUT", "/api/users/7", "GET, PATCH, DELETE"),
        ("DELETE", "/api/users/me", "GET, PATCH"),
        ("GET", "/api/users/login", "POST"),
        ("PATCH", "/api/users", "GET, POST"),
        ("POST", "/docs", "GET"),
    ] {
        let answer = server.call(method, path, Some("not-a-token"), None);
        assert_eq!(answer.status, 405, "{method} {path}: {}", answer.body);
        assert_eq!(
            answer.body,
            serde_json::json!({ "detail": "Method Not Allowed" })
        );
        assert_eq!(answer.header("allow"), Some(allow), "{method} {path}");
    }
}
