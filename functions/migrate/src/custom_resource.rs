//! The CloudFormation side of the `migrate` function: the custom resource's request and response,
//! and the PUT of the response to the pre-signed S3 URL CloudFormation gives, and to nothing else.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The resource's id never changes, so an Update never makes CloudFormation delete "the old one".
pub const PHYSICAL_RESOURCE_ID: &str = "users-api-schema";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CustomResourceRequest {
    pub request_type: String,
    #[serde(rename = "ResponseURL")]
    pub response_url: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    #[serde(default)]
    pub physical_resource_id: Option<String>,
    /// An Update's properties before it: `AppDatabaseUser` names the account a rename leaves
    /// behind.
    #[serde(default)]
    pub old_resource_properties: Option<Value>,
}

impl CustomResourceRequest {
    /// The application user name before this Update, when the stack gave one.
    pub fn previous_app_user(&self) -> Option<&str> {
        self.old_resource_properties
            .as_ref()?
            .get("AppDatabaseUser")?
            .as_str()
    }
}

#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct CustomResourceResponse {
    pub status: &'static str,
    pub reason: String,
    pub physical_resource_id: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    pub data: Value,
}

impl CustomResourceResponse {
    pub fn to(request: &CustomResourceRequest, outcome: Result<(String, Value), String>) -> Self {
        let (status, reason, data) = match outcome {
            Ok((reason, data)) => ("SUCCESS", reason, data),
            Err(reason) => ("FAILED", reason, Value::Object(Default::default())),
        };
        Self {
            status,
            // CloudFormation shows the reason in the stack's events; it keeps 4 KiB of it.
            reason: truncate(reason, 2000),
            physical_resource_id: request
                .physical_resource_id
                .clone()
                .unwrap_or_else(|| PHYSICAL_RESOURCE_ID.to_owned()),
            stack_id: request.stack_id.clone(),
            request_id: request.request_id.clone(),
            logical_resource_id: request.logical_resource_id.clone(),
            data,
        }
    }
}

fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

/// Whether `url` is where CloudFormation asks custom resources to answer: an `https` pre-signed
/// S3 URL (`<bucket>.s3.amazonaws.com`, `<bucket>.s3.<region>.amazonaws.com` or
/// `<bucket>.s3-<region>.amazonaws.com`), on the default port and without credentials. Anything
/// else came from a hand-made event, and the function must not PUT there from inside the VPC.
pub fn is_s3_response_url(url: &str) -> bool {
    let Ok(uri) = url.parse::<ureq::http::Uri>() else {
        return false;
    };
    let Some(authority) = uri.authority() else {
        return false;
    };
    if uri.scheme_str() != Some("https")
        || authority.as_str().contains('@')
        || authority.port_u16().is_some_and(|port| port != 443)
    {
        return false;
    }
    let host = authority.host().to_ascii_lowercase();
    let Some(rest) = host.strip_suffix(".amazonaws.com") else {
        return false;
    };
    let label = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    let bucket = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
    };
    // `<bucket>.s3`, `<bucket>.s3.<region>` or `<bucket>.s3-<region>`.
    if let Some(bucket_name) = rest.strip_suffix(".s3") {
        return bucket(bucket_name);
    }
    if let Some((before, region)) = rest.rsplit_once(".s3.") {
        return bucket(before) && label(region);
    }
    if let Some((before, region)) = rest.rsplit_once(".s3-") {
        return bucket(before) && label(region) && !region.contains('.');
    }
    false
}

/// Sends the custom resource's outcome to CloudFormation.
pub struct Responder {
    agent: ureq::Agent,
    /// An origin besides S3 that responses may go to: only the tests' local stand-in, and only
    /// through [`Responder::allowing_origin`]; nothing in the environment can set it.
    extra_origin: Option<String>,
}

impl Default for Responder {
    fn default() -> Self {
        Self::new()
    }
}

