//! The token-attack matrix: each case a forged, altered or dead token presented to a real
//! handler with an API Gateway event; every one must be 401 with `WWW-Authenticate: Bearer` and
//! a JSON detail (`Answer::assert_error`), and reach no data.
//!
//! The apps sign RS256 with the suite's key. A case that changes one claim re-signs it with that
//! same key (the control shows the unchanged claims so signed are accepted), so the claim alone
//! is what gets it refused; the algorithm cases sign with what an attacker has: the public key,
//! or an HS256 secret the deployment never had.

use api_tests::tokens::{hmac_signed, rs256_signed, test_rsa_key, token_part};
use api_tests::{call, fixture, token, Event, Fixture, ADMIN_CELL, ADMIN_PASS, TEST_SECRET};
use api_tests::{USER_CELL, USER_PASS};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

/// The header the apps write: RS256 and the suite key's kid.
fn our_header() -> Value {
    json!({"alg": "RS256", "typ": "JWT", "kid": test_rsa_key().kid})
}

/// `claims` signed as the apps sign them.
fn resigned(claims: &Value) -> String {
    rs256_signed(&our_header(), claims)
}

/// What anyone can read from the JWKS: the modulus, as bytes and as the JWK's base64url text.
fn public_key_secrets() -> [Vec<u8>; 2] {
    let key = test_rsa_key();
    [key.public_components().0, key.jwk.n.into_bytes()]
}

