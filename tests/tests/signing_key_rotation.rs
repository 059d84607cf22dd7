//! Rotation of the token signing key, against a local Secrets Manager (moto): the
//! stack's rotation function runs the four steps as Secrets Manager would invoke them, from the
//! HS256 key of a deployment before RS256 to RSA keys; tokens signed before stay valid, a new
//! RSA key is published before it signs, and a token of a retired key is 401.
//!
//! One test per binary, since it sets the process environment the way Lambda does.

use std::time::Duration;

use api_tests::moto::Moto;
use api_tests::{call, insert_user, test_app, Answer, Event, TestDb};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::json;
use shared::auth::key_ring::kid_of;
use shared::App;

const ADMIN_CELL: &str = "+15550000001";
const ADMIN_PASS: &str = "admin-password-1";
const FIRST_KEY: &str = "first-signing-key-0123456789abcdef-0123456789abcdef-0123456789ab";

/// The deployed generator, without the minimum age (rotations here follow each other).
fn quick() -> shared::auth::key_rotation::RotationPolicy {
    shared::auth::key_rotation::RotationPolicy {
        generate: rotate_signing_key::generate_rsa_pem,
        min_current_age: Duration::ZERO,
    }
}

fn alg(token: &str) -> String {
    header(token)["alg"].as_str().unwrap().to_owned()
}

fn header(token: &str) -> serde_json::Value {
    use base64::Engine;
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap()
}

fn kid(token: &str) -> String {
    header(token)["kid"].as_str().unwrap().to_owned()
}

async fn me(app: &App, token: &str) -> Answer {
    call!(get_me, app, Event::v2("get-me").bearer(token))
}

