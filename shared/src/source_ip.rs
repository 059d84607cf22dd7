//! The client's address as API Gateway saw it: what the login throttle counts per address.

use std::fmt;
use std::net::IpAddr;

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
}
