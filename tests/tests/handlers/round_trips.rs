//! MySQL round trips per endpoint, counted at the wire by a proxy, so a change that adds a query
//! to a hot path fails here. (Timings are `make bench`'s business, never a test's.)

use api_tests::round_trips::RoundTripProxy;
use api_tests::{call, fixture, insert_user, test_app_with, token, Answer, Event, Fixture};
use serde_json::json;
use shared::App;

/// The fixture, and an app of its own whose every query goes through the counting proxy.
struct Counted {
    fixture: Fixture,
    app: App,
    proxy: RoundTripProxy,
}

async fn counted() -> Counted {
    counted_with(&[]).await
}

/// [`counted`], the counted app configured with `extra` too.
async fn counted_with(extra: &[(&'static str, &str)]) -> Counted {
    let fixture = fixture().await;
    let server = api_tests::server_url();
    let upstream = server.rsplit('@').next().unwrap().to_owned();
    let proxy = RoundTripProxy::start(upstream).await;
    let url = format!("mysql://root@127.0.0.1:{}/{}", proxy.port, fixture.db.name);
    let mut overrides = extra.to_vec();
    overrides.push(("DATABASE_URL", &url));
    let app = test_app_with(&fixture.db, &overrides);
    Counted {
        fixture,
        app,
        proxy,
    }
}

impl Counted {
    /// Round trips of the second of two identical calls: the first prepares the statements of
    /// the connection (once per connection, as in a warm Lambda instance).
    async fn round_trips<F, Fut>(&self, mut request: F) -> u64
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Answer>,
    {
        request().await;
        settle().await;
        self.proxy.reset();
        let answer = request().await;
        assert!(answer.status < 500, "{}", answer.body);
        self.proxy.round_trips()
    }
}

/// Lets the pool take back the connection the last request dropped (it does so on its own task),
/// as it has long done between two requests to a Lambda instance.
async fn settle() {
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
}

#[tokio::test]
async fn reads_cost_one_round_trip() {
    let c = counted().await;
    let me = c
        .round_trips(|| async {
            call!(get_me, &c.app, Event::v2("get-me").bearer(&c.fixture.user))
        })
        .await;
    assert_eq!(
        me, 1,
        "GET /api/users/me: token check and user row in one query"
    );
    let own = c
        .round_trips(|| async {
            call!(
                get_user,
                &c.app,
                Event::v2("get-user")
                    .bearer(&c.fixture.user)
                    .path_param("id", &c.fixture.user_id.to_string())
            )
        })
        .await;
    assert_eq!(own, 1, "GET /api/users/{{own id}}");
    let other = c
        .round_trips(|| async {
            call!(
                get_user,
                &c.app,
                Event::v2("get-user")
                    .bearer(&c.fixture.admin)
                    .path_param("id", &c.fixture.user_id.to_string())
            )
        })
        .await;
    assert_eq!(
        other, 1,
        "GET /api/users/{{id}} by an admin: read with the token check"
    );
    let list = c
        .round_trips(|| async {
            call!(
                list_users,
                &c.app,
                Event::v2("list-users").bearer(&c.fixture.admin)
            )
        })
        .await;
    assert_eq!(
        list, 2,
        "GET /api/users: the page and its total in one query"
    );
    let search = c
        .round_trips(|| async {
            call!(
                list_users,
                &c.app,
                Event::v2("list-users")
                    .bearer(&c.fixture.admin)
                    .query("q=user&roleId=2&isActive=true&sort=-name&limit=10")
            )
        })
        .await;
    assert_eq!(
        search, 2,
        "GET /api/users?q=...: the filtered page and its total in one query"
    );
    let audit = c
        .round_trips(|| async {
            call!(
                list_audit,
                &c.app,
                Event::v2("list-audit")
                    .bearer(&c.fixture.admin)
                    .query("action=login.succeeded")
            )
        })
        .await;
    assert_eq!(
        audit, 2,
        "GET /api/audit: token check, the page and its total"
    );
    let refused = c
        .round_trips(|| async {
            call!(
                list_users,
                &c.app,
                Event::v2("list-users").bearer(&c.fixture.user)
            )
        })
        .await;
    assert_eq!(refused, 1, "a 403 costs only the token check");
    let no_token = c
        .round_trips(|| async { call!(get_me, &c.app, Event::v2("get-me")) })
        .await;
    assert_eq!(
        no_token, 0,
        "a request without a valid token never reaches the database"
    );
}

#[tokio::test]
async fn writes_cost_what_their_atomicity_needs() {
    let c = counted().await;
    let mut n = 0u32;
    let create = c
        .round_trips(|| {
            n += 1;
            let body = json!({ "name": "N", "cellnumber": format!("+1555777{n:04}"), "password": "password-123" });
            let admin = c.fixture.admin.clone();
            let app = &c.app;
            async move { call!(create_user, app, Event::v2("create-user").bearer(&admin).json_body(&body)) }
        })
        .await;
    assert_eq!(create, 2, "POST /api/users: token check and insert");

    let patch = c
        .round_trips(|| async {
            let event = Event::v2("update-user")
                .bearer(&c.fixture.admin)
                .path_param("id", &c.fixture.user_id.to_string())
                .json_body(&json!({ "name": "Renamed" }));
            call!(update_user, &c.app, event)
        })
        .await;
    assert_eq!(
        patch, 2,
        "PATCH /api/users/{{id}}: token check with the row, conditional update and its event in \
         one batch"
    );
    let own = c
        .round_trips(|| async {
            let event = Event::v2("update-me")
                .bearer(&c.fixture.user)
                .json_body(&json!({ "name": "Myself" }));
            call!(update_me, &c.app, event)
        })
        .await;
    assert_eq!(
        own, 2,
        "PATCH /api/users/me: token check with the row, conditional update and its event"
    );

    // From an address the user signed in from before (the first of the two calls makes it one).
    let logins = c
        .round_trips(|| async { api_tests::login(&c.app, "+15550000002", "user-password-2").await })
        .await;
    assert_eq!(
        logins, 5,
        "login from a known address: attempt counted for the address (before bcrypt, with the \
         known-address lookup), user, the session, its token, its event and the known address \
         in one batch, throttle reset, expired-row clean-up"
    );
    let failed = c
        .round_trips(|| async { api_tests::login(&c.app, "+15550000002", "wrong-password").await })
        .await;
    assert_eq!(
        failed, 3,
        "failed login from a known address: attempt counted, user, its event with the \
         expired-row clean-up"
    );
    let mut n = 0u32;
    let mut from_new_address = |password: &'static str| {
        n += 1;
        let (app, address) = (&c.app, format!("198.51.100.{n}"));
        async move { api_tests::login_from(app, "+15550000002", password, &address).await }
    };
    let logins = c.round_trips(|| from_new_address("user-password-2")).await;
    assert_eq!(
        logins, 6,
        "login from a new address: attempt counted for the address, then for every cellnumber \
         and every address (before bcrypt), user, the session batch, throttle reset, clean-up"
    );
    let failed = c.round_trips(|| from_new_address("wrong-password")).await;
    assert_eq!(
        failed, 4,
        "failed login from a new address: attempt counted for the address, then for every \
         cellnumber and every address, user, its event with the expired-row clean-up"
    );

    let own = c
        .round_trips(|| async {
            let event = Event::v2("update-me")
                .bearer(&c.fixture.user)
                .json_body(&json!({ "name": "Myself" }));
            call!(update_me, &c.app, event)
        })
        .await;
    assert_eq!(
        own, 2,
        "PATCH /api/users/me: token check with the row, conditional update and its event"
    );

    let logout = c
        .round_trips(|| async {
            let session = token(&c.app, "+15550000002", "user-password-2").await;
            settle().await;
            c.proxy.reset();
            call!(logout, &c.app, Event::v2("logout").bearer(&session))
        })
        .await;
    assert_eq!(logout, 2, "logout: token check and ending the session");

    let mut victims = Vec::new();
    for n in 0..2 {
        victims.push(insert_user(&c.app, 2, &format!("+155500009{n:02}"), "victim-password").await);
    }
    let delete = c
        .round_trips(|| {
            let id = victims.pop().unwrap().to_string();
            let admin = c.fixture.admin.clone();
            let app = &c.app;
            async move {
                call!(
                    delete_user,
                    app,
                    Event::v2("delete-user")
                        .bearer(&admin)
                        .path_param("id", &id)
                )
            }
        })
        .await;
    assert_eq!(
        delete, 2,
        "DELETE /api/users/{{id}} of a normal user: token check, delete and its event in one batch"
    );

    let reset = c
        .round_trips(|| async {
            let event = Event::v2("update-user")
                .bearer(&c.fixture.admin)
                .path_param("id", &c.fixture.user_id.to_string())
                .json_body(&json!({ "password": "user-password-2" }));
            call!(update_user, &c.app, event)
        })
        .await;
    assert_eq!(
        reset, 7,
        "PATCH with a password: token check, then under lock the row, update, its tokens, its \
         event, begin and commit"
    );
    let disable = c
        .round_trips(|| async {
            // Enabled first (the optimistic path), so that every disable is a real one.
            let patch = |body| {
                Event::v2("update-user")
                    .bearer(&c.fixture.admin)
                    .path_param("id", &c.fixture.user_id.to_string())
                    .json_body(&body)
            };
            call!(update_user, &c.app, patch(json!({ "isActive": true })));
            settle().await;
            c.proxy.reset();
            call!(update_user, &c.app, patch(json!({ "isActive": false })))
        })
        .await;
    assert_eq!(
        disable, 9,
        "PATCH disabling a user: token check, then under lock the active admins (read, lock), \
         the row, update, its tokens, its event, begin and commit"
    );
}

#[tokio::test]
async fn sessions_cost_what_me_costs_or_one_more() {
    let c = counted().await;
    let grants = std::sync::Mutex::new(Vec::new());
    for _ in 0..2 {
        let grant = api_tests::login(&c.fixture.app, "+15550000002", "user-password-2").await;
        grants.lock().unwrap().push(grant.body);
    }
    let refresh = c
        .round_trips(|| {
            let grant = grants.lock().unwrap().pop().unwrap();
            let app = &c.app;
            async move {
                let body = json!({ "refreshToken": grant["refreshToken"] });
                call!(
                    refresh_token,
                    app,
                    Event::v2("refresh-token").json_body(&body)
                )
            }
        })
        .await;
    assert_eq!(
        refresh, 2,
        "refresh: the session by its refresh hash (with the user's role); the conditional \
         rotation and the new access token in one transaction"
    );

    let listed = c
        .round_trips(|| async {
            call!(
                list_sessions,
                &c.app,
                Event::v2("list-sessions").bearer(&c.fixture.user)
            )
        })
        .await;
    assert_eq!(
        listed, 2,
        "GET /api/users/me/sessions: token check and the list"
    );

    let mut sessions = Vec::new();
    for _ in 0..2 {
        let grant = api_tests::login(&c.fixture.app, "+15550000002", "user-password-2").await;
        sessions.push(grant.body["sessionId"].as_str().unwrap().to_owned());
    }
    let ended = c
        .round_trips(|| {
            let id = sessions.pop().unwrap();
            let (app, user) = (&c.app, c.fixture.user.clone());
            async move {
                call!(
                    delete_session,
                    app,
                    Event::v2("delete-session")
                        .bearer(&user)
                        .path_param("sessionId", &id)
                )
            }
        })
        .await;
    assert_eq!(
        ended, 2,
        "DELETE /api/users/me/sessions/{{id}}: token check and the update"
    );

    let revoked = c
        .round_trips(|| async {
            call!(
                revoke_user_sessions,
                &c.app,
                Event::v2("revoke-user-sessions")
                    .bearer(&c.fixture.admin)
                    .path_param("id", &c.fixture.user_id.to_string())
            )
        })
        .await;
    assert_eq!(
        revoked, 2,
        "DELETE /api/users/{{id}}/sessions: token check with the user, the update"
    );
}

#[tokio::test]
async fn recovery_by_sms_costs_the_same_for_every_number_and_a_bounded_reset() {
    let outbox = std::env::temp_dir().join(format!(
        "users-api-outbox-round-trips-{}.jsonl",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&outbox);
    let c = counted_with(&[
        (
            "MFA_KEYS",
            "k1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=",
        ),
        ("SMS_OUTBOX", outbox.to_str().unwrap()),
        ("SMS_RESEND_SECONDS", "0"),
        ("SMS_MAX_PER_NUMBER_PER_DAY", "100"),
    ])
    .await;
    let forgot = |cellnumber: &'static str| {
        let app = &c.app;
        async move {
            let body = json!({ "cellnumber": cellnumber });
            call!(
                forgot_password,
                app,
                Event::v2("forgot-password").json_body(&body)
            )
        }
    };
    let known = c.round_trips(|| forgot("+15550000002")).await;
    let unknown = c.round_trips(|| forgot("+15559999999")).await;
    assert_eq!(
        (known, unknown),
        (2, 2),
        "POST /api/users/password/forgot, known or not: the limits counted, the text claimed, \
         the code stored and its event in one transaction; the clean-up of stale rows"
    );

    let reset = |code: String| {
        let app = &c.app;
        async move {
            let body = json!({
                "cellnumber": "+15550000002", "code": code, "newPassword": "user-password-2"
            });
            call!(
                reset_password,
                app,
                Event::v2("reset-password").json_body(&body)
            )
        }
    };
    let wrong = c.round_trips(|| reset("000000".to_owned())).await;
    assert_eq!(
        wrong, 1,
        "a wrong code: the try taken with the code read, in one transaction"
    );
    let right = c
        .round_trips(|| async {
            assert_eq!(forgot("+15550000002").await.status, 202);
            let code = api_tests::texts::last_code(&outbox, "+15550000002");
            settle().await;
            c.proxy.reset();
            let answer = reset(code).await;
            assert_eq!(answer.status, 204, "{}", answer.body);
            answer
        })
        .await;
    assert_eq!(
        right, 8,
        "the right code: the try taken with the code read; then begin, the password, the code \
         spent, the sessions ended, the failed logins cleared, the event, commit"
    );
}
