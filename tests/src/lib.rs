//! Test support: a fresh database per test, apps configured for tests, and real API Gateway
//! events (HTTP API v2 and REST v1) built from the fixtures under `events/` and `tests/fixtures/`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use lambda_http::{Body, Request, Response};
use mysql_async::prelude::Queryable;
use serde_json::{json, Value};
use shared::config::Config;
use shared::App;

pub mod mariadb;
pub mod moto;
pub mod round_trips;
pub mod serve;
pub mod tls;

/// The server the tests create their databases on: `TEST_DATABASE_URL`, without a database name.
pub fn server_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".to_owned())
        .trim_end_matches('/')
        .to_owned()
}

/// Every database of one test run shares this prefix, so `make test` can drop what a crashed
/// run left behind; no two runs (or tests) share a database.
pub fn run_prefix() -> String {
    static PREFIX: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PREFIX
        .get_or_init(|| {
            std::env::var("TEST_RUN_ID")
                .map(|id| format!("ut_{id}"))
                .unwrap_or_else(|_| {
                    let nanos = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .unwrap()
                        .as_nanos();
                    format!("ut_{}_{}", std::process::id(), nanos % 1_000_000_000)
                })
        })
        .clone()
}

/// A database of its own for one test, migrated, and dropped when the test ends.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    /// A database of its own, migrated.
    pub async fn new() -> Self {
        let db = Self::empty().await;
        shared::db::prepare(&db.url, shared::config::DatabaseTls::Off)
            .await
            .unwrap_or_else(|error| panic!("cannot migrate test database {}: {error}", db.name));
        db
    }

    /// A database of its own, created but not migrated.
    pub async fn empty() -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "{}_{}",
            run_prefix(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let url = format!("{}/{name}", server_url());
        shared::db::ensure_database(&url, shared::config::DatabaseTls::Off)
            .await
            .unwrap_or_else(|error| {
                panic!(
                    "cannot create test database {name} (is MariaDB running at {}?): {error}",
                    server_url()
                )
            });
        Self { name, url }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let server = server_url();
        let name = self.name.clone();
        // Drop runs outside any runtime guarantee, so the clean-up gets a runtime of its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                if let Ok(mut conn) = mysql_async::Conn::from_url(&server).await {
                    let _ = conn
                        .query_drop(format!("DROP DATABASE IF EXISTS `{name}`"))
                        .await;
                    let _ = conn.disconnect().await;
                }
            });
        })
        .join();
    }
}

pub const TEST_SECRET: &str = "test-secret-key-0123456789abcdef-0123456789";

/// The environment a test app (or a served function) runs with: cost-4 bcrypt keeps tests quick.
pub fn test_env(db: &TestDb) -> Vec<(&'static str, String)> {
    test_env_for(&db.url)
}

/// The statement mode the suite runs in: `DB_PROXY` of the test run (`make test` runs the
/// handler and HTTP tests once in each mode), off when unset.
pub fn db_proxy() -> String {
    std::env::var("DB_PROXY").unwrap_or_else(|_| "off".to_owned())
}

/// [`test_env`] for a database on any server.
pub fn test_env_for(database_url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("DB_PROXY", db_proxy()),
        ("DATABASE_URL", database_url.to_owned()),
        ("SECRET_KEY", TEST_SECRET.to_owned()),
        ("BCRYPT_COST", "4".to_owned()),
        ("TOKEN_TTL_SECONDS", "3600".to_owned()),
        ("LOGIN_MAX_FAILURES", "5".to_owned()),
        ("LOGIN_WINDOW_SECONDS", "900".to_owned()),
    ]
}

/// An app (as a separate function instance would have) on the database at `url`.
pub fn app_for_url(url: &str) -> App {
    let url = url.to_owned();
    let config = Config::from_lookup(|name| match name {
        "DATABASE_URL" => Some(url.clone()),
        "SECRET_KEY" => Some(TEST_SECRET.to_owned()),
        "BCRYPT_COST" => Some("4".to_owned()),
        "DB_PROXY" => Some(db_proxy()),
        _ => None,
    })
    .expect("test configuration is valid");
    App::new(config).expect("test app builds")
}

pub fn test_app(db: &TestDb) -> App {
    test_app_with(db, &[])
}

