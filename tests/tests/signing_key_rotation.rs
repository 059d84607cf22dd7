//! Rotation of the token signing key, against a local Secrets Manager (moto): the
//! stack's rotation function runs the four steps as Secrets Manager would invoke them; tokens
//! signed before stay valid, instances sign with the new key (at once when they meet it, and
//! within their refresh interval otherwise), and a token of a retired key is 401.
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

fn kid(token: &str) -> String {
    use base64::Engine;
    let header = token.split('.').next().unwrap();
    let header: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap();
    header["kid"].as_str().unwrap().to_owned()
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
        rotate_signing_key::handler(client, LambdaEvent::new(event.clone(), Context::default()))
            .await
            .unwrap_or_else(|error| panic!("{step}: {error}"));
        // Secrets Manager may retry any step: each is idempotent.
        rotate_signing_key::handler(client, LambdaEvent::new(event, Context::default()))
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
    ] {
        // SAFETY: as above.
        unsafe { std::env::set_var(name, value) };
    }
    // SAFETY: as above.
    unsafe { std::env::remove_var("SECRET_KEY") };

    // A rotation step for a version that is not pending is refused.
    let bogus = json!({ "Step": "createSecret", "SecretId": arn,
                        "ClientRequestToken": "not-a-version-0123456789abcdef0123456789" });
    assert!(
        rotate_signing_key::handler(&client, LambdaEvent::new(bogus, Context::default()))
            .await
            .is_err()
    );

    let warm = App::load().await.unwrap();
    let before = api_tests::token(&warm, ADMIN_CELL, ADMIN_PASS).await;
    assert_eq!(kid(&before), kid_of(FIRST_KEY.as_bytes()));

    let second_key = rotate(&client, &arn, 1).await;
    assert_ne!(second_key, FIRST_KEY);
    assert!(second_key.len() >= 64, "a new random key");

    // A cold start after the rotation signs with the new key and still accepts the old tokens.
    let cold = App::load().await.unwrap();
    let after = api_tests::token(&cold, ADMIN_CELL, ADMIN_PASS).await;
    assert_eq!(kid(&after), kid_of(second_key.as_bytes()));
    assert_eq!(
        me(&cold, &before).await.status,
        200,
        "a token of the previous key"
    );
    // The warm instance meets a token of a key it does not know yet: it reads the keys again,
    // accepts it, and from then on signs with the new key.
    let reads = warm.tokens.ring().reads();
    assert_eq!(me(&warm, &after).await.status, 200);
    assert_eq!(warm.tokens.ring().reads(), reads + 1);
    assert_eq!(me(&warm, &before).await.status, 200);
    let warm_after = api_tests::token(&warm, ADMIN_CELL, ADMIN_PASS).await;
    assert_eq!(kid(&warm_after), kid_of(second_key.as_bytes()));

    // Made-up kids cannot make every request a Secrets Manager call.
    let reads = warm.tokens.ring().reads();
    for n in 0..20 {
        let forged = format!(
            "{}.{}.{}",
            {
                use base64::Engine;
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!(
                    r#"{{"alg":"HS256","typ":"JWT","kid":"AAAAAAAAAAAAAA{n:02}"}}"#
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

    // An instance that meets no new token picks the new key up within its refresh interval.
    let mut periodic = App::load().await.unwrap();
    let mut vars: std::collections::HashMap<String, String> = std::env::vars().collect();
    let resolved = shared::app::secrets::resolve(&mut vars).await.unwrap();
    periodic.tokens =
        shared::auth::token::TokenKeys::new(FIRST_KEY.as_bytes(), Duration::from_secs(3600))
            .with_source(resolved.signing_key.unwrap().into_source())
            .with_refresh_interval(Duration::from_millis(200));
    let stale = api_tests::token(&periodic, ADMIN_CELL, ADMIN_PASS).await;
    assert_eq!(kid(&stale), kid_of(FIRST_KEY.as_bytes()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let fresh = api_tests::token(&periodic, ADMIN_CELL, ADMIN_PASS).await;
    assert_eq!(kid(&fresh), kid_of(second_key.as_bytes()));

    // The next rotation retires the first key: its tokens are 401 wherever the keys are current,
    // those of the second stay valid.
    let third_key = rotate(&client, &arn, 2).await;
    let current = App::load().await.unwrap();
    me(&current, &before).await.assert_error(401);
    assert_eq!(me(&current, &after).await.status, 200);
    let newest = api_tests::token(&current, ADMIN_CELL, ADMIN_PASS).await;
    assert_eq!(kid(&newest), kid_of(third_key.as_bytes()));
    println!(
        "signing key rotation: two rotations through the four steps; after the first, tokens of \
         the old key 200 everywhere, new tokens signed with the new key (a warm instance after one \
         read of the keys, on meeting a new kid; another within its refresh interval); 20 made-up \
         kids cost at most one read; after the second, tokens of the retired key 401"
    );
}