/// One rotation, as Secrets Manager runs it: `RotateSecret` labels a new version `AWSPENDING`
/// (moto does that, then fails to find the function, which runs here instead), then the function
/// is invoked for each step.
async fn rotate(client: &aws_sdk_secretsmanager::Client, arn: &str, n: u32) -> String {
    let token = format!("rotation-{n:04}-0123456789abcdef0123456789abcdef");
    let started = client
        .rotate_secret()
        .secret_id(arn)
        .client_request_token(&token)
        .rotation_lambda_arn("arn:aws:lambda:eu-west-1:123456789012:function:users-api-rotate")
        .rotation_rules(
            aws_sdk_secretsmanager::types::RotationRulesType::builder()
                .automatically_after_days(90)
                .build(),
        )
        .send()
        .await;
    // moto cannot invoke the function; the pending version is there all the same.
    assert!(started.is_err());
    for step in ["createSecret", "setSecret", "testSecret", "finishSecret"] {
        let event = json!({ "Step": step, "SecretId": arn, "ClientRequestToken": token });
        rotate_signing_key::handler(
            client,
            &quick(),
            LambdaEvent::new(event.clone(), Context::default()),
        )
        .await
        .unwrap_or_else(|error| panic!("{step}: {error}"));
        // Secrets Manager may retry any step: each is idempotent.
        rotate_signing_key::handler(
            client,
            &quick(),
            LambdaEvent::new(event, Context::default()),
        )
        .await
        .unwrap_or_else(|error| panic!("{step} again: {error}"));
    }
    client
        .get_secret_value()
        .secret_id(arn)
        .version_stage("AWSCURRENT")
        .send()
        .await
        .unwrap()
        .secret_string()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_the_signing_key_signs_nobody_out_and_retires_the_key_before_last() {
    let moto = Moto::start();
    // SAFETY: one test in this binary.
    unsafe { moto.set_aws_environment() };
    let db = TestDb::new().await;
    insert_user(&test_app(&db), 1, ADMIN_CELL, ADMIN_PASS).await;
    let client = shared::app::secrets::client().await.unwrap();
    // The secret of a deployment from before RS256: an HS256 key.
    let arn = client
        .create_secret()
        .name("users-api/jwt")
        .secret_string(FIRST_KEY)
        .send()
        .await
        .unwrap()
        .arn()
        .unwrap()
        .to_owned();
    for (name, value) in [
        ("DATABASE_URL", db.url.as_str()),
        ("JWT_SECRET_ARN", arn.as_str()),
        ("BCRYPT_COST", "4"),
        ("TOKEN_ISSUER", "https://api.rotation.test"),
        ("SIGNING_KEY_PUBLISH_SECONDS", "3"),
    ] {
        // SAFETY: as above.
        unsafe { std::env::set_var(name, value) };
    }
    for name in ["SECRET_KEY", "SIGNING_KEY"] {
        // SAFETY: as above.
        unsafe { std::env::remove_var(name) };
    }

    // A rotation step for a version that is not pending is refused.
    let bogus = json!({ "Step": "createSecret", "SecretId": arn,
                        "ClientRequestToken": "not-a-version-0123456789abcdef0123456789" });
    assert!(rotate_signing_key::handler(
        &client,
        &quick(),
        LambdaEvent::new(bogus, Context::default())
    )
    .await
    .is_err());

    let warm = App::load().await.unwrap();
    let grant = api_tests::login(&warm, ADMIN_CELL, ADMIN_PASS).await;
    let before = grant.body["token"].as_str().unwrap().to_owned();
    assert_eq!(alg(&before), "HS256", "the deployment before the switch");
    assert_eq!(kid(&before), kid_of(FIRST_KEY.as_bytes()));

    // The switch: the first rotation makes an RSA key, which signs at once (there is no RSA key
    // to keep signing with while it is published).
    let rsa_1 = rotate(&client, &arn, 1).await;
    assert!(
        rsa_1.starts_with("-----BEGIN PRIVATE KEY-----"),
        "a PKCS#8 PEM"
    );
    let rsa_1_kid = shared::auth::signing_key::RsaKey::from_pem(&rsa_1)
        .unwrap()
        .kid;
    let cold = App::load().await.unwrap();
    let after = api_tests::token(&cold, ADMIN_CELL, ADMIN_PASS).await;
    assert_eq!(alg(&after), "RS256");
    assert_eq!(kid(&after), rsa_1_kid);
    assert_eq!(
        me(&cold, &before).await.status,
        200,
        "an HS256 token of before"
    );
    let refreshed = call!(
        refresh_token,
        &cold,
        Event::v2("refresh-token")
            .json_body(&json!({ "refreshToken": grant.body["refreshToken"] }))
    );
    assert_eq!(refreshed.status, 200, "a refresh token of before");
    // The warm instance meets a token of a key it does not know yet: it reads the keys again,
    // accepts it, and from then on signs with the new key.
    let reads = warm.tokens.ring().reads();
    assert_eq!(me(&warm, &after).await.status, 200);
    assert_eq!(warm.tokens.ring().reads(), reads + 1);
    let warm_after = api_tests::token(&warm, ADMIN_CELL, ADMIN_PASS).await;
    assert_eq!(kid(&warm_after), rsa_1_kid);

    // Made-up kids cannot make every request a Secrets Manager call.
    let reads = warm.tokens.ring().reads();
    for n in 0..20 {
        let forged = format!(
            "{}.{}.{}",
            {
                use base64::Engine;
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!(
                    r#"{{"alg":"RS256","typ":"JWT","kid":"AAAAAAAAAAAAAA{n:02}"}}"#
                ))
            },
            after.split('.').nth(1).unwrap(),
            after.split('.').nth(2).unwrap()
        );
        me(&warm, &forged).await.assert_error(401);
    }
    assert!(
        warm.tokens.ring().reads() <= reads + 1,
        "at most one read for unknown kids in the interval"
    );

    // The next rotation: the new key is published at once and signs only after the delay;
    // tokens of the previous key stay valid.
    let rsa_2 = rotate(&client, &arn, 2).await;
    let rsa_2_kid = shared::auth::signing_key::RsaKey::from_pem(&rsa_2)
        .unwrap()
        .kid;
    let published = App::load().await.unwrap();
    let jwks: Vec<String> = published.tokens.jwks().into_iter().map(|k| k.kid).collect();
    assert_eq!(jwks, [rsa_2_kid.clone(), rsa_1_kid.clone()]);
    let during = api_tests::token(&published, ADMIN_CELL, ADMIN_PASS).await;
    assert_eq!(
        kid(&during),
        rsa_1_kid,
        "the previous key signs while the new one is published"
    );
    tokio::time::sleep(Duration::from_millis(3200)).await;
    let newest = api_tests::token(&published, ADMIN_CELL, ADMIN_PASS).await;
    assert_eq!(kid(&newest), rsa_2_kid);
    assert_eq!(
        me(&published, &after).await.status,
        200,
        "a token of the previous key"
    );
    assert_eq!(me(&published, &newest).await.status, 200);

    // The deployed policy does not push out a key whose tokens may still be live.
    let token = "rotation-0003-0123456789abcdef0123456789abcdef";
    let _pending = client
        .rotate_secret()
        .secret_id(&arn)
        .client_request_token(token)
        .rotation_lambda_arn("arn:aws:lambda:eu-west-1:123456789012:function:users-api-rotate")
        .send()
        .await;
    let create = json!({ "Step": "createSecret", "SecretId": arn, "ClientRequestToken": token });
    let refused = rotate_signing_key::handler(
        &client,
        &rotate_signing_key::policy_from_environment(),
        LambdaEvent::new(create, Context::default()),
    )
    .await;
    assert!(
        refused.is_err(),
        "a rotation right after the last one is refused"
    );
    client
        .update_secret_version_stage()
        .secret_id(&arn)
        .version_stage("AWSPENDING")
        .remove_from_version_id(token)
        .send()
        .await
        .unwrap();

    // A third rotation retires the first RSA key: its tokens are 401 wherever the keys are
    // current, and the HS256 key is gone with its tokens.
    rotate(&client, &arn, 4).await;
    let current = App::load().await.unwrap();
    me(&current, &after).await.assert_error(401);
    me(&current, &before).await.assert_error(401);
    assert_eq!(me(&current, &newest).await.status, 200);
    println!(
        "signing key rotation: HS256 -> RSA (signs at once; HS256 tokens and refresh tokens of \
         before keep working), RSA -> RSA (published at once, signs after the delay; tokens of \
         the previous key 200), a too-early rotation refused, the key before last retired (401)"
    );
}
