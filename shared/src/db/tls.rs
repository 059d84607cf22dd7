//! How the connection to MySQL is secured: the setting the pool is built with.

use std::fmt;

/// How the connection to MySQL is secured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseTls {
    /// Plain TCP: a local server.
    Off,
    /// TLS, verified against the public web roots.
    On,
    /// TLS, verified against one private CA (`DB_TLS_CA`) and nothing else.
    PrivateCa(TrustedCa),
    /// TLS, verified against the Amazon RDS and RDS Proxy roots (embedded) and the web roots.
    Rds,
}

/// The certificates of a private CA, read from a PEM file at cold start.
#[derive(Clone, PartialEq, Eq)]
pub struct TrustedCa {
    path: String,
    pem: std::sync::Arc<[u8]>,
}

impl TrustedCa {
    /// The certificates of `path`, already read and checked.
    pub(crate) fn new(path: &str, pem: Vec<u8>) -> Self {
        Self {
            path: path.to_owned(),
            pem: pem.into(),
        }
    }

    /// The file as read: PEM certificates (and whatever else it held, which is ignored).
    pub fn pem(&self) -> &[u8] {
        &self.pem
    }
}

impl fmt::Debug for TrustedCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TrustedCa({})", self.path)
    }
}
