//! The admin console: one HTML page, its ES modules and its style sheet, compiled into this
//! function (`include_str!`), so the page needs nothing from any other origin and runs offline.
//! It talks only to the public API on the same origin; it holds no logic the API does not check.

use std::time::Duration;

use lambda_http::{Body, Request, RequestExt, Response};
use shared::http::{self, Error, Reply};
use shared::ApiError;

/// Scripts, styles, images and requests from this origin only; no inline script or style, no
/// framing, no form posted anywhere (the page sends its forms with `fetch`). Pictures of users
/// are links, never loaded, so `img-src` needs no other origin.
pub const PAGE_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

const PAGE: &str = include_str!("../page/index.html");

/// `(name under /console/, content type, text)` of every file the page loads.
pub const ASSETS: [(&str, &str, &str); 7] = [
    ("console.css", CSS, include_str!("../page/console.css")),
    ("app.js", JS, include_str!("../page/app.js")),
    ("api.js", JS, include_str!("../page/api.js")),
    ("session.js", JS, include_str!("../page/session.js")),
    ("users.js", JS, include_str!("../page/users.js")),
    ("audit.js", JS, include_str!("../page/audit.js")),
    ("dom.js", JS, include_str!("../page/dom.js")),
];

const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

/// The files change only with a new build, and their names carry no version: short enough that
/// a deployment reaches browsers within minutes.
const ASSET_CACHE: &str = "public, max-age=300";

pub async fn handler(event: Request) -> Result<Response<Body>, Error> {
    // An {asset} parameter names a file (even one called "console"); without one, REST API (v1)
    // paths carry the stage, so only the end of the path is looked at.
    let named_asset = event
        .path_parameters_ref()
        .is_some_and(|params| params.first("asset").is_some());
    let route = if !named_asset && event.uri().path().ends_with("/console") {
        "GET /console"
    } else {
        "GET /console/{asset}"
    };
    http::handle_within(Duration::from_secs(5), &event, route, async {
        if route == "GET /console" {
            return Ok(secured(Reply::raw(200, "text/html; charset=utf-8", PAGE))
                .with_header("cache-control", "no-cache"));
        }
        asset(&event)
    })
    .await
}

/// The headers that keep the page and its scripts to this origin and out of frames.
fn secured(reply: Reply) -> Reply {
    reply
        .with_header("content-security-policy", PAGE_POLICY)
        .with_header("x-frame-options", "DENY")
        .with_header("x-content-type-options", "nosniff")
        .with_header("referrer-policy", "no-referrer")
}

fn asset(event: &Request) -> Result<Reply, ApiError> {
    let params = event.path_parameters_ref();
    let name = params
        .and_then(|params| params.first("asset"))
        .or_else(|| event.uri().path().rsplit('/').next())
        .unwrap_or_default();
    let (_, content_type, text) = ASSETS
        .iter()
        .find(|(asset, _, _)| *asset == name)
        .ok_or(ApiError::RouteNotFound)?;
    Ok(secured(Reply::raw(200, content_type, *text)).with_header("cache-control", ASSET_CACHE))
}
