//! RS256 access tokens through the handlers: the discovery document and the JWKS, tokens that
//! verify with the published key alone, and a deployment moving from HS256 that signs no one out
//! while refusing every HS256 token its records do not vouch for.

use api_tests::{call, insert_user, login, test_app, test_app_with, Answer, Event, TestDb};
use api_tests::{HS256_DEPLOYMENT, TEST_SECRET};
use base64::Engine;
use serde_json::{json, Value};
use shared::App;

const CELL: &str = "+15550001001";
const PASS: &str = "user-password-1";
/// The issuer of the sample events' API: their domain, `$default` stage.
const EVENT_ISSUER: &str = "https://abcdef1234.execute-api.eu-west-1.amazonaws.com";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn part(token: &str, n: usize) -> Value {
    let text = token.split('.').nth(n).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .unwrap(),
    )
    .unwrap()
}

fn hmac_signed(header: &Value, claims: &Value, secret: &[u8]) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let tag = ring::hmac::sign(
        &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret),
        input.as_bytes(),
    );
    format!("{input}.{}", b64(tag.as_ref()))
}

async fn me(app: &App, token: &str) -> Answer {
    call!(get_me, app, Event::v2("get-me").bearer(token))
}

async fn well_known(app: &App, path: &str) -> Answer {
    let event = Event::v2("well-known");
    let event = if path.ends_with("openid-configuration") {
        event.at("GET", "/.well-known/openid-configuration")
    } else {
        event
    };
    call!(well_known, app, event)
}

async fn refresh(app: &App, refresh_token: &str) -> Answer {
    call!(
        refresh_token,
        app,
        Event::v2("refresh-token").json_body(&json!({ "refreshToken": refresh_token }))
    )
}

#[tokio::test]
async fn tokens_are_rs256_and_verify_with_the_published_key_alone() {
    let db = TestDb::new().await;
    // The suite's apps sign RS256 with this key.
    let key = api_tests::test_signing_key();
    let app = test_app(&db);
    insert_user(&app, 2, CELL, PASS).await;

    let grant = login(&app, CELL, PASS).await;
    assert_eq!(grant.status, 200, "{}", grant.body);
    let token = grant.body["token"].as_str().unwrap();
    let header = part(token, 0);
    let claims = part(token, 1);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(claims["iss"], EVENT_ISSUER, "the API's base URL");
    assert_eq!(claims["aud"], "users-api");
    assert_eq!(claims["sid"], grant.body["sessionId"]);
    assert_eq!(me(&app, token).await.status, 200);

    let discovery = well_known(&app, "/.well-known/openid-configuration").await;
    assert_eq!(discovery.status, 200, "{}", discovery.body);
    assert_eq!(discovery.body["issuer"], EVENT_ISSUER);
    assert_eq!(
        discovery.body["jwks_uri"],
        format!("{EVENT_ISSUER}/.well-known/jwks.json")
    );
    assert_eq!(
        discovery.body["id_token_signing_alg_values_supported"],
        json!(["RS256"])
    );
    assert_eq!(discovery.body["subject_types_supported"], json!(["public"]));
    let jwks = well_known(&app, "/.well-known/jwks.json").await;
    assert_eq!(jwks.status, 200);
    for answer in [&discovery, &jwks] {
        let cache = answer.header("cache-control").unwrap();
        assert!(cache.starts_with("public, max-age="), "{cache}");
        let age: u64 = cache.rsplit('=').next().unwrap().parse().unwrap();
        assert!(age <= 3600);
    }
    let keys = jwks.body["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["kid"], header["kid"]);
    assert!(keys[0].get("d").is_none(), "no private part");
    // Verified with n and e from the JWKS, as any library does.
    let (input, signature) = token.rsplit_once('.').unwrap();
    let decode = |v: &Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(v.as_str().unwrap())
            .unwrap()
    };
    ring::signature::RsaPublicKeyComponents {
        n: decode(&keys[0]["n"]),
        e: decode(&keys[0]["e"]),
    }
    .verify(
        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        input.as_bytes(),
        &decode(&json!(signature)),
    )
    .expect("the published key verifies the token");

    // Another deployment's issuer or audience is not ours.
    let elsewhere = test_app_with(&db, &[("TOKEN_ISSUER", "https://users.example.test")]);
    me(&elsewhere, token).await.assert_error(401);
    let discovery = well_known(&elsewhere, "/.well-known/openid-configuration").await;
    assert_eq!(discovery.body["issuer"], "https://users.example.test");
    let other_audience = test_app_with(&db, &[("TOKEN_AUDIENCE", "another-api")]);
    me(&other_audience, token).await.assert_error(401);

    // None, HS256 with the public key as its secret, and an unknown kid: all 401.
    let mut forged_claims = claims.clone();
    forged_claims["role"] = json!(1);
    let kid = header["kid"].as_str().unwrap();
    let public_n = decode(&keys[0]["n"]);
    let forged = [
        format!(
            "{}.{}.",
            b64(json!({"alg": "none", "kid": kid}).to_string().as_bytes()),
            b64(forged_claims.to_string().as_bytes())
        ),
        hmac_signed(
            &json!({"alg": "HS256", "kid": kid}),
            &forged_claims,
            &public_n,
        ),
        hmac_signed(
            &json!({"alg": "HS256", "kid": kid}),
            &forged_claims,
            key.as_bytes(),
        ),
        hmac_signed(
            &json!({"alg": "HS256"}),
            &forged_claims,
            TEST_SECRET.as_bytes(),
        ),
        format!(
            "{}.{}.{}",
            b64(json!({"alg": "RS256", "kid": "AAAAAAAAAAAAAAAA"})
                .to_string()
                .as_bytes()),
            token.split('.').nth(1).unwrap(),
            signature
        ),
    ];
    for token in forged {
        let answer = me(&app, &token).await;
        answer.assert_error(401);
        assert_eq!(answer.header("www-authenticate"), Some("Bearer"));
    }
}

