//! SQL text that means the same in every session: the literals against the real server in every
//! multi-byte character set that can swallow a backslash and in both backslash rules, the attack
//! of a quote after such a character through every write route, and servers that put the
//! session in GBK (`--skip-character-set-client-handshake`, `init_connect`), which the app
//! refuses to use. `DB_PROXY=on` runs the routes again in text mode.

use api_tests::mariadb::PrivateMariaDb;
use api_tests::{app_with, insert_user, login_from, server_url, Answer, Event, TestDb};
use api_tests::{ADMIN_CELL, ADMIN_PASS, USER_CELL, USER_PASS};
use mysql_async::prelude::Queryable;
use mysql_async::Value;
use serde_json::json;
use shared::db::statements::literal;
use shared::App;

/// The character sets in which 0x5C can be the second byte of a character.
const SWALLOWING_CHARSETS: [&str; 5] = ["gbk", "big5", "sjis", "cp932", "gb18030"];

/// [`SWALLOWING_CHARSETS`] the server knows (MariaDB has GB18030 from 11.3 on).
async fn swallowing_charsets(conn: &mut mysql_async::Conn) -> Vec<&'static str> {
    let known: Vec<String> = conn
        .query("SELECT character_set_name FROM information_schema.character_sets")
        .await
        .unwrap();
    let charsets: Vec<&str> = SWALLOWING_CHARSETS
        .into_iter()
        .filter(|charset| known.iter().any(|name| name == charset))
        .collect();
    assert!(charsets.len() >= 4, "the server knows {known:?}");
    charsets
}

/// A session's `sql_mode`: the server's, without and with `NO_BACKSLASH_ESCAPES`.
fn sql_mode_statement(no_backslash_escapes: bool) -> &'static str {
    if no_backslash_escapes {
        "SET SESSION sql_mode = CONCAT_WS(',', NULLIF(@@GLOBAL.sql_mode, ''), 'NO_BACKSLASH_ESCAPES')"
    } else {
        "SET SESSION sql_mode = REPLACE(@@GLOBAL.sql_mode, 'NO_BACKSLASH_ESCAPES', '')"
    }
}

/// A character whose UTF-8 form ends in a byte that `charset` reads as the first of two, so the
/// backslash an escaping function writes after it becomes part of it: 丁 (E4 B8 81) for the
/// charsets whose lead bytes include 0x81, 両 (E4 B8 A1) for Big5, whose lead bytes start at 0xA1.
fn swallowing_char(charset: &str) -> char {
    if charset == "big5" {
        '両'
    } else {
        '丁'
    }
}

async fn server_conn() -> mysql_async::Conn {
    mysql_async::Conn::new(mysql_async::Opts::from_url(&server_url()).unwrap())
        .await
        .unwrap()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02X}")).collect()
}

/// Every byte alone, every pair of the bytes that matter to quoting, seeded random byte strings,
/// strings of the special characters, and every character of the Basic Multilingual Plane
/// followed by a quote and a backslash.
fn hostile_values() -> Vec<Vec<u8>> {
    let mut values: Vec<Vec<u8>> = (0..=255u8).map(|byte| vec![byte]).collect();
    let special = b"\0\n\r\\'\"\x1a%_`?;-#/*\x7f\x80\x81\xa1\xc3\xe4\xff ";
    for &first in special {
        for &second in special {
            values.push(vec![first, second]);
        }
    }
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..1500 {
        let length = (next() % 24) as usize;
        values.push((0..length).map(|_| next() as u8).collect());
    }
    for _ in 0..500 {
        let length = (next() % 16) as usize;
        let text: String = (0..length)
            .map(|_| {
                let pick = next() as usize;
                [
                    '\'', '\\', '"', '\0', '\n', '\r', '\x1a', 'é', '𝄞', '丁', '両', '?',
                ][pick % 12]
            })
            .collect();
        values.push(text.into_bytes());
    }
    for c in (0x80..=0xffff).filter_map(char::from_u32) {
        values.push(format!("{c}'\\' OR 1=1 -- ").into_bytes());
    }
    values
}

