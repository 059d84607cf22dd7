use super::*;
use std::collections::HashMap;

const KEY: &str = "0123456789abcdef0123456789abcdef";

fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::from_lookup(|name| vars.get(name).cloned())
}

#[test]
fn defaults_apply_when_only_required_variables_are_set() {
    let config = config(&[
        ("DATABASE_URL", "mysql://root@localhost/db"),
        ("SECRET_KEY", KEY),
    ])
    .unwrap();
    assert_eq!(config.token_ttl, Duration::from_secs(3600));
    assert_eq!(config.bcrypt_cost, 12);
    assert_eq!(config.login_max_failures, 5);
    assert_eq!(config.login_max_failures_total, 50);
    assert_eq!(config.login_max_failures_per_address, 100);
    assert_eq!(config.login_window, Duration::from_secs(900));
}

#[test]
fn a_token_lifetime_beyond_the_session_is_refused() {
    let base = [
        ("DATABASE_URL", "mysql://root@localhost/db"),
        ("SECRET_KEY", KEY),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut vars = base.to_vec();
        vars.extend_from_slice(extra);
        config(&vars)
    };
    let error = with(&[
        ("TOKEN_TTL_SECONDS", "7200"),
        ("SESSION_TTL_SECONDS", "3600"),
    ])
    .unwrap_err();
    assert!(
        matches!(
            error,
            ConfigError::Invalid {
                name: "TOKEN_TTL_SECONDS",
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("SESSION_TTL_SECONDS"), "{error}");
    let equal = with(&[
        ("TOKEN_TTL_SECONDS", "3600"),
        ("SESSION_TTL_SECONDS", "3600"),
    ])
    .unwrap();
    assert_eq!(equal.token_ttl, equal.session_ttl);
    // A short session without a token lifetime of its own gets the session's.
    let short = with(&[("SESSION_TTL_SECONDS", "600")]).unwrap();
    assert_eq!(short.token_ttl, Duration::from_secs(600));
}

#[test]
fn the_per_address_limit_is_at_least_the_per_cellnumber_one() {
    let base = [
        ("DATABASE_URL", "mysql://root@localhost/db"),
        ("SECRET_KEY", KEY),
    ];
    let mut vars = base.to_vec();
    vars.extend([
        ("LOGIN_MAX_FAILURES", "10"),
        ("LOGIN_MAX_FAILURES_PER_ADDRESS", "9"),
    ]);
    assert!(matches!(
        config(&vars).unwrap_err(),
        ConfigError::Invalid {
            name: "LOGIN_MAX_FAILURES_PER_ADDRESS",
            ..
        }
    ));
    let mut vars = base.to_vec();
    vars.push(("LOGIN_MAX_FAILURES_PER_ADDRESS", "7"));
    assert_eq!(config(&vars).unwrap().login_max_failures_per_address, 7);
}

#[test]
fn missing_variables_are_named() {
    assert_eq!(
        config(&[("SECRET_KEY", KEY)]).unwrap_err(),
        ConfigError::Missing("DATABASE_URL")
    );
    assert_eq!(
        config(&[
            ("DATABASE_URL", "mysql://root@localhost/db"),
            ("SECRET_KEY", "  ")
        ])
        .unwrap_err(),
        ConfigError::Missing("SIGNING_KEY")
    );
}

#[test]
fn invalid_values_are_named_with_the_reason() {
    let base = [
        ("DATABASE_URL", "mysql://root@localhost/db"),
        ("SECRET_KEY", KEY),
    ];
    for (name, value) in [
        ("BCRYPT_COST", "3"),
        ("BCRYPT_COST", "twelve"),
        ("TOKEN_TTL_SECONDS", "-5"),
        ("LOGIN_MAX_FAILURES", "0"),
    ] {
        let mut vars = base.to_vec();
        vars.push((name, value));
        match config(&vars).unwrap_err() {
            ConfigError::Invalid { name: reported, .. } => assert_eq!(reported, name),
            other => panic!("expected Invalid for {name}, got {other:?}"),
        }
    }
    let err = config(&[("DATABASE_URL", "postgres://x"), ("SECRET_KEY", KEY)]).unwrap_err();
    assert!(err.to_string().contains("DATABASE_URL"));
    let err = config(&[("DATABASE_URL", "mysql://x/db"), ("SECRET_KEY", "short")]).unwrap_err();
    assert!(err.to_string().contains("SECRET_KEY"));
}

#[test]
fn secrets_do_not_print() {
    let config = config(&[
        ("DATABASE_URL", "mysql://u:hunter2@h/db"),
        ("SECRET_KEY", KEY),
    ])
    .unwrap();
    let printed = format!("{config:?}");
    assert!(!printed.contains("hunter2"));
    assert!(!printed.contains(KEY));
}
