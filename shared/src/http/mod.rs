//! The only module that knows about API Gateway: reading requests and writing responses.

pub mod openapi;
pub mod routes;

use std::future::Future;
use std::time::Instant;

use lambda_http::http::header::{AUTHORIZATION, CONTENT_TYPE};
use lambda_http::http::HeaderValue;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tracing::Instrument;

use crate::auth::source_ip::{Edge, SourceIp, ORIGIN_VERIFY_HEADER, VIEWER_ADDRESS_HEADER};
use crate::auth::{self, Authenticated};
use crate::error::{ApiError, FieldError, MAX_BODY_BYTES};
use crate::App;

pub use lambda_http::Error;

/// A successful outcome, before it becomes a response.
pub struct Reply {
    status: u16,
    body: Option<Vec<u8>>,
    content_type: &'static str,
    location: Option<String>,
    headers: Vec<(&'static str, &'static str)>,
}

impl Reply {
    pub fn json(status: u16, value: &impl Serialize) -> Result<Self, ApiError> {
        let body = serde_json::to_vec(value)
            .map_err(|error| ApiError::Internal(format!("serializing a response: {error}")))?;
        Ok(Self {
            status,
            body: Some(body),
            content_type: "application/json",
            location: None,
            headers: Vec::new(),
        })
    }

    pub fn no_content() -> Self {
        Self {
            status: 204,
            body: None,
            content_type: "application/json",
            location: None,
            headers: Vec::new(),
        }
    }

    pub fn raw(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            body: Some(body.into()),
            content_type,
            location: None,
            headers: Vec::new(),
        }
    }

    pub fn with_location(mut self, location: String) -> Self {
        self.location = Some(location);
        self
    }

    /// A header of this response, replacing any the response has by default (the docs page's
    /// `Content-Security-Policy`, the cache lifetime of its assets).
    pub fn with_header(mut self, name: &'static str, value: &'static str) -> Self {
        self.headers.push((name, value));
        self
    }
}

/// Runs one request's `operation` inside a span that the log line of the request carries, bounds
/// it by the configured timeout, and turns the outcome into a response. Every failure becomes a
/// JSON response here, never an `Err` (API Gateway would turn that into a bare 502).
pub async fn handle<F>(
    app: &App,
    event: &Request,
    route: &'static str,
    operation: F,
) -> Result<Response<Body>, Error>
where
    F: Future<Output = Result<Reply, ApiError>>,
{
    // Keys that may have been rotated are read again first (every few minutes), within the
    // request's bound.
    let operation = async {
        app.tokens.refresh_if_due().await;
        operation.await
    };
    // A timed-out request may have left a transaction open, holding row locks: its connections
    // are closed before the response, not left to a clean-up that a frozen instance never runs.
    respond(app.config.request_timeout, event, route, operation, || {
        app.pool.abandon()
    })
    .await
}

/// [`handle`] for functions that have no [`App`] (no database, no secrets).
pub async fn handle_within<F>(
    timeout: std::time::Duration,
    event: &Request,
    route: &'static str,
    operation: F,
) -> Result<Response<Body>, Error>
where
    F: Future<Output = Result<Reply, ApiError>>,
{
    respond(timeout, event, route, operation, || {}).await
}

async fn respond<F>(
    timeout: std::time::Duration,
    event: &Request,
    route: &'static str,
    operation: F,
    on_timeout: impl FnOnce(),
) -> Result<Response<Body>, Error>
where
    F: Future<Output = Result<Reply, ApiError>>,
{
    let started = Instant::now();
    let request_id = event
        .lambda_context_ref()
        .map(|context| context.request_id.as_str())
        .unwrap_or_default();
    let span = tracing::info_span!(
        "request",
        request_id,
        route,
        user_id = tracing::field::Empty
    );
    async move {
        // Behind CloudFront, a request that went around it (and its WAF) is refused.
        let around_the_edge =
            (!edge().admits(header(event, ORIGIN_VERIFY_HEADER))).then_some(ApiError::Forbidden);
        let outcome = match around_the_edge.or_else(|| unrouted_on(route, event)) {
            Some(error) => Err(error),
            None => match tokio::time::timeout(timeout, operation).await {
                Ok(outcome) => outcome,
                Err(_) => {
                    on_timeout();
                    Err(ApiError::Unavailable("request timed out".into()))
                }
            },
        };
        let response = match outcome {
            Ok(reply) => reply_response(reply),
            Err(error) => {
                if error.status() >= 500 {
                    tracing::error!(%error, "request failed");
                }
                error_response(&error)
            }
        };
        tracing::info!(
            status = response.status().as_u16(),
            latency_us = started.elapsed().as_micros() as u64,
            "request handled"
        );
        Ok(response)
    }
    .instrument(span)
    .await
}

