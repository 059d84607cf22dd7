//! The only module that knows about API Gateway: reading requests and writing responses.

pub mod openapi;
mod reply;
mod request;
pub mod routes;

use reply::reply_response;
pub use reply::{error_response, Reply};
pub use request::{
    authorization, base_url, json_body, path_id, path_text, query_pairs, query_text, signed_in,
    signed_in_about, source_ip,
};
use request::{edge, header};

use std::future::Future;
use std::time::Instant;

use lambda_http::{Body, Request, RequestExt, Response};
use tracing::Instrument;

use crate::auth::source_ip::ORIGIN_VERIFY_HEADER;
use crate::error::ApiError;
use crate::App;

pub use lambda_http::Error;

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
    // One instance serves one API: its issuer is the API's URL unless TOKEN_ISSUER names one.
    app.tokens.learn_issuer(|| base_url(event));
    let operation = async {
        app.tokens.refresh_if_due().await;
        operation.await
    };
    let misrouted = unrouted_on(route, event, app.config.sms.signup_open);
    // A timed-out request may have left a transaction open, holding row locks: its connections
    // are closed before the response, not left to a clean-up that a frozen instance never runs.
    respond(
        app.config.request_timeout,
        event,
        route,
        misrouted,
        operation,
        || app.pool.abandon(),
    )
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
    // These functions have no settings; their routes (docs and console assets) take no sign-up
    // path, so closed, the default, is as good as the deployment's value.
    let misrouted = unrouted_on(route, event, false);
    respond(timeout, event, route, misrouted, operation, || {}).await
}

async fn respond<F>(
    timeout: std::time::Duration,
    event: &Request,
    route: &'static str,
    misrouted: Option<ApiError>,
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
        let outcome = match around_the_edge.or(misrouted) {
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
fn unrouted_on(route: &str, event: &Request, signup_open: bool) -> Option<ApiError> {
    if !route.contains('{') {
        return None;
    }
    match routes::resolve(event.method().as_str(), event.raw_http_path()) {
        routes::Routing::MethodNotAllowed(allow) => {
            Some(method_not_allowed(event, allow, signup_open))
        }
        routes::Routing::Routed | routes::Routing::NotFound => None,
    }
}

/// The paths of sign-up, which the API does not have while sign-up is closed.
const SIGNUP_PATHS: [&str; 2] = ["/api/users/signup", "/api/users/signup/verify"];

/// 405 with `Allow` for a path of the API with a method it does not serve. Closed sign-up is not
/// a path of the API for any method: its functions answer 404 to POST, and a 405 here would tell
/// that it exists.
fn method_not_allowed(event: &Request, allow: Vec<&str>, signup_open: bool) -> ApiError {
    if !signup_open && SIGNUP_PATHS.contains(&event.raw_http_path()) {
        return ApiError::RouteNotFound;
    }
    ApiError::MethodNotAllowed {
        allow: allow.join(", "),
    }
}

/// The answer to a request no route of the API takes (API Gateway's `$default` route): 404 for a
/// path the API does not have, 405 with `Allow` for one of its paths with another method.
/// `signup_open` is the deployment's `SIGNUP`.
pub fn unrouted(event: &Request, signup_open: bool) -> ApiError {
    let (method, path) = (event.method().as_str(), event.raw_http_path());
    match routes::resolve(method, path) {
        routes::Routing::NotFound => ApiError::RouteNotFound,
        routes::Routing::MethodNotAllowed(allow) => method_not_allowed(event, allow, signup_open),
        // A route of the template that reached the fallback: the deployment's routes and the
        // compiled-in template disagree.
        routes::Routing::Routed => {
            ApiError::Internal(format!("{method} {path} reached the fallback"))
        }
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

/// [`run`] for a function that sends texts: its [`App`] gets the sender `SMS_SENDER` names
/// (`crate::texts::sender`), Amazon SNS in AWS. Only these functions link the SNS client, and
/// [`run`] stays as it was for every other function (its code, and so their size, unchanged).
pub async fn run_sending_texts<H, F>(handler: H) -> Result<(), Error>
where
    H: Fn(&'static App, Request) -> F,
    F: Future<Output = Result<Response<Body>, Error>> + Send,
{
    crate::app::logging::init();
    let app: &'static App = match App::load().await {
        Ok(mut app) => {
            app.texts = crate::texts::sender(&app.config.sms.sender);
            Box::leak(Box::new(app))
        }
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
