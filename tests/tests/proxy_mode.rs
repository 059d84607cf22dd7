//! Proxy mode (`DB_PROXY=on`): the session settings of each mode, and what the served API's
//! connections send, as MariaDB's general log records it. (The literals the text statements
//! carry are proven against the server in `charset.rs`.)

use api_tests::serve::Served;
use api_tests::{app_with, insert_user, server_url, test_env, TestDb};
use mysql_async::prelude::Queryable;
use serde_json::json;
use shared::db::statements::Statements;

/// A connection to the test server that selects no database.
async fn server_conn() -> Result<mysql_async::Conn, mysql_async::Error> {
    mysql_async::Conn::new(mysql_async::Opts::from_url(&server_url()).unwrap()).await
}

#[tokio::test]
async fn direct_sessions_bound_their_idle_time_and_proxy_sessions_set_nothing() {
    let db = TestDb::new().await;
    let direct = app_with(
        &db.url,
        &[
            ("DB_PROXY", "off"),
            ("DB_IDLE_TIMEOUT_SECONDS", "123"),
            ("REQUEST_TIMEOUT_MS", "4000"),
        ],
    );
    let mut conn = direct.conn().await.unwrap();
    let settings: Option<(u64, u64)> = conn
        .first(
            "SELECT @@SESSION.wait_timeout, @@SESSION.innodb_lock_wait_timeout",
            (),
        )
        .await
        .unwrap();
    assert_eq!(settings, Some((123, 2)));

    let proxied = app_with(
        &db.url,
        &[("DB_PROXY", "on"), ("DB_IDLE_TIMEOUT_SECONDS", "123")],
    );
    let mut conn = proxied.conn().await.unwrap();
    let same_as_server: Option<(u8, u8)> = conn
        .first(
            "SELECT @@SESSION.wait_timeout = @@GLOBAL.wait_timeout, \
             @@SESSION.innodb_lock_wait_timeout = @@GLOBAL.innodb_lock_wait_timeout",
            (),
        )
        .await
        .unwrap();
    assert_eq!(same_as_server, Some((1, 1)));
}

/// What MariaDB's general log recorded of the connections to `database` opened while it was on.
async fn logged_statements(admin: &mut mysql_async::Conn, database: &str) -> Vec<(String, String)> {
    let threads: Vec<u64> = admin
        .exec(
            "SELECT thread_id FROM mysql.general_log \
             WHERE command_type = 'Connect' AND argument LIKE ?",
            (format!("% on {database} %"),),
        )
        .await
        .unwrap();
    let mut statements = Vec::new();
    for thread in threads {
        let rows: Vec<(String, Vec<u8>)> = admin
            .exec(
                "SELECT command_type, argument FROM mysql.general_log WHERE thread_id = ? \
                 ORDER BY event_time",
                (thread,),
            )
            .await
            .unwrap();
        statements.extend(
            rows.into_iter()
                .map(|(command, argument)| (command, String::from_utf8_lossy(&argument).into())),
        );
    }
    statements
}

/// Turns the server's general log on (into `mysql.general_log`) while it lives.
struct GeneralLog {
    runtime_handle: tokio::runtime::Handle,
}

impl GeneralLog {
    async fn on(admin: &mut mysql_async::Conn) -> Self {
        admin
            .query_drop("SET GLOBAL log_output = 'TABLE'")
            .await
            .unwrap();
        admin
            .query_drop("SET GLOBAL general_log = 1")
            .await
            .unwrap();
        Self {
            runtime_handle: tokio::runtime::Handle::current(),
        }
    }
}

impl Drop for GeneralLog {
    fn drop(&mut self) {
        let handle = self.runtime_handle.clone();
        std::thread::spawn(move || {
            handle.block_on(async {
                if let Ok(mut admin) = server_conn().await {
                    let _ = admin.query_drop("SET GLOBAL general_log = 0").await;
                }
            })
        })
        .join()
        .ok();
    }
}

/// A statement that would pin a session behind RDS Proxy, or leave state on it.
fn pins(command: &str, argument: &str) -> Option<&'static str> {
    let upper = argument.trim_start().to_ascii_uppercase();
    if [
        "Prepare",
        "Execute",
        "Close stmt",
        "Reset stmt",
        "Long Data",
    ]
    .contains(&command)
    {
        return Some("a prepared statement");
    }
    if command != "Query" {
        return None;
    }
    // `@name`, but not a system variable (`@@name`) nor the `@` of an e-mail address.
    let user_variable = argument.char_indices().any(|(at, c)| {
        c == '@'
            && !argument[at + 1..].starts_with('@')
            && !argument[..at].ends_with(|p: char| p.is_alphanumeric() || "@'._-+".contains(p))
    });
    let checks = [
        (
            upper.starts_with("SET ") && !upper.starts_with("SET TRANSACTION"),
            "a session SET",
        ),
        (user_variable, "a user variable"),
        (
            upper.contains("GET_LOCK") || upper.contains("LOCK TABLE"),
            "a lock",
        ),
        (upper.contains("TEMPORARY"), "a temporary table"),
        (
            ["FOUND_ROWS", "ROW_COUNT", "LAST_INSERT_ID"]
                .iter()
                .any(|function| upper.contains(function)),
            "a function of the session's last statement",
        ),
        (
            argument.contains("/*!") || argument.contains("/*M!"),
            "an executable comment",
        ),
        (argument.len() > 16 * 1024, "a statement over 16 KB"),
    ];
    checks
        .into_iter()
        .find_map(|(found, what)| found.then_some(what))
}

