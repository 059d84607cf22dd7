//! What the bench sends each function, and how it calls a handler in process. Both go by the
//! function's name, as `functions/` names it; a function without a request here is reported as
//! not measured.

use api_tests::{call, insert_user, token, Answer, Event, Fixture};
use serde_json::json;
use shared::App;

/// The tests' fixture, with twenty more users so a page of the list has some weight.
pub async fn fixture() -> Fixture {
    let f = api_tests::fixture().await;
    for n in 0..20 {
        insert_user(&f.app, 2, &format!("+1555100{n:04}"), "some-password-1").await;
    }
    f
}

/// The event that start (or invocation) `n` of `function` answers: a realistic request that
/// needs no state from the one before, and succeeds, but for the catch-all route, which only
/// refuses. `None` for a function no request here reaches.
pub async fn event_for(f: &Fixture, function: &str, n: usize) -> Option<String> {
    let user_id = f.user_id.to_string();
    let event = match function {
        "login" => Event::v2("login").json_body(&json!({ "cellnumber": "+15550000002", "password": "user-password-2" })),
        "logout" => Event::v2("logout").bearer(&token(&f.app, "+15550000002", "user-password-2").await),
        "get-me" => Event::v2("get-me").bearer(&f.user),
        "refresh-token" => {
            let grant = api_tests::login(&f.app, "+15550000002", "user-password-2").await;
            Event::v2("refresh-token").json_body(&json!({ "refreshToken": grant.body["refreshToken"] }))
        }
        "list-sessions" => Event::v2("list-sessions").bearer(&f.admin),
        "delete-session" => {
            let grant = api_tests::login(&f.app, "+15550000002", "user-password-2").await;
            let session = grant.body["sessionId"].as_str().unwrap_or_default();
            Event::v2("delete-session")
                .bearer(grant.body["token"].as_str().unwrap_or_default())
                .path_param("sessionId", session)
        }
        // A user of its own each time, so the fixture's passwords and sessions stay as they are.
        "change-password" => {
            let cellnumber = unique_cellnumber("+18", n);
            insert_user(&f.app, 2, &cellnumber, "old-password-1").await;
            Event::v2("change-password")
                .bearer(&token(&f.app, &cellnumber, "old-password-1").await)
                .json_body(&json!({ "currentPassword": "old-password-1", "newPassword": "new-password-1" }))
        }
        "revoke-user-sessions" => {
            let cellnumber = unique_cellnumber("+19", n);
            let target = insert_user(&f.app, 2, &cellnumber, "target-password").await;
            token(&f.app, &cellnumber, "target-password").await;
            Event::v2("revoke-user-sessions").bearer(&f.admin).path_param("id", &target.to_string())
        }
        "create-user" => Event::v2("create-user").bearer(&f.admin).json_body(&json!({
            "name": "Bench", "cellnumber": unique_cellnumber("+16", n), "password": "bench-password-1"
        })),
        "list-users" => Event::v2("list-users").bearer(&f.admin),
        "get-user" => Event::v2("get-user").bearer(&f.admin).path_param("id", &user_id),
        "update-user" => Event::v2("update-user")
            .bearer(&f.admin)
            .path_param("id", &user_id)
            .json_body(&json!({ "name": format!("Renamed {n}") })),
        "delete-user" => {
            let victim = insert_user(&f.app, 2, &unique_cellnumber("+17", n), "victim-password").await;
            Event::v2("delete-user").bearer(&f.admin).path_param("id", &victim.to_string())
        }
        "update-me" => Event::v2("update-me")
            .bearer(&f.user)
            .json_body(&json!({ "name": format!("Myself {n}") })),
        "list-audit" => Event::v2("list-audit").bearer(&f.admin),
        "docs" => Event::v2("docs"),
        // A method the path does not have: 405 with Allow.
        "fallback" => Event::v2("fallback"),
        "migrate" => return Some(json!({ "action": "migrate" }).to_string()),
        _ => return None,
    };
    Some(event.to_json())
}

/// Whether `function` answered its request from `event_for` as it should.
pub fn answered_as_meant(function: &str, status: u16) -> bool {
    match function {
        "fallback" => status == 405,
        _ => status < 400,
    }
}

/// A cellnumber no other request of this run uses.
fn unique_cellnumber(prefix: &str, n: usize) -> String {
    format!(
        "{prefix}{:03}{:08}",
        std::process::id() % 1000,
        n % 100_000_000
    )
}

/// Calls `function`'s handler with `event` on `app`, as the runtime would; `None` for a function
/// the bench does not link (it needs a line in bench/Cargo.toml and one here).
pub async fn dispatch(app: &App, function: &str, event: Event) -> Option<Answer> {
    Some(match function {
        "get-me" => call!(get_me, app, event),
        "refresh-token" => call!(refresh_token, app, event),
        "list-sessions" => call!(list_sessions, app, event),
        "delete-session" => call!(delete_session, app, event),
        "revoke-user-sessions" => call!(revoke_user_sessions, app, event),
        "change-password" => call!(change_password, app, event),
        "get-user" => call!(get_user, app, event),
        "list-users" => call!(list_users, app, event),
        "update-user" => call!(update_user, app, event),
        "create-user" => call!(create_user, app, event),
        "delete-user" => call!(delete_user, app, event),
        "logout" => call!(logout, app, event),
        "login" => call!(login, app, event),
        "update-me" => call!(update_me, app, event),
        "list-audit" => call!(list_audit, app, event),
        "docs" => Answer::from_response(docs::handler(event.request()).await.unwrap()),
        "fallback" => {
            Answer::from_response(fallback::handler(event.request(), false).await.unwrap())
        }
        _ => return None,
    })
}

/// Request `n` of `function`, made and answered in process; `None` when the bench has no request
/// for it or does not link it.
pub async fn call_in_process(f: &Fixture, app: &App, function: &str, n: usize) -> Option<Answer> {
    let event = Event::from_json(&event_for(f, function, n).await?);
    dispatch(app, function, event).await
}