/// API Gateway gives `DELETE /api/users/me` to the route `DELETE /api/users/{id}`, but `me` is a
/// path of its own, which does not serve DELETE: 405, before any authentication, as for every
/// request no route takes. Only routes with a path parameter can be reached that way.
fn unrouted_on(route: &str, event: &Request) -> Option<ApiError> {
    if !route.contains('{') {
        return None;
    }
    match routes::resolve(event.method().as_str(), event.raw_http_path()) {
        routes::Routing::MethodNotAllowed(allow) => Some(ApiError::MethodNotAllowed {
            allow: allow.join(", "),
        }),
        routes::Routing::Routed | routes::Routing::NotFound => None,
    }
}

/// The answer to a request no route of the API takes (API Gateway's `$default` route): 404 for a
/// path the API does not have, 405 with `Allow` for one of its paths with another method.
pub fn unrouted(event: &Request) -> ApiError {
    let (method, path) = (event.method().as_str(), event.raw_http_path());
    match routes::resolve(method, path) {
        routes::Routing::NotFound => ApiError::RouteNotFound,
        routes::Routing::MethodNotAllowed(allow) => ApiError::MethodNotAllowed {
            allow: allow.join(", "),
        },
        // A route of the template that reached the fallback: the deployment's routes and the
        // compiled-in template disagree.
        routes::Routing::Routed => {
            ApiError::Internal(format!("{method} {path} reached the fallback"))
        }
    }
}

fn base_response(status: u16, content_type: &'static str, body: Option<Vec<u8>>) -> Response<Body> {
    let body = match body {
        Some(bytes) => Body::from(bytes),
        None => Body::Empty,
    };
    let mut response = Response::new(body);
    *response.status_mut() = lambda_http::http::StatusCode::from_u16(status)
        .unwrap_or(lambda_http::http::StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Responses carry user data and tokens: no cache may keep them, no browser may sniff them.
    headers.insert("cache-control", HeaderValue::from_static("no-store"));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    response
}

fn reply_response(reply: Reply) -> Response<Body> {
    let mut response = base_response(reply.status, reply.content_type, reply.body);
    if let Some(location) = reply.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        response.headers_mut().insert("location", location);
    }
    for (name, value) in reply.headers {
        response
            .headers_mut()
            .insert(name, HeaderValue::from_static(value));
    }
    response
}

/// The one place an [`ApiError`] becomes a response.
pub fn error_response(error: &ApiError) -> Response<Body> {
    let body = serde_json::to_vec(&error.body())
        .unwrap_or_else(|_| b"{\"detail\":\"Internal server error\"}".to_vec());
    let mut response = base_response(error.status(), "application/json", Some(body));
    for (name, value) in error.headers() {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// The raw `Authorization` header, if it is there and readable.
pub fn authorization(event: &Request) -> Option<&str> {
    event.headers().get(AUTHORIZATION)?.to_str().ok()
}

/// The signed-in user of `event`, by its bearer token (see [`crate::auth::authenticate`]).
pub async fn signed_in(app: &App, event: &Request) -> Result<Authenticated, ApiError> {
    auth::authenticate(&app.tokens, &app.pool, authorization(event)).await
}

/// [`signed_in`] for a route about user `subject_id`, read in the same query.
pub async fn signed_in_about(
    app: &App,
    event: &Request,
    subject_id: Option<u64>,
) -> Result<Authenticated, ApiError> {
    auth::authenticate_about(&app.tokens, &app.pool, authorization(event), subject_id).await
}

/// How requests reach this function (`EDGE_ORIGIN_SECRET`, read once per instance).
fn edge() -> &'static Edge {
    static EDGE: std::sync::OnceLock<Edge> = std::sync::OnceLock::new();
    EDGE.get_or_init(|| Edge::from_setting(std::env::var("EDGE_ORIGIN_SECRET").ok().as_deref()))
}

fn header<'a>(event: &'a Request, name: &str) -> Option<&'a [u8]> {
    event.headers().get(name).map(HeaderValue::as_bytes)
}

/// The client's address as API Gateway saw it (HTTP API: `requestContext.http.sourceIp`; REST
/// API: `requestContext.identity.sourceIp`), never a header the client sets; behind the stack's
/// CloudFront distribution, the viewer address CloudFront reports on a request that carries the
/// distribution's origin secret (see [`Edge`]).
pub fn source_ip(event: &Request) -> SourceIp {
    use lambda_http::request::RequestContext;
    let raw = match event.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.http.source_ip.as_deref(),
        Some(RequestContext::ApiGatewayV1(context)) => context.identity.source_ip.as_deref(),
        _ => None,
    };
    edge().client(
        raw,
        header(event, ORIGIN_VERIFY_HEADER),
        header(event, VIEWER_ADDRESS_HEADER).and_then(|v| std::str::from_utf8(v).ok()),
    )
}