#[test]
fn proxy_mode_sends_no_prepared_statement_and_no_session_state_over_every_route() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let db = runtime.block_on(TestDb::new());
    let setup = app_with(&db.url, &[]);
    runtime.block_on(async {
        insert_user(&setup, 1, "+15550000001", "admin-password-1").await;
        insert_user(&setup, 2, "+15550000002", "user-password-2").await;
        setup.pool.current().disconnect().await.unwrap();
    });
    let mut env = test_env(&db);
    env.retain(|(name, _)| *name != "DB_PROXY");
    env.push(("DB_PROXY", "on".to_owned()));
    let mut admin_conn = runtime.block_on(async { server_conn().await.unwrap() });
    let log = runtime.block_on(GeneralLog::on(&mut admin_conn));
    let server = Served::start(&env);

    let admin = server.login("+15550000001", "admin-password-1").body;
    let admin_token = admin["token"].as_str().unwrap().to_owned();
    let user = server.login("+15550000002", "user-password-2").body;
    let second = server.login("+15550000002", "user-password-2").body;
    let wrong = server.login("+15550000002", "not-the-password");
    assert_eq!(wrong.status, 401);
    let renewed = server.call(
        "POST",
        "/api/users/token/refresh",
        None,
        Some(&json!({ "refreshToken": user["refreshToken"] })),
    );
    assert_eq!(renewed.status, 200, "{}\n{}", renewed.body, server.logs());
    let user_token = renewed.body["token"].as_str().unwrap().to_owned();
    let call = |method: &str, path: &str, token: &str, body: Option<serde_json::Value>| {
        let answer = server.call(method, path, Some(token), body.as_ref());
        assert!(
            answer.status < 300,
            "{method} {path}: {} {}\n{}",
            answer.status,
            answer.body,
            server.logs()
        );
        answer
    };
    call("GET", "/api/users/me", &user_token, None);
    call(
        "PATCH",
        "/api/users/me",
        &user_token,
        Some(json!({ "name": "O'Brien \\ \"quoted\" ?" })),
    );
    call("GET", "/api/users/me/sessions", &user_token, None);
    let second_session = second["sessionId"].as_str().unwrap();
    call(
        "DELETE",
        &format!("/api/users/me/sessions/{second_session}"),
        &user_token,
        None,
    );
    call(
        "POST",
        "/api/users/me/password",
        &user_token,
        Some(json!({ "currentPassword": "user-password-2", "newPassword": "user-password-3" })),
    );
    let created = call(
        "POST",
        "/api/users",
        &admin_token,
        Some(
            json!({ "name": "Ada '; DROP TABLE users; --", "cellnumber": "+15550000003",
                     "password": "ada-password-1", "email": "ada@example.com" }),
        ),
    );
    let id = created.body["id"].as_u64().unwrap();
    call(
        "GET",
        "/api/users?q=%27%5C%25_&sort=name",
        &admin_token,
        None,
    );
    call("GET", &format!("/api/users/{id}"), &admin_token, None);
    call(
        "PATCH",
        &format!("/api/users/{id}"),
        &admin_token,
        Some(json!({ "isActive": false })),
    );
    call(
        "DELETE",
        &format!("/api/users/{id}/sessions"),
        &admin_token,
        None,
    );
    call("GET", "/api/audit?limit=5", &admin_token, None);
    call("DELETE", &format!("/api/users/{id}"), &admin_token, None);
    call("POST", "/api/users/logout?scope=global", &user_token, None);
    assert_eq!(server.call("GET", "/docs", None, None).status, 200);
    assert_eq!(server.call("GET", "/api/nothing", None, None).status, 404);

    let statements = runtime.block_on(async {
        let statements = logged_statements(&mut admin_conn, &db.name).await;
        drop(log);
        statements
    });
    let queries = statements.iter().filter(|(c, _)| c == "Query").count();
    assert!(
        queries >= 30,
        "the general log holds {queries} queries of the served functions: {statements:?}"
    );
    let offending: Vec<String> = statements
        .iter()
        .filter_map(|(command, argument)| {
            pins(command, argument).map(|what| format!("{what}: {command} {argument}"))
        })
        .collect();
    assert!(offending.is_empty(), "{}", offending.join("\n"));
}

#[test]
fn the_log_check_sees_what_direct_mode_sends() {
    let checks = [
        ("Prepare", "SELECT 1 FROM users WHERE id = ?", true),
        ("Execute", "SELECT 1 FROM users WHERE id = 1", true),
        (
            "Query",
            "SET SESSION innodb_lock_wait_timeout = 2, wait_timeout = 300",
            true,
        ),
        ("Query", "SET @a = 1", true),
        ("Query", "SELECT @a", true),
        ("Query", "DO GET_LOCK('x', 1)", true),
        (
            "Query",
            "INSERT INTO a SELECT 1 FROM DUAL WHERE ROW_COUNT() = 1",
            true,
        ),
        (
            "Query",
            "SET TRANSACTION ISOLATION LEVEL READ COMMITTED",
            false,
        ),
        ("Query", "START TRANSACTION", false),
        ("Query", "SELECT @@SESSION.wait_timeout", false),
        (
            "Query",
            "INSERT INTO users (email) VALUES ('ada@example.com')",
            false,
        ),
        ("Query", shared::db::session_charset::QUERY, false),
    ];
    for (command, argument, pinning) in checks {
        assert_eq!(
            pins(command, argument).is_some(),
            pinning,
            "{command} {argument}"
        );
    }
}
