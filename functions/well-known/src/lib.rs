//! The two documents that let others verify access tokens: one function for both, as the docs
//! function serves its documents, since they are one concern (the keys and their issuer), read
//! the same key ring and need no database.

use lambda_http::{Body, Request, Response};
use shared::auth::discovery::{self, CACHE_CONTROL};
use shared::http::{self, Error, Reply};
use shared::App;

pub async fn handler(app: &App, event: Request) -> Result<Response<Body>, Error> {
    // REST API (v1) paths carry the stage, so only the end of the path is looked at.
    let route = if event.uri().path().ends_with("/jwks.json") {
        "GET /.well-known/jwks.json"
    } else {
        "GET /.well-known/openid-configuration"
    };
    http::handle(app, &event, route, async {
        let reply = match route {
            "GET /.well-known/jwks.json" => Reply::json(200, &discovery::jwks(&app.tokens))?,
            _ => Reply::json(200, &discovery::discovery(&app.tokens)?)?,
        };
        Ok(reply.with_header("cache-control", CACHE_CONTROL))
    })
    .await
}
