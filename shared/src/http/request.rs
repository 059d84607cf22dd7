//! Reading a request: who sends it (the bearer token, the client's address), its JSON body, its
//! path and query parameters.

use lambda_http::http::header::{AUTHORIZATION, CONTENT_TYPE};
use lambda_http::http::HeaderValue;
use lambda_http::{Request, RequestExt};
use serde::de::DeserializeOwned;

use crate::auth::source_ip::{Edge, SourceIp, ORIGIN_VERIFY_HEADER, VIEWER_ADDRESS_HEADER};
use crate::auth::{self, Authenticated};
use crate::error::{ApiError, FieldError, MAX_BODY_BYTES};
use crate::App;

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
pub(super) fn edge() -> &'static Edge {
    static EDGE: std::sync::OnceLock<Edge> = std::sync::OnceLock::new();
    EDGE.get_or_init(|| Edge::from_setting(std::env::var("EDGE_ORIGIN_SECRET").ok().as_deref()))
}

pub(super) fn header<'a>(event: &'a Request, name: &str) -> Option<&'a [u8]> {
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

/// The API's base URL as API Gateway names it: `https://<domain>`, with `/<stage>` unless the
/// stage is `$default` (whose URL has none). A loopback domain is the local server (`make serve`),
/// which speaks plain HTTP. `None` outside API Gateway.
pub fn base_url(event: &Request) -> Option<String> {
    use lambda_http::request::RequestContext;
    let (domain, stage) = match event.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => {
            (context.domain_name.as_deref(), context.stage.as_deref())
        }
        Some(RequestContext::ApiGatewayV1(context)) => {
            (context.domain_name.as_deref(), context.stage.as_deref())
        }
        _ => (None, None),
    };
    let plausible = |host: &&str| {
        !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.:".contains(&b))
    };
    let domain = domain.filter(plausible)?;
    let loopback = |authority: &str| {
        let host = authority
            .rsplit_once(':')
            .map_or(authority, |(host, _)| host);
        host == "localhost" || host == "127.0.0.1"
    };
    if loopback(domain) {
        // The local server (cargo lambda watch) names no port in the context; the client reached
        // it at the address of its Host header, on this machine only.
        let host = header(event, "host")
            .and_then(|value| std::str::from_utf8(value).ok())
            .filter(plausible)
            .filter(|host| loopback(host))
            .unwrap_or(domain);
        return Some(format!("http://{host}"));
    }
    Some(
        match stage.filter(|stage| !stage.is_empty() && *stage != "$default") {
            Some(stage) => format!("https://{domain}/{stage}"),
            None => format!("https://{domain}"),
        },
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