/// Every value, as [`literal`] writes it, read back by the server as exactly its bytes and one
/// column each, in every swallowing character set (and utf8mb4) under both backslash rules; and,
/// so that the sessions are known to be the dangerous ones, the quote-and-backslash escaping used
/// before misreads the attack in each of them.
#[tokio::test]
async fn every_value_means_itself_in_every_charset_and_both_backslash_rules() {
    let mut conn = server_conn().await;
    let values = hostile_values();
    for charset in std::iter::once("utf8mb4").chain(swallowing_charsets(&mut conn).await) {
        for no_backslash_escapes in [false, true] {
            let session = format!("{charset}, NO_BACKSLASH_ESCAPES {no_backslash_escapes}");
            conn.query_drop(format!("SET NAMES {charset}"))
                .await
                .unwrap();
            conn.query_drop(sql_mode_statement(no_backslash_escapes))
                .await
                .unwrap();
            let seen: Option<(String, u8)> = conn
                .query_first(
                    "SELECT @@character_set_connection, \
                     FIND_IN_SET('NO_BACKSLASH_ESCAPES', @@sql_mode) > 0",
                )
                .await
                .unwrap();
            assert_eq!(
                seen,
                Some((charset.to_owned(), u8::from(no_backslash_escapes)))
            );
            for chunk in values.chunks(250) {
                let literals: Vec<String> = chunk
                    .iter()
                    .map(|value| literal(&Value::Bytes(value.clone())))
                    .collect();
                let columns: Vec<String> = literals
                    .iter()
                    .map(|text| format!("HEX({text}), CHARSET({text})"))
                    .collect();
                let rows: Vec<mysql_async::Row> = conn
                    .query(format!("SELECT {}", columns.join(", ")))
                    .await
                    .unwrap_or_else(|error| panic!("{session}: {error}"));
                assert_eq!(rows.len(), 1, "{session}");
                assert_eq!(rows[0].len(), 2 * chunk.len(), "{session}");
                for (at, value) in chunk.iter().enumerate() {
                    let back: String = rows[0].get(2 * at).unwrap();
                    let set: String = rows[0].get(2 * at + 1).unwrap();
                    let expected = if std::str::from_utf8(value).is_ok() {
                        "utf8mb4"
                    } else {
                        "binary"
                    };
                    assert_eq!(
                        (back.as_str(), set.as_str()),
                        (hex(value).as_str(), expected),
                        "{session}: {value:?} as {}",
                        literals[at]
                    );
                }
            }
            if charset != "utf8mb4" || no_backslash_escapes {
                // The old escaping, as a session probed under the default rule would use it.
                let attack = format!("{}' OR 1=1 -- ", swallowing_char(charset));
                let old = Value::from(attack.as_str()).as_sql(false);
                let misread: Result<Vec<mysql_async::Row>, _> =
                    conn.query(format!("SELECT HEX({old})")).await;
                let read_right = misread.is_ok_and(|rows| {
                    rows.len() == 1
                        && rows[0].len() == 1
                        && rows[0].get::<String, _>(0) == Some(hex(attack.as_bytes()))
                });
                assert!(
                    !read_right,
                    "{session}: the old escaping held; the test proves nothing"
                );
            }
        }
    }
}

/// An admin, a user and a third user the admin edits, and the tokens of the first two.
struct Parties {
    user_id: u64,
    victim_id: u64,
    admin: String,
    user: String,
    refresh: String,
}

async fn insert_parties(setup: &App) -> (u64, u64, u64) {
    let admin_id = insert_user(setup, 1, ADMIN_CELL, ADMIN_PASS).await;
    let user_id = insert_user(setup, 2, USER_CELL, USER_PASS).await;
    let victim_id = insert_user(setup, 2, "+15550000003", "victim-password-3").await;
    (admin_id, user_id, victim_id)
}

async fn sign_in(app: &App, ids: (u64, u64, u64)) -> Parties {
    let admin = login_from(app, ADMIN_CELL, ADMIN_PASS, "198.51.100.1").await;
    assert_eq!(admin.status, 200, "{}", admin.body);
    let user = login_from(app, USER_CELL, USER_PASS, "198.51.100.2").await;
    assert_eq!(user.status, 200, "{}", user.body);
    let text = |answer: &Answer, field: &str| answer.body[field].as_str().unwrap().to_owned();
    Parties {
        user_id: ids.1,
        victim_id: ids.2,
        admin: text(&admin, "token"),
        user: text(&user, "token"),
        refresh: text(&user, "refreshToken"),
    }
}