/// The switch: the old deployment signs HS256 with `SECRET_KEY`; the new one has `SIGNING_KEY`
/// and keeps `SECRET_KEY` as the old key. Sessions survive, old tokens live until they expire,
/// and no HS256 token is accepted that its record does not say was signed HS256.
#[tokio::test]
async fn moving_from_hs256_signs_no_one_out_and_old_tokens_end_with_their_expiry() {
    let db = TestDb::new().await;
    let before = test_app_with(&db, &HS256_DEPLOYMENT);
    insert_user(&before, 2, CELL, PASS).await;
    let old_grant = login(&before, CELL, PASS).await;
    assert_eq!(old_grant.status, 200);
    let old_token = old_grant.body["token"].as_str().unwrap().to_owned();
    assert_eq!(part(&old_token, 0)["alg"], "HS256", "the deployment before");

    // The suite's SIGNING_KEY, and the old key kept.
    let after = test_app_with(&db, &[("SECRET_KEY", TEST_SECRET)]);
    // The old access token: accepted, with the old key, while its record lives.
    assert_eq!(me(&after, &old_token).await.status, 200);
    // The old refresh token: a new RS256 token, in the same session.
    let refreshed = refresh(&after, old_grant.body["refreshToken"].as_str().unwrap()).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    assert_eq!(refreshed.body["sessionId"], old_grant.body["sessionId"]);
    let new_token = refreshed.body["token"].as_str().unwrap().to_owned();
    assert_eq!(part(&new_token, 0)["alg"], "RS256");
    assert_eq!(me(&after, &new_token).await.status, 200);
    // New logins are RS256.
    let fresh = login(&after, CELL, PASS).await;
    assert_eq!(
        part(fresh.body["token"].as_str().unwrap(), 0)["alg"],
        "RS256"
    );

    // Whoever still holds the old key cannot mint tokens the records do not vouch for: not
    // with a new jti, and not with the jti of a token that was signed RS256.
    let mut claims = part(&old_token, 1);
    claims["jti"] = json!("0123456789abcdef0123456789abcdef");
    let new_jti = hmac_signed(&json!({"alg": "HS256"}), &claims, TEST_SECRET.as_bytes());
    me(&after, &new_jti).await.assert_error(401);
    let mut claims = part(&new_token, 1);
    for name in ["iss", "aud", "sid"] {
        claims.as_object_mut().unwrap().remove(name);
    }
    let rs256_jti = hmac_signed(&json!({"alg": "HS256"}), &claims, TEST_SECRET.as_bytes());
    me(&after, &rs256_jti).await.assert_error(401);

    // Once its record has expired (TOKEN_TTL_SECONDS after the switch at most), the old token
    // is refused, and with it every HS256 token: no HS256 record is live any more.
    let mut conn = after.pool.get_conn().await.unwrap();
    use mysql_async::prelude::Queryable;
    conn.query_drop(
        "UPDATE access_token SET expires = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND \
         WHERE signed_with = 'HS256'",
    )
    .await
    .unwrap();
    drop(conn);
    me(&after, &old_token).await.assert_error(401);
    assert_eq!(
        api_tests::count(
            &after,
            "SELECT COUNT(*) FROM access_token WHERE signed_with = 'HS256' \
             AND expires > UTC_TIMESTAMP(6)"
        )
        .await,
        0
    );
    assert_eq!(me(&after, &new_token).await.status, 200);
}
