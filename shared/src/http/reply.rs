//! Responses: every answer of the API is built here, with the headers every response carries.

use lambda_http::http::header::CONTENT_TYPE;
use lambda_http::http::HeaderValue;
use lambda_http::{Body, Response};
use serde::Serialize;

use crate::error::ApiError;

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

pub(super) fn reply_response(reply: Reply) -> Response<Body> {
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