/// The attack in each form a route takes text: a name (any characters), a profile picture (a
/// URL, whose spaces become comments), an identifier. Had the quote closed the string, the rest
/// would make every user an admin.
struct Payloads {
    name: String,
    url: String,
}

impl Payloads {
    fn new(c: char) -> Self {
        Self {
            name: format!("{c}' WHERE 1;UPDATE users SET role_id=1;#"),
            url: format!(
                "https://example.com/{c}'/**/WHERE/**/1;UPDATE/**/users/**/SET/**/role_id=1;#"
            ),
        }
    }
}

/// What each write route answered, by name.
type Statuses = Vec<(&'static str, u16)>;

/// Checks after each call that the app used one connection, the one whose session was switched.
struct OneConnection {
    admin: mysql_async::Conn,
    database: String,
    id: u64,
}

impl OneConnection {
    async fn check(&mut self, label: &str) {
        settle().await;
        let connections = connections_to(&mut self.admin, &self.database).await;
        assert_eq!(
            connections,
            vec![self.id],
            "{label} did not run on the one connection whose session was switched"
        );
    }
}

/// `text` for a URL's path or query: every byte percent-encoded.
fn percent_encoded(text: &str) -> String {
    text.bytes().map(|byte| format!("%{byte:02X}")).collect()
}

/// Every write route once with the payloads in each text it takes, then once as it is meant to
/// be used. The last calls change the user's password and end the user's sessions.
async fn attack_every_write_route(
    app: &App,
    p: &Parties,
    payloads: &Payloads,
    mut one_connection: Option<&mut OneConnection>,
) -> Statuses {
    let mut statuses = Statuses::new();
    let name = payloads.name.as_str();
    let victim = p.victim_id.to_string();
    macro_rules! step {
        ($label:literal, $function:ident, $event:expr) => {{
            let answer = api_tests::call!($function, app, $event);
            statuses.push(($label, answer.status));
            if let Some(one) = one_connection.as_deref_mut() {
                one.check($label).await;
            }
            answer
        }};
    }
    step!(
        "login with the payload as cellnumber",
        login,
        Event::v2("login")
            .from_address("198.51.100.3")
            .json_body(&json!({ "cellnumber": name, "password": name }))
    );
    step!(
        "login with the payload as password",
        login,
        Event::v2("login")
            .from_address("198.51.100.3")
            .json_body(&json!({ "cellnumber": USER_CELL, "password": name }))
    );
    let second = step!(
        "login",
        login,
        Event::v2("login")
            .from_address("198.51.100.4")
            .json_body(&json!({ "cellnumber": USER_CELL, "password": USER_PASS }))
    );
    let second_session = second.body["sessionId"]
        .as_str()
        .unwrap_or("no-session")
        .to_owned();
    step!(
        "refresh with the payload",
        refresh_token,
        Event::v2("refresh-token").json_body(&json!({ "refreshToken": name }))
    );
    step!(
        "refresh",
        refresh_token,
        Event::v2("refresh-token").json_body(&json!({ "refreshToken": p.refresh }))
    );
    step!(
        "update-me",
        update_me,
        Event::v2("update-me")
            .bearer(&p.user)
            .json_body(&json!({ "name": name, "profilepic": payloads.url }))
    );
    step!(
        "update-user",
        update_user,
        Event::v2("update-user")
            .bearer(&p.admin)
            .path_param("id", &victim)
            .json_body(&json!({ "name": name, "profilepic": payloads.url }))
    );
    let created = step!(
        "create-user",
        create_user,
        Event::v2("create-user").bearer(&p.admin).json_body(&json!({
            "name": name, "cellnumber": "+15550000009", "password": "created-password-9",
            "email": "created@example.com", "profilepic": payloads.url, "roleId": 2
        }))
    );
    let created_id = created.body["id"]
        .as_u64()
        .map_or_else(|| "999999".to_owned(), |id| id.to_string());
    step!(
        "delete-user with the payload",
        delete_user,
        Event::v2("delete-user")
            .bearer(&p.admin)
            .path_param("id", &percent_encoded(name))
    );
    step!(
        "delete-user",
        delete_user,
        Event::v2("delete-user")
            .bearer(&p.admin)
            .path_param("id", &created_id)
    );
    step!(
        "delete-session with the payload",
        delete_session,
        Event::v2("delete-session")
            .bearer(&p.user)
            .path_param("sessionId", &percent_encoded(name))
    );
    step!(
        "revoke-user-sessions with the payload",
        revoke_user_sessions,
        Event::v2("revoke-user-sessions")
            .bearer(&p.admin)
            .path_param("id", &percent_encoded(name))
    );
    step!(
        "revoke-user-sessions",
        revoke_user_sessions,
        Event::v2("revoke-user-sessions")
            .bearer(&p.admin)
            .path_param("id", &victim)
    );
    step!(
        "delete-session",
        delete_session,
        Event::v2("delete-session")
            .bearer(&p.user)
            .path_param("sessionId", &second_session)
    );
    step!(
        "change-password with the payload as current password",
        change_password,
        Event::v2("change-password")
            .bearer(&p.user)
            .json_body(&json!({ "currentPassword": name, "newPassword": "another-password-1" }))
    );
    step!(
        "change-password to the payload",
        change_password,
        Event::v2("change-password")
            .bearer(&p.user)
            .json_body(&json!({ "currentPassword": USER_PASS, "newPassword": name }))
    );
    step!(
        "logout with the payload as scope",
        logout,
        Event::v2("logout")
            .bearer(&p.admin)
            .query(&format!("scope={}", percent_encoded(name)))
    );
    step!(
        "logout",
        logout,
        Event::v2("logout").bearer(&p.admin).query("scope=global")
    );
    statuses
}

/// `id, role_id, is_active, cellnumber, email, HEX(name), HEX(profilepic)` of every user.
type UserRow = (u64, u8, u8, String, String, String, Option<String>);

async fn users_of(conn: &mut mysql_async::Conn, database: &str) -> Vec<UserRow> {
    conn.query(format!(
        "SELECT id, role_id, is_active, cellnumber, email, HEX(name), HEX(profilepic) \
         FROM `{database}`.users ORDER BY id"
    ))
    .await
    .unwrap()
}

/// The IDs of the connections to `database`.
async fn connections_to(admin: &mut mysql_async::Conn, database: &str) -> Vec<u64> {
    admin
        .exec(
            "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = ? ORDER BY ID",
            (database,),
        )
        .await
        .unwrap()
}

/// Lets the pool take back the connection a request dropped (on its own task).
async fn settle() {
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
}

/// How much of the session is switched to the other character set.
#[derive(Debug, Clone, Copy)]
enum Switched {
    /// `SET NAMES`: statements are read in it and answers sent in it (what a server that
    /// ignores the client's character set, or `init_connect`, does). Reading back a name that
    /// holds a multi-byte character then fails, so some routes stop early with a 500.
    Names,
    /// Only `character_set_client` and `character_set_connection`: statements are read in it,
    /// answers still come in utf8mb4, so every route runs to its end.
    Statements,
}

/// The switch of a session to `charset` as `switched` says, under the backslash rule given.
fn switch_statements(charset: &str, switched: Switched, no_backslash_escapes: bool) -> [String; 2] {
    let names = match switched {
        Switched::Names => format!("SET NAMES {charset}"),
        Switched::Statements => format!(
            "SET SESSION character_set_client = {charset}, character_set_connection = {charset}"
        ),
    };
    [names, sql_mode_statement(no_backslash_escapes).to_owned()]
}

/// The routes' own statements under every swallowing character set and both backslash rules:
/// the app's one connection passes the check at connect (utf8mb4), then its session is switched
/// the way a server or a proxy could, and every write route is attacked through its handler. The
/// attack changes nothing but the fields it was written into, which hold it exactly. Each call is
/// checked to have run on that connection and no other.
#[tokio::test]
async fn the_attack_through_every_write_route_changes_only_its_fields_in_any_session() {
    let mut admin = server_conn().await;
    let charsets = swallowing_charsets(&mut admin).await;
    let mut sessions = Vec::new();
    for charset in charsets.into_iter().chain(["utf8mb4"]) {
        for switched in [Switched::Names, Switched::Statements] {
            for no_backslash_escapes in [false, true] {
                if charset != "utf8mb4"
                    || (no_backslash_escapes && matches!(switched, Switched::Names))
                {
                    sessions.push((charset, switched, no_backslash_escapes));
                }
            }
        }
    }
    for (charset, switched, no_backslash_escapes) in sessions {
        let session =
            format!("{charset} ({switched:?}), NO_BACKSLASH_ESCAPES {no_backslash_escapes}");
        let db = TestDb::new().await;
        let setup = app_with(&db.url, &[]);
        let ids = insert_parties(&setup).await;
        let parties = sign_in(&setup, ids).await;
        setup.pool.current().disconnect().await.unwrap();
        let before = users_of(&mut admin, &db.name).await;

        let app = app_with(&db.url, &[]);
        let forced = {
            let mut conn = app.pool.get_conn().await.unwrap();
            for statement in switch_statements(charset, switched, no_backslash_escapes) {
                conn.query_drop(statement).await.unwrap();
            }
            u64::from(conn.id())
        };
        settle().await;
        let payloads = Payloads::new(swallowing_char(charset));
        let mut one = OneConnection {
            admin: server_conn().await,
            database: db.name.clone(),
            id: forced,
        };
        let statuses = attack_every_write_route(&app, &parties, &payloads, Some(&mut one)).await;
        let mut conn = app.pool.get_conn().await.unwrap();
        let still: Option<(u32, String, u8)> = conn
            .query_first(
                "SELECT CONNECTION_ID(), @@character_set_connection, \
                 FIND_IN_SET('NO_BACKSLASH_ESCAPES', @@sql_mode) > 0",
            )
            .await
            .unwrap();
        assert_eq!(
            still,
            Some((
                forced as u32,
                charset.to_owned(),
                u8::from(no_backslash_escapes)
            )),
            "{session}"
        );
        drop(conn);
        app.pool.current().disconnect().await.unwrap();

        let name = hex(payloads.name.as_bytes());
        let url = Some(hex(payloads.url.as_bytes()));
        let expected: Vec<UserRow> = before
            .iter()
            .map(|row| {
                let mut row = row.clone();
                if row.0 == parties.user_id || row.0 == parties.victim_id {
                    (row.5, row.6) = (name.clone(), url.clone());
                }
                row
            })
            .collect();
        let mut after = users_of(&mut admin, &db.name).await;
        // The user created on the way, when answers in the other character set stopped its
        // deletion: as created, with the payloads as name and picture.
        if let Some(at) = after.iter().position(|row| row.3 == "+15550000009") {
            let created = after.remove(at);
            let created_expected = (
                created.0,
                2,
                1,
                "+15550000009".to_owned(),
                "created@example.com".to_owned(),
                name.clone(),
                url.clone(),
            );
            assert_eq!(created, created_expected, "{session}");
            assert!(
                matches!(switched, Switched::Names),
                "{session}: {statuses:?}"
            );
        }
        assert_eq!(after, expected, "{session}: {statuses:?}");
        if matches!(switched, Switched::Statements) {
            assert!(
                statuses.iter().all(|(_, status)| *status < 500),
                "{session}: {statuses:?}"
            );
        }
    }
}

/// Every row of every table of `database`, as checksums: what "nothing was written" compares.
async fn snapshot(conn: &mut mysql_async::Conn, database: &str) -> Vec<(String, Option<u64>)> {
    let tables: Vec<String> = conn
        .exec(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ? \
             ORDER BY table_name",
            (database,),
        )
        .await
        .unwrap();
    assert!(tables.len() >= 5, "{tables:?}");
    let names: Vec<String> = tables
        .iter()
        .map(|table| format!("`{database}`.`{table}`"))
        .collect();
    conn.query(format!("CHECKSUM TABLE {} EXTENDED", names.join(", ")))
        .await
        .unwrap()
}

/// The character sets a plain connection to `url` gets, whatever its client asked for.
async fn charsets_of_a_session(url: &str) -> (String, String, String) {
    let mut conn = mysql_async::Conn::from_url(url).await.unwrap();
    let charsets = conn
        .query_first(shared::db::session_charset::QUERY)
        .await
        .unwrap()
        .unwrap();
    conn.disconnect().await.unwrap();
    charsets
}

fn gbk() -> (String, String, String) {
    ("gbk".to_owned(), "gbk".to_owned(), "gbk".to_owned())
}

/// A fresh app on a server whose sessions speak GBK: its first connection is refused with a
/// 503 that names the character set in the log line, every write route answers 503 (or refuses
/// its input before any query), and no row of any table changes.
async fn refused_everywhere(root: &mut mysql_async::Conn, database: &str, url: &str, p: &Parties) {
    let before = snapshot(root, database).await;
    let app = app_with(url, &[]);
    let refused = app.conn().await.unwrap_err();
    assert_eq!(refused.status(), 503, "{refused}");
    assert!(
        refused
            .to_string()
            .contains("character_set_client is gbk, not utf8mb4"),
        "{refused}"
    );
    assert_eq!(
        refused.body(),
        json!({ "detail": "Service temporarily unavailable; try again shortly" })
    );
    let statuses = attack_every_write_route(&app, p, &Payloads::new('丁'), None).await;
    for (label, status) in &statuses {
        if label.contains("with the payload") {
            // An impossible cellnumber is refused before any query, as are malformed ids.
            assert!([401, 422, 503].contains(status), "{label}: {statuses:?}");
        } else {
            assert_eq!(*status, 503, "{label}: {statuses:?}");
        }
    }
    assert_eq!(snapshot(root, database).await, before, "{statuses:?}");
}

async fn set_global_charsets(root: &mut mysql_async::Conn, charset: &str) {
    root.query_drop(format!(
        "SET GLOBAL character_set_client = {charset}, character_set_connection = {charset}, \
         character_set_results = {charset}"
    ))
    .await
    .unwrap();
}

/// A server that ignores the character set its clients ask for and gives every session GBK.
#[tokio::test]
async fn a_server_that_ignores_the_clients_charset_is_refused_and_nothing_is_written() {
    let server = PrivateMariaDb::start_with(&[
        "--skip-character-set-client-handshake",
        "--character-set-server=gbk",
        "--collation-server=gbk_chinese_ci",
    ])
    .await;
    let url = server.database_url("users_api");
    let mut root = mysql_async::Conn::from_url(server.url()).await.unwrap();
    // The users and their sessions are made while the server's sessions speak utf8mb4.
    set_global_charsets(&mut root, "utf8mb4").await;
    shared::db::prepare(&url, shared::app::config::DatabaseTls::Off)
        .await
        .unwrap();
    let setup = app_with(&url, &[]);
    let parties = sign_in(&setup, insert_parties(&setup).await).await;
    setup.pool.current().disconnect().await.unwrap();
    set_global_charsets(&mut root, "gbk").await;
    assert_eq!(charsets_of_a_session(&url).await, gbk());

    refused_everywhere(&mut root, "users_api", &url, &parties).await;
}

/// A server whose `init_connect` switches every session of a user without SUPER to GBK: the
/// application's database user is refused; the setup, as root, is not switched.
#[tokio::test]
async fn init_connect_that_switches_the_app_user_to_gbk_is_refused_and_nothing_is_written() {
    let server = PrivateMariaDb::start_with_grant_tables(&["--init-connect=SET NAMES gbk"]).await;
    let root_url = server.database_url("users_api");
    shared::db::prepare(&root_url, shared::app::config::DatabaseTls::Off)
        .await
        .unwrap();
    let mut root = mysql_async::Conn::from_url(&root_url).await.unwrap();
    let app_user = shared::db::account::AppUser {
        username: "users_api_app".to_owned(),
        password: shared::app::config::Secret::new("app-user-password-1"),
    };
    shared::db::account::ensure(&mut root, &app_user)
        .await
        .unwrap();
    let app_url = root_url.replacen("root@", "users_api_app:app-user-password-1@", 1);
    assert_ne!(app_url, root_url);
    let utf8mb4 = (
        "utf8mb4".to_owned(),
        "utf8mb4".to_owned(),
        "utf8mb4".to_owned(),
    );
    assert_eq!(charsets_of_a_session(&root_url).await, utf8mb4);
    assert_eq!(charsets_of_a_session(&app_url).await, gbk());

    let setup = app_with(&root_url, &[]);
    let parties = sign_in(&setup, insert_parties(&setup).await).await;
    setup.pool.current().disconnect().await.unwrap();

    refused_everywhere(&mut root, "users_api", &app_url, &parties).await;
}
