use std::time::Duration;

use lambda_http::{Body, Request, Response};
use shared::http::{self, Error, Reply};
use shared::openapi;

pub async fn handler(event: Request) -> Result<Response<Body>, Error> {
    // REST API (v1) paths carry the stage, so only the end of the path is looked at.
    let wants_document = event.uri().path().ends_with("/openapi.json");
    let route = if wants_document {
        "GET /api/openapi.json"
    } else {
        "GET /docs"
    };
    http::handle_within(Duration::from_secs(5), &event, route, async {
        Ok(if wants_document {
            Reply::raw(200, "application/json", openapi::document_json())
        } else {
            Reply::raw(200, "text/html; charset=utf-8", openapi::DOCS_HTML)
        })
    })
    .await
}
