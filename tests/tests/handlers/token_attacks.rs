//! The token-attack matrix: each case a forged, altered or dead token presented to a real
//! handler with an API Gateway event; every one must be 401 with `WWW-Authenticate: Bearer` and
//! a JSON detail (`Answer::assert_error`), and reach no data.

use api_tests::{call, fixture, token, Event, Fixture, ADMIN_CELL, ADMIN_PASS, TEST_SECRET};
use api_tests::{USER_CELL, USER_PASS};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

const HS256: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// A JWT of `header` and `claims`, HMAC-SHA256-signed with `key` whatever the header says.
fn forge(header: &str, claims: &Value, key: &[u8]) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let tag = ring::hmac::sign(
        &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key),
        input.as_bytes(),
    );
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
}

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
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
    let token = forge(HS256, &claims, TEST_SECRET.as_bytes());
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
    assert_refused(
        &f,
        &forge(HS256, &claims, b"another-key-another-key-another-key"),
    )
    .await;
}

#[tokio::test]
async fn rs256_header_over_an_hmac_with_our_key() {
    let (f, claims) = signed_in().await;
    let header = r#"{"alg":"RS256","typ":"JWT"}"#;
    assert_refused(&f, &forge(header, &claims, TEST_SECRET.as_bytes())).await;
}

#[tokio::test]
async fn es256_header_over_an_hmac_with_our_key() {
    let (f, claims) = signed_in().await;
    let header = r#"{"alg":"ES256","typ":"JWT"}"#;
    assert_refused(&f, &forge(header, &claims, TEST_SECRET.as_bytes())).await;
}

#[tokio::test]
async fn kid_header_pointing_elsewhere() {
    let (f, claims) = signed_in().await;
    let header = r#"{"alg":"HS256","typ":"JWT","kid":"../../../../dev/null"}"#;
    assert_refused(&f, &forge(header, &claims, TEST_SECRET.as_bytes())).await;
}

#[tokio::test]
async fn jku_header_pointing_elsewhere() {
    let (f, claims) = signed_in().await;
    let header = r#"{"alg":"HS256","typ":"JWT","jku":"https://attacker.example/jwks.json"}"#;
    assert_refused(&f, &forge(header, &claims, TEST_SECRET.as_bytes())).await;
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
    assert_refused(&f, &forge(HS256, &claims, TEST_SECRET.as_bytes())).await;
}

#[tokio::test]
async fn exp_missing() {
    let (f, mut claims) = signed_in().await;
    claims.as_object_mut().unwrap().remove("exp");
    assert_refused(&f, &forge(HS256, &claims, TEST_SECRET.as_bytes())).await;
}

#[tokio::test]
async fn nbf_in_the_future_beyond_leeway() {
    let (f, mut claims) = signed_in().await;
    claims["nbf"] = json!(now() + 60);
    assert_refused(&f, &forge(HS256, &claims, TEST_SECRET.as_bytes())).await;
}

#[tokio::test]
async fn iat_in_the_future_beyond_leeway() {
    let (f, mut claims) = signed_in().await;
    claims["iat"] = json!(now() + 60);
    assert_refused(&f, &forge(HS256, &claims, TEST_SECRET.as_bytes())).await;
}

#[tokio::test]
async fn valid_signature_with_a_jti_never_issued() {
    let (f, mut claims) = signed_in().await;
    claims["jti"] = json!("0123456789abcdef0123456789abcdef");
    assert_refused(&f, &forge(HS256, &claims, TEST_SECRET.as_bytes())).await;
}

#[tokio::test]
async fn valid_signature_naming_another_user_with_this_jti() {
    let (f, mut claims) = signed_in().await;
    claims["sub"] = json!(f.admin_id.to_string());
    claims["role"] = json!(1);
    assert_refused(&f, &forge(HS256, &claims, TEST_SECRET.as_bytes())).await;
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
    assert_refused(&f, &forge(HS256, &claims, TEST_SECRET.as_bytes())).await;
}
