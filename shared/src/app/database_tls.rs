//! `DB_TLS` and `DB_TLS_CA`: how the connection to MySQL is secured, and which CA verifies it,
//! read from the environment (the settings themselves are the database's: [`crate::db::tls`]).

use super::config::{non_empty, ConfigError};
pub use crate::db::tls::{DatabaseTls, TrustedCa};

impl DatabaseTls {
    /// The value of `DB_TLS`: `off` (the default), `on` or `rds`.
    pub fn parse(value: Option<&str>) -> Result<Self, ConfigError> {
        match value.map(str::to_ascii_lowercase).as_deref() {
            None | Some("off") => Ok(Self::Off),
            Some("on") => Ok(Self::On),
            Some("rds") => Ok(Self::Rds),
            Some(other) => Err(ConfigError::Invalid {
                name: "DB_TLS",
                reason: format!("expected off, on or rds, got {other:?}"),
            }),
        }
    }

    /// `DB_TLS`, and with `on` the optional `DB_TLS_CA`: a PEM file whose certificates are then
    /// the only ones trusted. The file is read and checked here, at cold start, so a wrong path
    /// or a file that holds no certificate stops the instance before its first request, by name.
    pub fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mode = Self::parse(non_empty(lookup, "DB_TLS").as_deref())?;
        let Some(path) = non_empty(lookup, "DB_TLS_CA") else {
            return Ok(mode);
        };
        match mode {
            Self::On => Ok(Self::PrivateCa(TrustedCa::read(&path)?)),
            // A CA without TLS is a configuration that believes it is verified while sending
            // everything in plain text; with rds the embedded roots already apply.
            _ => Err(ConfigError::Invalid {
                name: "DB_TLS_CA",
                reason: "applies only with DB_TLS=on".to_owned(),
            }),
        }
    }
}

impl TrustedCa {
    pub fn read(path: &str) -> Result<Self, ConfigError> {
        use rustls::pki_types::{pem::PemObject, CertificateDer};
        let invalid = |reason: String| ConfigError::Invalid {
            name: "DB_TLS_CA",
            reason,
        };
        let pem =
            std::fs::read(path).map_err(|error| invalid(format!("cannot read {path}: {error}")))?;
        let mut roots = rustls::RootCertStore::empty();
        for certificate in CertificateDer::pem_slice_iter(&pem) {
            let certificate = certificate
                .map_err(|error| invalid(format!("{path} is not valid PEM: {error}")))?;
            roots.add(certificate).map_err(|error| {
                invalid(format!("{path} holds an unusable certificate: {error}"))
            })?;
        }
        if roots.is_empty() {
            return Err(invalid(format!(
                "{path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
            )));
        }
        Ok(Self::new(path, pem))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn database_tls(vars: &[(&str, &str)]) -> Result<DatabaseTls, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        DatabaseTls::from_lookup(&|name: &str| vars.get(name).cloned())
    }

    /// Any PEM file of CA certificates will do for the parsing.
    const SOME_CA_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/certs/rds-ca-bundle.pem");

    #[test]
    fn a_private_ca_is_read_at_cold_start_and_only_with_tls_on() {
        match database_tls(&[("DB_TLS", "on"), ("DB_TLS_CA", SOME_CA_FILE)]).unwrap() {
            DatabaseTls::PrivateCa(ca) => {
                assert!(ca.pem().starts_with(b"-----BEGIN CERTIFICATE-----"));
                assert!(format!("{ca:?}").contains("rds-ca-bundle.pem"));
            }
            other => panic!("expected the private CA, got {other:?}"),
        }
        assert_eq!(database_tls(&[("DB_TLS", "on")]).unwrap(), DatabaseTls::On);
        for mode in ["off", "rds"] {
            let error = database_tls(&[("DB_TLS", mode), ("DB_TLS_CA", SOME_CA_FILE)]).unwrap_err();
            assert!(error.to_string().contains("DB_TLS_CA"), "{mode}: {error}");
        }
        let error = database_tls(&[("DB_TLS_CA", SOME_CA_FILE)]).unwrap_err();
        assert!(error.to_string().contains("DB_TLS=on"), "{error}");
    }

    #[test]
    fn an_unreadable_or_certificate_less_ca_file_is_refused_by_name() {
        let missing = database_tls(&[("DB_TLS", "on"), ("DB_TLS_CA", "/nonexistent/ca.pem")])
            .unwrap_err()
            .to_string();
        assert!(
            missing.contains("DB_TLS_CA") && missing.contains("cannot read"),
            "{missing}"
        );

        let dir = std::env::temp_dir().join(format!("users-api-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cases: [(&str, &[u8], &str); 3] = [
            ("empty.pem", b"", "no PEM certificate"),
            ("key-only.pem", b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "no PEM certificate"),
            ("garbage.pem", b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n", "unusable certificate"),
        ];
        for (name, contents, expected) in cases {
            let path = dir.join(name);
            std::fs::write(&path, contents).unwrap();
            let error = database_tls(&[("DB_TLS", "on"), ("DB_TLS_CA", path.to_str().unwrap())])
                .unwrap_err()
                .to_string();
            assert!(
                error.contains("DB_TLS_CA") && error.contains(expected),
                "{name}: {error}"
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
