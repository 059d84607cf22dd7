//! Secrets in AWS: read from Secrets Manager at cold start, never from environment variables, and
//! again when they are rotated (see `db::pool` and `auth::key_ring`). Locally (and in tests)
//! `DATABASE_URL` and `SIGNING_KEY` are given directly and no AWS call is made.
//!
//! In AWS the template sets `DB_HOST`, `DB_PORT`, `DB_NAME`, `DB_SECRET_ARN` (a secret holding
//! `{"username", "password"}` as RDS manages it), `JWT_SECRET_ARN` (a plain-string secret: the
//! signing key's PKCS#8 PEM, or the HS256 key of a deployment from before RS256) and
//! `MFA_KEYS_SECRET_ARN` (a plain string: the `MFA_KEYS` that seal TOTP secrets).

use std::collections::HashMap;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::Deserialize;

use crate::app::config::{ConfigError, Secret};
use crate::auth::key_ring::KeyVersion;
use crate::auth::signing_key::is_pem;
pub use crate::aws::secrets_manager::client;
use crate::aws::secrets_manager::{fetch, fetch_version, SecretsManagerError};

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error(transparent)]
    Read(#[from] SecretsManagerError),
    #[error("secret {arn} is not in the expected form: {reason}")]
    Malformed { arn: String, reason: String },
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// The database secret as RDS writes it; `host`, `port` and `dbname` are there when the secret
/// was made for a specific instance, and used when the environment does not name them.
#[derive(Deserialize)]
struct DatabaseSecretValue {
    username: String,
    password: String,
    host: Option<String>,
    port: Option<serde_json::Value>,
    dbname: Option<String>,
}

/// Characters of a user name or password that must be escaped inside a URL.
const USERINFO: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// What [`resolve`] read from Secrets Manager, kept so that it can be read again when it changes
/// under a running instance (rotation).
#[derive(Default)]
pub struct Resolved {
    pub database: Option<DatabaseSecret>,
    pub signing_key: Option<SigningKeySecret>,
    /// The signing key's versions, newest first: `AWSCURRENT`, and `AWSPREVIOUS` when it has
    /// one (tokens signed with it before a rotation stay valid until they expire).
    pub signing_key_versions: Vec<KeyVersion>,
}

/// Fills `DATABASE_URL` and the signing key into `vars` from Secrets Manager when they are
/// absent and the ARNs to read them from are present. Both secrets are read concurrently. The
/// signing key's current version goes to `SIGNING_KEY` when it is a PEM (RSA), to `SECRET_KEY`
/// when it is still the HS256 secret of before the switch (until the first rotation).
pub async fn resolve(vars: &mut HashMap<String, String>) -> Result<Resolved, SecretsError> {
    let present = |vars: &HashMap<String, String>, name: &str| {
        vars.get(name).is_some_and(|v| !v.trim().is_empty())
    };
    let db_arn = (!present(vars, "DATABASE_URL"))
        .then(|| vars.get("DB_SECRET_ARN").cloned())
        .flatten();
    let jwt_arn = (!present(vars, "SECRET_KEY") && !present(vars, "SIGNING_KEY"))
        .then(|| vars.get("JWT_SECRET_ARN").cloned())
        .flatten();
    // The keys that seal TOTP secrets: a plain-string secret, `id:base64,...` newest first.
    let mfa_arn = (!present(vars, "MFA_KEYS"))
        .then(|| vars.get("MFA_KEYS_SECRET_ARN").cloned())
        .flatten()
        .filter(|arn| !arn.trim().is_empty());
    if db_arn.is_none() && jwt_arn.is_none() && mfa_arn.is_none() {
        return Ok(Resolved::default());
    }
    let client = client().await?;
    let database = db_arn.map(|arn| DatabaseSecret {
        client: client.clone(),
        arn,
        location: ["DB_HOST", "DB_PORT", "DB_NAME"]
            .into_iter()
            .filter_map(|name| Some((name.to_owned(), vars.get(name)?.clone())))
            .collect(),
    });
    let signing_key = jwt_arn.map(|arn| SigningKeySecret {
        client: client.clone(),
        arn,
    });
    let (url, keys, mfa_keys) = tokio::join!(
        async {
            match &database {
                Some(secret) => secret.url().await.map(Some),
                None => Ok(None),
            }
        },
        async {
            match &signing_key {
                Some(secret) => secret.versions().await.map(Some),
                None => Ok(None),
            }
        },
        async {
            match &mfa_arn {
                Some(arn) => fetch(&client, arn, None).await.map(Some),
                None => Ok(None),
            }
        }
    );
    if let Some(mfa_keys) = mfa_keys? {
        vars.insert("MFA_KEYS".into(), mfa_keys_of(&mfa_keys));
    }
    if let Some(url) = url? {
        vars.insert("DATABASE_URL".into(), url);
    }
    let mut signing_key_versions = Vec::new();
    if let Some(versions) = keys? {
        let current = versions[0].text.expose();
        let name = if is_pem(current) {
            "SIGNING_KEY"
        } else {
            "SECRET_KEY"
        };
        vars.insert(name.into(), current.to_owned());
        signing_key_versions = versions;
    }
    Ok(Resolved {
        database,
        signing_key,
        signing_key_versions,
    })
}

/// The application's database user (see [`crate::db::account`]), from the secret
/// `APP_DB_SECRET_ARN` names: what the `migrate` function sets up. `None` when it names none.
pub async fn app_user(
    vars: &HashMap<String, String>,
) -> Result<Option<crate::db::account::AppUser>, SecretsError> {
    let Some(arn) = vars
        .get("APP_DB_SECRET_ARN")
        .filter(|v| !v.trim().is_empty())
    else {
        return Ok(None);
    };
    let text = fetch(&client().await?, arn, None).await?;
    let value: DatabaseSecretValue =
        serde_json::from_str(&text).map_err(|_| SecretsError::Malformed {
            arn: arn.to_owned(),
            reason: "expected JSON with username and password".into(),
        })?;
    Ok(Some(crate::db::account::AppUser {
        username: value.username,
        password: Secret::new(value.password),
    }))
}

/// The database secret, and where the database is (`DB_HOST`, `DB_PORT`, `DB_NAME` of the
/// environment), to compose its URL again.
#[derive(Clone)]
pub struct DatabaseSecret {
    client: aws_sdk_secretsmanager::Client,
    arn: String,
    location: HashMap<String, String>,
}

impl DatabaseSecret {
    /// `mysql://user:password@host:port/db` from the secret's current version.
    pub async fn url(&self) -> Result<String, SecretsError> {
        let text = fetch(&self.client, &self.arn, None).await?;
        database_url(&self.arn, &text, &self.location)
    }

    /// For [`crate::db::pool::DbPool::with_credential_source`].
    pub fn into_source(self) -> crate::db::pool::CredentialSource {
        std::sync::Arc::new(move || {
            let secret = self.clone();
            Box::pin(async move { secret.url().await.map_err(|error| error.to_string()) })
        })
    }
}

/// The token signing key's secret: a plain string, rotated by the stack's rotation function.
#[derive(Clone)]
pub struct SigningKeySecret {
    client: aws_sdk_secretsmanager::Client,
    arn: String,
}

impl SigningKeySecret {
    /// For [`crate::auth::token::TokenKeys::with_source`]: the versions, newest first.
    pub fn into_source(self) -> crate::auth::key_ring::KeySource {
        std::sync::Arc::new(move || {
            let secret = self.clone();
            Box::pin(async move { secret.versions().await.map_err(|error| error.to_string()) })
        })
    }

    /// `AWSCURRENT` and, when there is one, `AWSPREVIOUS`, read concurrently; newest first.
    pub async fn versions(&self) -> Result<Vec<KeyVersion>, SecretsError> {
        let (current, previous) = tokio::join!(
            fetch_version(&self.client, &self.arn, None),
            fetch_version(&self.client, &self.arn, Some("AWSPREVIOUS"))
        );
        let previous = match previous {
            Ok(version) => Some(version),
            Err(SecretsManagerError::NoSuchVersion { .. }) => None,
            Err(error) => return Err(error.into()),
        };
        Ok(std::iter::once(current?)
            .chain(previous)
            .map(|version| KeyVersion {
                text: Secret::new(version.text),
                created: version.created,
            })
            .collect())
    }
}

/// The generated secret of the template (`{"id": "k1", "key": "<64 random characters>"}`, as
/// `GenerateSecretString` can make it) as `MFA_KEYS`: its one key is the SHA-256 of that random
/// text. Any other value (an operator's `id:base64,...` list, newest first) is taken as it is.
fn mfa_keys_of(secret: &str) -> String {
    #[derive(Deserialize)]
    struct Generated {
        id: String,
        key: String,
    }
    match serde_json::from_str::<Generated>(secret) {
        Ok(generated) => {
            use base64::Engine;
            let key = crate::auth::random::sha256(generated.key.as_bytes());
            format!(
                "{}:{}",
                generated.id,
                base64::engine::general_purpose::STANDARD.encode(key)
            )
        }
        Err(_) => secret.to_owned(),
    }
}

/// `mysql://user:password@host:port/db` from the secret and `DB_HOST`/`DB_PORT`/`DB_NAME`.
fn database_url(
    arn: &str,
    secret: &str,
    vars: &HashMap<String, String>,
) -> Result<String, SecretsError> {
    let malformed = |reason: String| SecretsError::Malformed {
        arn: arn.to_owned(),
        reason,
    };
    let secret: DatabaseSecretValue = serde_json::from_str(secret)
        .map_err(|_| malformed("expected JSON with username and password".into()))?;
    let host = vars
        .get("DB_HOST")
        .cloned()
        .or(secret.host)
        .ok_or(ConfigError::Missing("DB_HOST"))?;
    let port = match vars.get("DB_PORT") {
        Some(port) => port.clone(),
        None => match secret.port {
            Some(serde_json::Value::Number(n)) => n.to_string(),
            Some(serde_json::Value::String(s)) => s,
            _ => "3306".to_owned(),
        },
    };
    if port.parse::<u16>().is_err() {
        return Err(ConfigError::Invalid {
            name: "DB_PORT",
            reason: format!("{port:?} is not a port"),
        }
        .into());
    }
    let name = vars
        .get("DB_NAME")
        .cloned()
        .or(secret.dbname)
        .ok_or(ConfigError::Missing("DB_NAME"))?;
    Ok(format!(
        "mysql://{}:{}@{host}:{port}/{name}",
        utf8_percent_encode(&secret.username, USERINFO),
        utf8_percent_encode(&secret.password, USERINFO),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_database_url_is_composed_with_escaped_credentials() {
        let env = vars(&[
            ("DB_HOST", "db.internal"),
            ("DB_PORT", "3307"),
            ("DB_NAME", "users"),
        ]);
        let url =
            database_url("arn", r#"{"username":"app","password":"p@ss:w/rd%"}"#, &env).unwrap();
        assert_eq!(url, "mysql://app:p%40ss%3Aw%2Frd%25@db.internal:3307/users");
        let opts = mysql_async::Opts::from_url(&url).unwrap();
        assert_eq!(opts.pass(), Some("p@ss:w/rd%"));
    }

    #[test]
    fn the_secret_fills_in_what_the_environment_does_not_name() {
        let secret = r#"{"username":"a","password":"b","host":"h","port":3306,"dbname":"d","engine":"mysql"}"#;
        assert_eq!(
            database_url("arn", secret, &vars(&[])).unwrap(),
            "mysql://a:b@h:3306/d"
        );
    }

    #[test]
    fn malformed_secrets_are_reported_without_their_content() {
        let error = database_url(
            "arn:x",
            "not json hunter2",
            &vars(&[("DB_HOST", "h"), ("DB_NAME", "d")]),
        )
        .unwrap_err();
        assert!(error.to_string().contains("arn:x"));
        assert!(!error.to_string().contains("hunter2"));
        let error = database_url(
            "arn:x",
            r#"{"username":"a","password":"b"}"#,
            &vars(&[("DB_NAME", "d")]),
        )
        .unwrap_err();
        assert!(error.to_string().contains("DB_HOST"));
    }

    #[test]
    fn a_generated_mfa_secret_becomes_one_key_and_a_list_stays_as_it_is() {
        let keys = mfa_keys_of(
            r#"{"id":"k1","key":"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZab"}"#,
        );
        assert!(keys.starts_with("k1:"), "{keys}");
        assert!(crate::auth::sealing::SealingKeys::parse(&keys).is_ok());
        assert_eq!(mfa_keys_of("k2:abc,k1:def"), "k2:abc,k1:def");
    }

    #[tokio::test]
    async fn nothing_is_fetched_when_the_values_are_given() {
        let mut env = vars(&[
            ("DATABASE_URL", "mysql://root@localhost/db"),
            ("SECRET_KEY", "k"),
            (
                "DB_SECRET_ARN",
                "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db",
            ),
        ]);
        resolve(&mut env).await.unwrap();
        assert_eq!(env["DATABASE_URL"], "mysql://root@localhost/db");
    }
}
