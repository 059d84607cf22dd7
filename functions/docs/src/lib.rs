//! The OpenAPI document and the interactive page over it, Swagger UI, served entirely by this
//! function: the page loads nothing from anywhere but the API's own origin (offline, behind a
//! strict network, and with no third-party code next to the tokens admins paste in).

use std::io::Read;
use std::sync::OnceLock;
use std::time::Duration;

use lambda_http::http::header::ACCEPT_ENCODING;
use lambda_http::{Body, Request, RequestExt, Response};
use shared::http::openapi;
use shared::http::{self, Error, Reply};
use shared::ApiError;

/// Scripts, styles, images and requests from this origin only; no inline script, no framing.
/// Swagger UI's icons are inline SVG and `data:` images.
pub const PAGE_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

const PAGE: &str = include_str!("../page/index.html");
const INITIALIZER: &str = include_str!("../page/docs.js");

/// A file the page loads: its name under `/docs/`, its type, its bytes gzip-compressed, and the
/// same uncompressed once a client has asked for that.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    gzip: &'static [u8],
    inflated: OnceLock<Vec<u8>>,
}

static ASSETS: [Asset; 2] = [
    Asset {
        name: "swagger-ui-bundle.js",
        content_type: "text/javascript; charset=utf-8",
        gzip: include_bytes!(concat!(env!("OUT_DIR"), "/swagger-ui-bundle.js.gz")),
        inflated: OnceLock::new(),
    },
    Asset {
        name: "swagger-ui.css",
        content_type: "text/css; charset=utf-8",
        gzip: include_bytes!(concat!(env!("OUT_DIR"), "/swagger-ui.css.gz")),
        inflated: OnceLock::new(),
    },
];

/// The vendored files change only with a new build, but their names carry no version.
const ASSET_CACHE: &str = "public, max-age=3600";

pub async fn handler(event: Request) -> Result<Response<Body>, Error> {
    // REST API (v1) paths carry the stage, so only the end of the path is looked at.
    let path = event.uri().path().to_owned();
    let route = if path.ends_with("/openapi.json") {
        "GET /api/openapi.json"
    } else if path.ends_with("/docs") {
        "GET /docs"
    } else {
        "GET /docs/{asset}"
    };
    http::handle_within(Duration::from_secs(5), &event, route, async {
        match route {
            "GET /api/openapi.json" => Ok(Reply::raw(
                200,
                "application/json",
                openapi::document_json(),
            )),
            "GET /docs" => Ok(Reply::raw(200, "text/html; charset=utf-8", PAGE)
                .with_header("content-security-policy", PAGE_POLICY)
                .with_header("x-frame-options", "DENY")
                .with_header("referrer-policy", "no-referrer")),
            _ => asset(&event),
        }
    })
    .await
}

fn asset(event: &Request) -> Result<Reply, ApiError> {
    let params = event.path_parameters_ref();
    let name = params
        .and_then(|params| params.first("asset"))
        .or_else(|| event.uri().path().rsplit('/').next())
        .unwrap_or_default();
    if name == "docs.js" {
        return Ok(
            Reply::raw(200, "text/javascript; charset=utf-8", INITIALIZER)
                .with_header("cache-control", ASSET_CACHE),
        );
    }
    let asset = ASSETS
        .iter()
        .find(|asset| asset.name == name)
        .ok_or(ApiError::RouteNotFound)?;
    let reply = if accepts_gzip(event) {
        Reply::raw(200, asset.content_type, asset.gzip).with_header("content-encoding", "gzip")
    } else {
        Reply::raw(200, asset.content_type, inflated(asset)?)
    };
    Ok(reply
        .with_header("cache-control", ASSET_CACHE)
        .with_header("vary", "accept-encoding"))
}

/// Whether the client takes gzip (`Accept-Encoding: gzip` or `*`, unless with `q=0`).
fn accepts_gzip(event: &Request) -> bool {
    let values = event.headers().get_all(ACCEPT_ENCODING);
    let codings = values
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','));
    codings.into_iter().any(|coding| {
        let mut parts = coding.split(';').map(str::trim);
        let name = parts.next().unwrap_or_default();
        let refused = parts.any(|param| {
            param
                .strip_prefix("q=")
                .and_then(|q| q.parse::<f32>().ok())
                .is_some_and(|q| q == 0.0)
        });
        (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
    })
}

fn inflated(asset: &'static Asset) -> Result<&'static [u8], ApiError> {
    if let Some(bytes) = asset.inflated.get() {
        return Ok(bytes);
    }
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(asset.gzip)
        .read_to_end(&mut bytes)
        .map_err(|error| ApiError::Internal(format!("inflating {}: {error}", asset.name)))?;
    Ok(asset.inflated.get_or_init(|| bytes))
}
