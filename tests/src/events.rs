//! Real API Gateway events (HTTP API v2 from `events/`, REST v1 from `tests/fixtures/`) built and
//! adjusted for one request, and a handler's answer read back with the checks every error passes.

use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};

use crate::{signing_key_fragment, TEST_SECRET};

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

    /// Every error has a JSON `detail` and none shows SQL, a stack trace or a key.
    pub fn assert_error(&self, status: u16) -> &Self {
        assert_eq!(self.status, status, "body: {}", self.body);
        assert!(
            self.body.get("detail").is_some(),
            "no detail in {}",
            self.body
        );
        let text = self.body.to_string();
        let key = signing_key_fragment();
        for leak in [
            "SELECT",
            "INSERT",
            "panicked",
            "mysql",
            TEST_SECRET,
            key,
            "$2b$",
        ] {
            assert!(!text.contains(leak), "{leak} leaked in {text}");
        }
        if status == 401 {
            assert_eq!(self.header("www-authenticate"), Some("Bearer"));
        }
        self
    }
}

/// Runs one function's handler on an [`Event`]: `call!(get_me, &app, event)`.
#[macro_export]
macro_rules! call {
    ($function:ident, $app:expr, $event:expr) => {
        $crate::Answer::from_response($function::handler($app, $event.request()).await.unwrap())
    };
}