/// Bounds the PUT, so a response URL that does not answer cannot hold the function.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);

impl Responder {
    pub fn new() -> Self {
        let tls = ureq::tls::TlsConfig::builder()
            .provider(ureq::tls::TlsProvider::Rustls)
            .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .build();
        let agent = ureq::Agent::config_builder()
            .tls_config(tls)
            .timeout_global(Some(RESPONSE_TIMEOUT))
            // A redirect could lead anywhere; S3 answers a pre-signed PUT itself.
            .max_redirects(0)
            .build()
            .into();
        Self {
            agent,
            extra_origin: None,
        }
    }

    /// A responder that also PUTs to `origin` (e.g. `http://127.0.0.1:4321`): for tests.
    pub fn allowing_origin(origin: &str) -> Self {
        Self {
            extra_origin: Some(origin.trim_end_matches('/').to_owned()),
            ..Self::new()
        }
    }

    pub fn allows(&self, url: &str) -> bool {
        if is_s3_response_url(url) {
            return true;
        }
        self.extra_origin.as_deref().is_some_and(|origin| {
            url.strip_prefix(origin)
                .is_some_and(|rest| rest.starts_with('/'))
        })
    }

    /// PUTs `response` as CloudFormation expects it: JSON with an empty content type (the URL is
    /// signed without one).
    pub async fn send(&self, url: &str, response: &CustomResourceResponse) -> Result<(), String> {
        if !self.allows(url) {
            return Err(
                "the ResponseURL is not an https pre-signed S3 URL; no response was sent".into(),
            );
        }
        let body = serde_json::to_vec(response).map_err(|e| e.to_string())?;
        let agent = self.agent.clone();
        let url = url.to_owned();
        tokio::task::spawn_blocking(move || {
            let answer = agent
                .put(&url)
                .header("content-type", "")
                .send(&body[..])
                .map_err(|error| format!("PUT to the response URL failed: {error}"))?;
            if answer.status().is_success() {
                Ok(())
            } else {
                Err(format!("the response URL answered {}", answer.status()))
            }
        })
        .await
        .map_err(|error| error.to_string())?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_pre_signed_s3_urls_are_response_urls() {
        for good in [
            "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/arn%3Aaws/x?X-Amz-Signature=a",
            "https://cloudformation-custom-resource-response-euwest1.s3.eu-west-1.amazonaws.com/x?y=z",
            "https://cloudformation-custom-resource-response-euwest1.s3-eu-west-1.amazonaws.com/x",
            "https://my.bucket.s3.amazonaws.com:443/x",
        ] {
            assert!(is_s3_response_url(good), "{good}");
        }
        for bad in [
            "http://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x",
            "https://169.254.169.254/latest/meta-data",
            "https://internal.example.com/x",
            "https://s3.amazonaws.com.attacker.example/x",
            "https://bucket.s3.amazonaws.com.attacker.example/x",
            "https://attacker.example/.s3.amazonaws.com",
            "https://user:pass@bucket.s3.amazonaws.com/x",
            "https://bucket.s3.amazonaws.com:8443/x",
            "https://bucket.lambda.eu-west-1.amazonaws.com/x",
            "https://.s3.amazonaws.com/x",
            "https://bucket.s3-eu-west-1.internal.amazonaws.com/x",
            "file:///etc/passwd",
            "not a url",
            "",
        ] {
            assert!(!is_s3_response_url(bad), "{bad}");
        }
    }

    #[test]
    fn a_test_origin_is_allowed_only_when_given_and_only_as_a_prefix_with_a_path() {
        let responder = Responder::allowing_origin("http://127.0.0.1:4321");
        assert!(responder.allows("http://127.0.0.1:4321/cfn?x=1"));
        assert!(!responder.allows("http://127.0.0.1:43210/cfn"));
        assert!(!Responder::new().allows("http://127.0.0.1:4321/cfn"));
    }
}