pub fn test_app_with(db: &TestDb, overrides: &[(&'static str, &str)]) -> App {
    app_with(&db.url, overrides)
}

/// [`test_app_with`] for a database on any server.
pub fn app_with(database_url: &str, overrides: &[(&'static str, &str)]) -> App {
    let mut env = test_env_for(database_url);
    for (name, value) in overrides {
        env.retain(|(existing, _)| existing != name);
        env.push((name, value.to_string()));
    }
    let config = Config::from_lookup(|name| {
        env.iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.clone())
    })
    .expect("test configuration is valid");
    App::new(config).expect("test app builds")
}

/// Inserts a user straight into the database (the API under test is not needed for setup).
pub async fn insert_user(app: &App, role_id: u8, cellnumber: &str, password: &str) -> u64 {
    let hash = shared::password::hash(password, 4).await.unwrap();
    let email = format!("u{}@example.com", cellnumber.trim_start_matches('+'));
    let mut conn = app.pool.get_conn().await.unwrap();
    conn.exec_drop(
        "INSERT INTO users (name, cellnumber, email, email_key, password_hash, role_id, created, updated) \
         VALUES (?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))",
        (
            format!("User {cellnumber}"),
            cellnumber,
            &email,
            shared::validation::email_key(&email),
            hash,
            role_id,
        ),
    )
    .await
    .unwrap();
    conn.last_insert_id().unwrap()
}

pub async fn count(app: &App, sql: &str) -> u64 {
    let mut conn = app.pool.get_conn().await.unwrap();
    conn.query_first::<u64, _>(sql).await.unwrap().unwrap_or(0)
}

/// One API Gateway event, built from a fixture and then adjusted.
pub struct Event {
    value: Value,
}

impl Event {
    /// An HTTP API (payload v2) event from `events/<function>.json`, the same files
    /// `make invoke` sends.
    pub fn v2(function: &str) -> Self {
        let path = format!("{}/../events/{function}.json", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let mut value: Value = serde_json::from_str(&text).unwrap();
        value["headers"]
            .as_object_mut()
            .unwrap()
            .remove("authorization");
        Self { value }
    }

    /// A REST API (payload v1) event, with the stage in its path as API Gateway sends it.
    pub fn v1(method: &str, resource: &str, path: &str) -> Self {
        let path_with_stage = format!("/prod{path}");
        let text = include_str!("../fixtures/rest-v1.json");
        let mut value: Value = serde_json::from_str(text).unwrap();
        value["httpMethod"] = json!(method);
        value["resource"] = json!(resource);
        value["path"] = json!(path_with_stage);
        value["requestContext"]["httpMethod"] = json!(method);
        value["requestContext"]["resourcePath"] = json!(resource);
        value["requestContext"]["path"] = json!(path_with_stage);
        value["pathParameters"] = Value::Null;
        Self { value }
    }

    fn is_v2(&self) -> bool {
        self.value.get("version").and_then(Value::as_str) == Some("2.0")
    }

    /// Another method and path for an HTTP API (v2) event.
    pub fn at(mut self, method: &str, path: &str) -> Self {
        self.value["routeKey"] = json!(format!("{method} {path}"));
        self.value["rawPath"] = json!(path);
        self.value["requestContext"]["routeKey"] = json!(format!("{method} {path}"));
        self.value["requestContext"]["http"]["method"] = json!(method);
        self.value["requestContext"]["http"]["path"] = json!(path);
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.value["headers"][name] = json!(value);
        if !self.is_v2() {
            self.value["multiValueHeaders"][name] = json!([value]);
        }
        self
    }

    /// The client address API Gateway saw (what the login throttle counts per address).
    pub fn from_address(mut self, ip: &str) -> Self {
        if self.is_v2() {
            self.value["requestContext"]["http"]["sourceIp"] = json!(ip);
        } else {
            self.value["requestContext"]["identity"]["sourceIp"] = json!(ip);
        }
        self
    }

    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    pub fn path_param(mut self, name: &str, value: &str) -> Self {
        if self.value["pathParameters"].is_null() {
            self.value["pathParameters"] = json!({});
        }
        self.value["pathParameters"][name] = json!(value);
        if self.is_v2() {
            let route = self.value["routeKey"]
                .as_str()
                .unwrap_or("")
                .split(' ')
                .nth(1)
                .unwrap_or("")
                .to_owned();
            let concrete = route.replace(&format!("{{{name}}}"), value);
            self.value["rawPath"] = json!(concrete);
            self.value["requestContext"]["http"]["path"] = json!(concrete);
        }
        self
    }

    /// A query string as sent (`%XX` escapes decoded in the parameters, as API Gateway does).
    pub fn query(mut self, raw: &str) -> Self {
        if self.is_v2() {
            self.value["rawQueryString"] = json!(raw);
            let mut params = serde_json::Map::new();
            for pair in raw.split('&').filter(|p| !p.is_empty()) {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                params.insert(percent_decoded(k), json!(percent_decoded(v)));
            }
            self.value["queryStringParameters"] = Value::Object(params);
        } else {
            let mut single = serde_json::Map::new();
            let mut multi = serde_json::Map::new();
            for pair in raw.split('&').filter(|p| !p.is_empty()) {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                single.insert(k.to_owned(), json!(v));
                multi.insert(k.to_owned(), json!([v]));
            }
            self.value["queryStringParameters"] = Value::Object(single);
            self.value["multiValueQueryStringParameters"] = Value::Object(multi);
        }
        self
    }

    /// A body as sent, with its content type (`None` leaves the fixture's header alone).
    pub fn raw_body(mut self, body: &str, content_type: Option<&str>) -> Self {
        self.value["body"] = json!(body);
        self.value["isBase64Encoded"] = json!(false);
        if let Some(content_type) = content_type {
            self = self.header("content-type", content_type);
        }
        self
    }

    pub fn json_body(self, body: &Value) -> Self {
        self.raw_body(&body.to_string(), Some("application/json"))
    }

    pub fn without_header(mut self, name: &str) -> Self {
        if let Some(headers) = self.value["headers"].as_object_mut() {
            headers.remove(name);
        }
        if let Some(headers) = self.value["multiValueHeaders"].as_object_mut() {
            headers.remove(name);
        }
        self
    }

    /// An event from its JSON.
    pub fn from_json(text: &str) -> Self {
        Self {
            value: serde_json::from_str(text).expect("an event is JSON"),
        }
    }

    /// The event as the Lambda runtime API delivers it.
    pub fn to_json(&self) -> String {
        self.value.to_string()
    }

    /// The `lambda_http::Request` the runtime would hand the handler.
    pub fn request(&self) -> Request {
        lambda_http::request::from_str(&self.value.to_string())
            .expect("fixture is a valid API Gateway event")
    }
}

/// `%XX` escapes decoded (as UTF-8, lossily).
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A handler's response, read back.
pub struct Answer {
    pub status: u16,
    pub headers: lambda_http::http::HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn from_response(response: Response<Body>) -> Self {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes: &[u8] = response.body().as_ref();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(bytes)
                .unwrap_or_else(|_| json!({ "raw": String::from_utf8_lossy(bytes) }))
        };
        Self {
            status,
            headers,
            body,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Every error has a JSON `detail` and none shows SQL, a stack trace or the secret.
    pub fn assert_error(&self, status: u16) -> &Self {
        assert_eq!(self.status, status, "body: {}", self.body);
        assert!(
            self.body.get("detail").is_some(),
            "no detail in {}",
            self.body
        );
        let text = self.body.to_string();
        for leak in ["SELECT", "INSERT", "panicked", "mysql", TEST_SECRET, "$2b$"] {
            assert!(!text.contains(leak), "{leak} leaked in {text}");
        }
        if status == 401 {
            assert_eq!(self.header("www-authenticate"), Some("Bearer"));
        }
        self
    }
}

pub const ADMIN_CELL: &str = "+15550000001";
pub const ADMIN_PASS: &str = "admin-password-1";
pub const USER_CELL: &str = "+15550000002";
pub const USER_PASS: &str = "user-password-2";

/// A migrated database of its own with an admin and a normal user, both signed in.
pub struct Fixture {
    pub db: TestDb,
    pub app: App,
    pub admin_id: u64,
    pub user_id: u64,
    /// The admin's token.
    pub admin: String,
    /// The normal user's token.
    pub user: String,
}

pub async fn fixture() -> Fixture {
    let db = TestDb::new().await;
    let app = test_app(&db);
    let admin_id = insert_user(&app, 1, ADMIN_CELL, ADMIN_PASS).await;
    let user_id = insert_user(&app, 2, USER_CELL, USER_PASS).await;
    let admin = token(&app, ADMIN_CELL, ADMIN_PASS).await;
    let user = token(&app, USER_CELL, USER_PASS).await;
    Fixture {
        db,
        app,
        admin_id,
        user_id,
        admin,
        user,
    }
}

/// Runs one function's handler on an [`Event`]: `call!(get_me, &app, event)`.
#[macro_export]
macro_rules! call {
    ($function:ident, $app:expr, $event:expr) => {
        $crate::Answer::from_response($function::handler($app, $event.request()).await.unwrap())
    };
}

/// `PATCH /api/users/{id}` through the update-user handler.
pub async fn admin_patch(app: &App, token: &str, id: u64, body: &Value) -> Answer {
    let event = Event::v2("update-user")
        .bearer(token)
        .path_param("id", &id.to_string())
        .json_body(body);
    Answer::from_response(update_user::handler(app, event.request()).await.unwrap())
}

/// Signs in through the login handler (from the address of `events/login.json`).
pub async fn login(app: &App, cellnumber: &str, password: &str) -> Answer {
    login_from(app, cellnumber, password, "203.0.113.10").await
}

/// Signs in through the login handler from the client address `ip`.
pub async fn login_from(app: &App, cellnumber: &str, password: &str, ip: &str) -> Answer {
    let event = Event::v2("login")
        .from_address(ip)
        .json_body(&json!({ "cellnumber": cellnumber, "password": password }));
    Answer::from_response(login::handler(app, event.request()).await.unwrap())
}

/// A token for a user that must be able to sign in.
pub async fn token(app: &App, cellnumber: &str, password: &str) -> String {
    let answer = login(app, cellnumber, password).await;
    assert_eq!(answer.status, 200, "login of {cellnumber}: {}", answer.body);
    answer.body["token"].as_str().unwrap().to_owned()
}

/// The `jti` claim of a token (no verification: tests only).
pub fn jti_of(token: &str) -> String {
    use base64::Engine;
    let claims = token.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(claims)
        .unwrap();
    let claims: Value = serde_json::from_slice(&bytes).unwrap();
    claims["jti"].as_str().unwrap().to_owned()
}

/// `(METHOD, path)` of every route `cargo lambda watch` serves with a function of the API, from
/// the workspace Cargo.toml (what it sends to `fallback` is in [`watch_fallbacks`]).
pub fn watch_routes() -> Vec<(String, String)> {
    let mut routes: Vec<(String, String)> = watch_router()
        .into_iter()
        .filter(|(_, _, function)| function != "fallback")
        .map(|(method, path, _)| (method.expect("method-specific routes"), path))
        .collect();
    routes.sort();
    routes
}

/// `(METHOD or None for every method, path)` that `cargo lambda watch` sends to `fallback`.
pub fn watch_fallbacks() -> Vec<(Option<String>, String)> {
    let mut routes: Vec<(Option<String>, String)> = watch_router()
        .into_iter()
        .filter(|(_, _, function)| function == "fallback")
        .map(|(method, path, _)| (method, path))
        .collect();
    routes.sort();
    routes
}

/// `(METHOD or None, path, function)` of every entry of the watch router.
fn watch_router() -> Vec<(Option<String>, String, String)> {
    let path = format!("{}/../Cargo.toml", env!("CARGO_MANIFEST_DIR"));
    let manifest: toml::Table = std::fs::read_to_string(path).unwrap().parse().unwrap();
    let router = manifest["workspace"]["metadata"]["lambda"]["watch"]["router"]
        .as_table()
        .unwrap();
    let mut entries = Vec::new();
    for (path, targets) in router {
        match targets {
            toml::Value::String(function) => entries.push((None, path.clone(), function.clone())),
            targets => {
                for target in targets.as_array().expect("a function or method routes") {
                    entries.push((
                        Some(target["method"].as_str().unwrap().to_owned()),
                        path.clone(),
                        target["function"].as_str().unwrap().to_owned(),
                    ));
                }
            }
        }
    }
    entries
}

/// `(METHOD, path)` of every HTTP API event in template.yaml.
pub fn template_routes() -> Vec<(String, String)> {
    let path = format!("{}/../template.yaml", env!("CARGO_MANIFEST_DIR"));
    let template = std::fs::read_to_string(path).unwrap();
    let mut routes = Vec::new();
    let mut pending_path: Option<String> = None;
    for line in template.lines().map(str::trim) {
        if let Some(path) = line.strip_prefix("Path: ") {
            pending_path = Some(path.trim().to_owned());
        } else if let Some(method) = line.strip_prefix("Method: ") {
            let path = pending_path
                .take()
                .expect("Method: follows Path: in every event");
            routes.push((method.trim().to_uppercase(), path));
        }
    }
    routes.sort();
    routes
}
