//! A verifier outside this code base: PyJWT's `PyJWKClient`, given only the discovery URL of the
//! API served as `make serve` serves it, verifies a real access token, and refuses it once the
//! key it names is no longer in the JWKS.

use std::process::Command;

use api_tests::serve::{workspace_root, Served};
use api_tests::{insert_user, test_app, test_env, TestDb};

/// Runs the verifier: its exit status and what it printed.
fn pyjwt(discovery_url: &str, token: &str) -> (bool, String) {
    let root = workspace_root();
    let output = Command::new(root.join(".venv/bin/python3"))
        .arg(root.join("tests/jwks/verify.py"))
        .args([discovery_url, "users-api", token])
        .output()
        .expect("the project's .venv has python3 with PyJWT: run `make test-tools`");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), printed)
}

fn served_with_key(db: &TestDb, key: &str) -> Served {
    let mut env = test_env(db);
    env.retain(|(name, _)| *name != "SIGNING_KEY");
    env.push(("SIGNING_KEY", key.to_owned()));
    Served::start(&env)
}

#[test]
fn pyjwt_verifies_a_token_from_the_discovery_url_alone_and_refuses_it_when_its_key_is_gone() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let db = runtime.block_on(TestDb::new());
    let app = test_app(&db);
    let user_id = runtime.block_on(insert_user(&app, 2, "+15550002001", "user-password-1"));

    // Signing with the suite's key (test_env's SIGNING_KEY).
    let server = Served::start(&test_env(&db));
    let grant = server.login("+15550002001", "user-password-1");
    assert_eq!(grant.status, 200, "{}\n{}", grant.body, server.logs());
    let token = grant.body["token"].as_str().unwrap().to_owned();
    let discovery_url = format!("{}/.well-known/openid-configuration", server.base);
    let discovery = server.call("GET", "/.well-known/openid-configuration", None, None);
    assert_eq!(discovery.status, 200, "{}", discovery.body);
    assert_eq!(
        discovery.body["issuer"], server.base,
        "the local server's own URL"
    );

    let (verified, printed) = pyjwt(&discovery_url, &token);
    assert!(verified, "PyJWT refused the token: {printed}");
    let claims: serde_json::Value = serde_json::from_str(printed.trim()).unwrap();
    assert_eq!(claims["sub"], user_id.to_string());
    assert_eq!(claims["iss"], server.base);
    drop(server);

    // The deployment now publishes another key only: the token's key is gone from the JWKS.
    let server = served_with_key(&db, &api_tests::tls::rsa_private_key_pem());
    let discovery_url = format!("{}/.well-known/openid-configuration", server.base);
    let (verified, printed) = pyjwt(&discovery_url, &token);
    assert!(
        !verified,
        "PyJWT accepted a token of a key no longer published"
    );
    assert!(
        printed.starts_with("refused: PyJWKClientError"),
        "{printed}"
    );
    println!("third-party verifier (PyJWT PyJWKClient): the token verified from the discovery URL alone; refused once its key left the JWKS ({})", printed.trim());
}
