//! The client's address: what the login throttle counts per address and the audit log records.
//! API Gateway's `sourceIp` by default; behind the stack's CloudFront distribution (the
//! `EdgeProtection` option), the viewer address CloudFront reports, but only on a request that
//! proves it came through that distribution.

use std::fmt;
use std::net::IpAddr;

use crate::secret::Secret;

/// What CloudFront adds to origin requests: the viewer's address and port (`198.51.100.7:4711`,
/// `2001:db8::1:4711`). A client can send it too, so it counts only next to the origin secret.
pub const VIEWER_ADDRESS_HEADER: &str = "cloudfront-viewer-address";
/// What the stack's distribution adds to every origin request, with the value of
/// `EDGE_ORIGIN_SECRET`, overwriting any header of that name the viewer sent.
pub const ORIGIN_VERIFY_HEADER: &str = "x-origin-verify";

/// How requests reach the functions.
#[derive(Debug, Clone)]
pub enum Edge {
    /// Straight from API Gateway (the default): its `sourceIp` is the client.
    Direct,
    /// Only through the stack's CloudFront distribution, which sends `secret` in
    /// [`ORIGIN_VERIFY_HEADER`]: a request without it went around CloudFront (and its WAF) and is
    /// refused; with it, the client is CloudFront's viewer address.
    CloudFront { secret: Secret },
}

impl Edge {
    /// `EDGE_ORIGIN_SECRET`: empty or missing is [`Edge::Direct`].
    pub fn from_setting(origin_secret: Option<&str>) -> Self {
        match origin_secret.map(str::trim).filter(|s| !s.is_empty()) {
            Some(secret) => Self::CloudFront {
                secret: Secret::new(secret),
            },
            None => Self::Direct,
        }
    }

    /// Whether a request carrying `origin_header` may be served: always when direct; behind
    /// CloudFront only with the distribution's secret (compared in constant time).
    pub fn admits(&self, origin_header: Option<&[u8]>) -> bool {
        match self {
            Self::Direct => true,
            Self::CloudFront { secret } => {
                origin_header.is_some_and(|given| same_bytes(given, secret.expose().as_bytes()))
            }
        }
    }

    /// The client: API Gateway's `source_ip`, or, for a request [`Edge::admits`] behind
    /// CloudFront, the address of its `viewer_address` header (API Gateway's, CloudFront's edge,
    /// when that header is missing or malformed).
    pub fn client(
        &self,
        source_ip: Option<&str>,
        origin_header: Option<&[u8]>,
        viewer_address: Option<&str>,
    ) -> SourceIp {
        if matches!(self, Self::CloudFront { .. }) && self.admits(origin_header) {
            if let Some(address) = viewer_address.and_then(viewer_ip) {
                return SourceIp(address.to_string());
            }
        }
        SourceIp::parse(source_ip)
    }
}

/// The address of `CloudFront-Viewer-Address`: everything before the last `:` (the port).
fn viewer_ip(raw: &str) -> Option<IpAddr> {
    let (address, port) = raw.trim().rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    let address = address
        .strip_prefix('[')
        .and_then(|a| a.strip_suffix(']'))
        .unwrap_or(address);
    address.parse().ok()
}

/// Equality that takes as long whatever the first difference, so response timing does not
/// reveal the secret byte by byte.
fn same_bytes(given: &[u8], expected: &[u8]) -> bool {
    given.len() == expected.len()
        && given
            .iter()
            .zip(expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// A client address in canonical form, or `unknown` when the event carries none (a hand-made
/// event). It comes from the request context API Gateway writes, never from a header the client
/// sets (`X-Forwarded-For` can say anything).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceIp(String);

impl SourceIp {
    pub const UNKNOWN: &'static str = "unknown";

    /// The address of `raw`, canonical (so `::ffff:0:1` and its other spellings count as one);
    /// anything that is not an IP address is `unknown`.
    pub fn parse(raw: Option<&str>) -> Self {
        match raw
            .map(str::trim)
            .and_then(|text| text.parse::<IpAddr>().ok())
        {
            Some(address) => Self(address.to_string()),
            None => Self(Self::UNKNOWN.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the event named an address (every request without one shares `unknown`).
    pub fn is_known(&self) -> bool {
        self.0 != Self::UNKNOWN
    }
}

impl fmt::Display for SourceIp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_canonical_and_anything_else_is_unknown() {
        assert_eq!(
            SourceIp::parse(Some("203.0.113.10")).as_str(),
            "203.0.113.10"
        );
        assert_eq!(
            SourceIp::parse(Some("2001:DB8:0:0::1")).as_str(),
            "2001:db8::1"
        );
        for raw in [
            None,
            Some(""),
            Some("x"),
            Some("1.2.3.4, 5.6.7.8"),
            Some("'; --"),
        ] {
            assert_eq!(SourceIp::parse(raw).as_str(), SourceIp::UNKNOWN, "{raw:?}");
        }
        // The longest canonical address still fits the 45-character column.
        let longest = SourceIp::parse(Some("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
        assert!(longest.as_str().len() <= 45);
    }

    #[test]
    fn direct_requests_are_the_gateway_address_whatever_headers_they_carry() {
        let edge = Edge::from_setting(Some("  "));
        assert!(matches!(edge, Edge::Direct));
        assert!(edge.admits(None));
        let client = edge.client(
            Some("198.51.100.1"),
            Some(b"anything"),
            Some("203.0.113.9:443"),
        );
        assert_eq!(client.as_str(), "198.51.100.1");
    }

    #[test]
    fn behind_cloudfront_only_the_origin_secret_makes_the_viewer_address_count() {
        let edge = Edge::from_setting(Some("s3cret-origin-value"));
        let edge_ip = Some("130.176.0.1");
        // Through the distribution: the viewer, IPv4 or IPv6, canonical.
        let secret = Some(&b"s3cret-origin-value"[..]);
        assert!(edge.admits(secret));
        assert_eq!(
            edge.client(edge_ip, secret, Some("203.0.113.9:4711"))
                .as_str(),
            "203.0.113.9"
        );
        assert_eq!(
            edge.client(edge_ip, secret, Some("2001:DB8:0::1:4711"))
                .as_str(),
            "2001:db8::1"
        );
        assert_eq!(
            edge.client(edge_ip, secret, Some("[2001:db8::1]:4711"))
                .as_str(),
            "2001:db8::1"
        );
        // A malformed or missing viewer header: CloudFront's edge, never the header's text.
        for bad in [
            None,
            Some("203.0.113.9"),
            Some("x:1"),
            Some("1.2.3.4:99999"),
            Some("1.2.3.4, 5.6.7.8:1"),
        ] {
            assert_eq!(
                edge.client(edge_ip, secret, bad).as_str(),
                "130.176.0.1",
                "{bad:?}"
            );
        }
        // Around the distribution (no or a wrong secret): refused, and the header never counts.
        for wrong in [
            None,
            Some(&b""[..]),
            Some(&b"s3cret-origin-valuE"[..]),
            Some(&b"s3cret-origin-value "[..]),
        ] {
            assert!(!edge.admits(wrong), "{wrong:?}");
            assert_eq!(
                edge.client(edge_ip, wrong, Some("203.0.113.9:4711"))
                    .as_str(),
                "130.176.0.1"
            );
        }
    }
}