fn claims_of(token: &str) -> Value {
    token_part(token, 1)
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A signed-in normal user, and the claims of its real, recorded token: altering one claim at a
/// time shows that claim alone is what gets the token refused.
async fn signed_in() -> (Fixture, Value) {
    let f = fixture().await;
    let claims = claims_of(&f.user);
    (f, claims)
}

/// The attack fails: 401 with a Bearer challenge on `/me` and on an admin route.
async fn assert_refused(f: &Fixture, token: &str) {
    call!(get_me, &f.app, Event::v2("get-me").bearer(token)).assert_error(401);
    call!(list_users, &f.app, Event::v2("list-users").bearer(token)).assert_error(401);
}

#[tokio::test]
async fn control_the_unaltered_claims_resigned_with_our_key_are_accepted() {
    let (f, claims) = signed_in().await;
    assert_eq!(token_part(&f.user, 0), our_header(), "the apps sign so");
    let token = resigned(&claims);
    assert_eq!(
        call!(get_me, &f.app, Event::v2("get-me").bearer(&token)).status,
        200
    );
}

#[tokio::test]
async fn alg_none() {
    let (f, claims) = signed_in().await;
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    assert_refused(&f, &unsigned).await;
}

#[tokio::test]
async fn hs256_signed_with_another_key() {
    let (f, claims) = signed_in().await;
    let header = json!({"alg": "HS256", "typ": "JWT"});
    assert_refused(
        &f,
        &hmac_signed(&header, &claims, b"another-key-another-key-another-key"),
    )
    .await;
}

/// HS256 under the key of a deployment from before RS256, which this one never was.
#[tokio::test]
async fn hs256_signed_with_a_secret_the_deployment_does_not_have() {
    let (f, claims) = signed_in().await;
    let header = json!({"alg": "HS256", "typ": "JWT"});
    assert_refused(&f, &hmac_signed(&header, &claims, TEST_SECRET.as_bytes())).await;
}

/// The confused-algorithm attack: HS256 with the published RSA key as the HMAC secret.
#[tokio::test]
async fn hs256_with_the_public_key_as_its_secret() {
    let (f, claims) = signed_in().await;
    let kid = test_rsa_key().kid;
    for secret in public_key_secrets() {
        for header in [
            json!({"alg": "HS256", "typ": "JWT", "kid": kid}),
            json!({"alg": "HS256", "typ": "JWT"}),
        ] {
            assert_refused(&f, &hmac_signed(&header, &claims, &secret)).await;
        }
    }
}

#[tokio::test]
async fn rs256_header_over_an_hmac_with_the_public_key() {
    let (f, claims) = signed_in().await;
    for secret in public_key_secrets() {
        assert_refused(&f, &hmac_signed(&our_header(), &claims, &secret)).await;
    }
}

#[tokio::test]
async fn es256_header_over_an_hmac_with_the_public_key() {
    let (f, claims) = signed_in().await;
    let header = json!({"alg": "ES256", "typ": "JWT", "kid": test_rsa_key().kid});
    for secret in public_key_secrets() {
        assert_refused(&f, &hmac_signed(&header, &claims, &secret)).await;
    }
}

/// Signed with our key, but naming another algorithm of the family or no key at all.
#[tokio::test]
async fn rs512_or_no_kid_over_our_signature() {
    let (f, claims) = signed_in().await;
    let kid = test_rsa_key().kid;
    for header in [
        json!({"alg": "RS512", "typ": "JWT", "kid": kid}),
        json!({"alg": "RS256", "typ": "JWT"}),
    ] {
        assert_refused(&f, &rs256_signed(&header, &claims)).await;
    }
}

#[tokio::test]
async fn kid_header_pointing_elsewhere() {
    let (f, claims) = signed_in().await;
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": "../../../../dev/null"});
    assert_refused(&f, &rs256_signed(&header, &claims)).await;
}

#[tokio::test]
async fn jku_header_pointing_elsewhere() {
    let (f, claims) = signed_in().await;
    let mut header = our_header();
    header["jku"] = json!("https://attacker.example/jwks.json");
    assert_refused(&f, &rs256_signed(&header, &claims)).await;
}

#[tokio::test]
async fn role_claim_edited_without_the_key() {
    let (f, _) = signed_in().await;
    let (header, rest) = f.user.split_once('.').unwrap();
    let (_, signature) = rest.split_once('.').unwrap();
    let mut claims = claims_of(&f.user);
    claims["role"] = json!(1);
    let edited = format!(
        "{header}.{}.{signature}",
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    assert_refused(&f, &edited).await;
}

#[tokio::test]
async fn exp_in_the_past() {
    let (f, mut claims) = signed_in().await;
    claims["exp"] = json!(now() - 60);
    assert_refused(&f, &resigned(&claims)).await;
}

#[tokio::test]
async fn exp_missing() {
    let (f, mut claims) = signed_in().await;
    claims.as_object_mut().unwrap().remove("exp");
    assert_refused(&f, &resigned(&claims)).await;
}

#[tokio::test]
async fn nbf_in_the_future_beyond_leeway() {
    let (f, mut claims) = signed_in().await;
    claims["nbf"] = json!(now() + 60);
    assert_refused(&f, &resigned(&claims)).await;
}

#[tokio::test]
async fn iat_in_the_future_beyond_leeway() {
    let (f, mut claims) = signed_in().await;
    claims["iat"] = json!(now() + 60);
    assert_refused(&f, &resigned(&claims)).await;
}

#[tokio::test]
async fn valid_signature_with_a_jti_never_issued() {
    let (f, mut claims) = signed_in().await;
    claims["jti"] = json!("0123456789abcdef0123456789abcdef");
    assert_refused(&f, &resigned(&claims)).await;
}

#[tokio::test]
async fn valid_signature_naming_another_user_with_this_jti() {
    let (f, mut claims) = signed_in().await;
    claims["sub"] = json!(f.admin_id.to_string());
    claims["role"] = json!(1);
    assert_refused(&f, &resigned(&claims)).await;
}

#[tokio::test]
async fn revoked_by_logout() {
    let f = fixture().await;
    let session = token(&f.app, USER_CELL, USER_PASS).await;
    let out = call!(logout, &f.app, Event::v2("logout").bearer(&session));
    assert_eq!(out.status, 204, "{}", out.body);
    assert_refused(&f, &session).await;
}

#[tokio::test]
async fn a_deleted_users_token() {
    let f = fixture().await;
    let session = token(&f.app, USER_CELL, USER_PASS).await;
    let admin = token(&f.app, ADMIN_CELL, ADMIN_PASS).await;
    let deleted = call!(
        delete_user,
        &f.app,
        Event::v2("delete-user")
            .bearer(&admin)
            .path_param("id", &f.user_id.to_string())
    );
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    assert_refused(&f, &session).await;
}

/// Disabled behind the API's back (its token rows left in place): the one authentication query
/// refuses the user by itself, not only because disabling through the API deletes the rows.
#[tokio::test]
async fn a_disabled_users_token_with_its_row_still_there() {
    use mysql_async::prelude::Queryable;
    let f = fixture().await;
    let mut conn = f.app.pool.get_conn().await.unwrap();
    conn.exec_drop(
        "UPDATE users SET is_active = FALSE WHERE id = ?",
        (f.user_id,),
    )
    .await
    .unwrap();
    let rows = format!(
        "SELECT COUNT(*) FROM access_token WHERE user_id = {}",
        f.user_id
    );
    assert_eq!(api_tests::count(&f.app, &rows).await, 1);
    assert_refused(&f, &f.user).await;
}

#[tokio::test]
async fn longer_than_8_kib() {
    let (f, mut claims) = signed_in().await;
    claims["padding"] = json!("x".repeat(8 * 1024));
    assert_refused(&f, &resigned(&claims)).await;
}