/// The JSON body, checked for size and content type, decoded into `T` with unknown fields and
/// wrong types refused as 422.
pub fn json_body<T: DeserializeOwned>(event: &Request) -> Result<T, ApiError> {
    let bytes: &[u8] = event.body().as_ref();
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge);
    }
    if let Some(content_type) = event.headers().get(CONTENT_TYPE) {
        let essence = content_type
            .to_str()
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if essence != "application/json"
            && !(essence.starts_with("application/") && essence.ends_with("+json"))
        {
            return Err(ApiError::UnsupportedMediaType);
        }
    }
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        None => return Err(ApiError::validation(&["body"], "a JSON body is required")),
        // serde would also read a struct from a JSON array of its fields; the contract's bodies
        // are objects only.
        Some(b'{') => {}
        Some(_) => {
            return Err(ApiError::validation(
                &["body"],
                "the body must be a JSON object",
            ))
        }
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer)
        .map_err(|error| ApiError::Validation(vec![body_error(&error)]))?;
    // Text after the object.
    deserializer
        .end()
        .map_err(|_| ApiError::validation(&["body"], "body is not valid JSON"))?;
    Ok(value)
}

/// The `{loc, msg}` of a body serde refused: `loc` names the field when there is one (`["body",
/// "isActive"]`), `msg` is serde's sentence without its line and column.
fn body_error(error: &serde_path_to_error::Error<serde_json::Error>) -> FieldError {
    use serde_path_to_error::Segment;
    let inner = error.inner();
    if inner.classify() != serde_json::error::Category::Data {
        return FieldError::new(&["body"], "body is not valid JSON");
    }
    let mut loc = vec!["body".to_owned()];
    for segment in error.path().iter() {
        match segment {
            Segment::Map { key } => loc.push(key.clone()),
            Segment::Seq { index } => loc.push(index.to_string()),
            Segment::Enum { variant } => loc.push(variant.clone()),
            Segment::Unknown => break,
        }
    }
    let text = inner.to_string();
    let position = format!(" at line {} column {}", inner.line(), inner.column());
    let msg = text.strip_suffix(&position).unwrap_or(&text);
    let msg = if loc.len() == 1 {
        format!("invalid body: {msg}")
    } else {
        msg.to_owned()
    };
    FieldError { loc, msg }
}

/// The `{id}` of the path, a positive whole number.
pub fn path_id(event: &Request) -> Result<u64, ApiError> {
    let params = event.path_parameters_ref();
    let raw = params.and_then(|params| params.first("id")).unwrap_or("");
    match raw.parse::<u64>() {
        Ok(id) if id > 0 => Ok(id),
        _ => Err(ApiError::validation(
            &["path", "id"],
            "must be a positive whole number",
        )),
    }
}

/// A path parameter as sent (empty when absent).
pub fn path_text<'a>(event: &'a Request, name: &str) -> &'a str {
    event
        .path_parameters_ref()
        .and_then(|params| params.first(name))
        .unwrap_or("")
}

/// A query parameter as sent, if present.
pub fn query_text<'a>(event: &'a Request, name: &str) -> Option<&'a str> {
    event
        .query_string_parameters_ref()
        .and_then(|params| params.first(name))
}

/// Every `(name, value)` of the query string, values decoded; a name given twice comes twice.
pub fn query_pairs(event: &Request) -> Vec<(&str, &str)> {
    event
        .query_string_parameters_ref()
        .map(|params| params.iter().collect())
        .unwrap_or_default()
}

/// A whole-number query parameter within `range`, or `default` when absent.
pub fn query_number(
    event: &Request,
    name: &'static str,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, ApiError> {
    let params = event.query_string_parameters_ref();
    let Some(raw) = params.and_then(|params| params.first(name)) else {
        return Ok(default);
    };
    match raw.parse::<u64>() {
        Ok(value) if range.contains(&value) => Ok(value),
        _ => Err(ApiError::validation(
            &["query", name],
            format!(
                "must be a whole number from {} to {}",
                range.start(),
                range.end()
            ),
        )),
    }
}

/// The `main` of every function: logging, the per-instance [`App`] (built once, before the first
/// request, and kept for the life of the instance), then the Lambda runtime loop.
pub async fn run<H, F>(handler: H) -> Result<(), Error>
where
    H: Fn(&'static App, Request) -> F,
    F: Future<Output = Result<Response<Body>, Error>> + Send,
{
    crate::app::logging::init();
    let app: &'static App = match App::load().await {
        Ok(app) => Box::leak(Box::new(app)),
        Err(error) => {
            tracing::error!(%error, "cannot start");
            return Err(error.into());
        }
    };
    lambda_http::run(lambda_http::service_fn(move |event| handler(app, event))).await
}

/// The `main` of a function that needs no database and no secrets (the docs).
pub async fn run_without_app<H, F>(handler: H) -> Result<(), Error>
where
    H: Fn(Request) -> F,
    F: Future<Output = Result<Response<Body>, Error>> + Send,
{
    crate::app::logging::init();
    lambda_http::run(lambda_http::service_fn(handler)).await
}
