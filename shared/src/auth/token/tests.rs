use super::*;
use crate::auth::key_ring::{kid_of, KeyRing, KeyVersion};
use base64::Engine;
use jsonwebtoken::{DecodingKey, EncodingKey};

const ISSUER: &str = "https://api.example.test";
const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

/// `verify` from a synchronous test (it awaits only when a kid is unknown and the keys can be
/// read again, which these keys cannot).
trait VerifyNow {
    fn verify_now(&self, token: &str, now: DateTime<Utc>) -> Result<VerifiedToken, ApiError>;
}

impl VerifyNow for TokenKeys {
    fn verify_now(&self, token: &str, now: DateTime<Utc>) -> Result<VerifiedToken, ApiError> {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(self.verify(token, now))
    }
}

/// An RSA private key in PKCS#8 PEM, made by OpenSSL as `make serve` makes one.
pub(crate) fn generate_pem(bits: u32) -> String {
    let output = std::process::Command::new("openssl")
        .args(["genpkey", "-algorithm", "RSA", "-pkeyopt"])
        .arg(format!("rsa_keygen_bits:{bits}"))
        .output()
        .expect("openssl runs");
    assert!(output.status.success());
    String::from_utf8(output.stdout).unwrap()
}

/// Two keys, made once for all the tests of the process.
fn pems() -> &'static [String; 2] {
    static PEMS: std::sync::OnceLock<[String; 2]> = std::sync::OnceLock::new();
    PEMS.get_or_init(|| [generate_pem(2048), generate_pem(2048)])
}

fn rsa(n: usize) -> RsaKey {
    RsaKey::from_pem(&pems()[n]).unwrap()
}

fn keys_of(versions: &[KeyVersion]) -> TokenKeys {
    TokenKeys::new(versions, Duration::from_secs(3600))
        .unwrap()
        .with_issuer(ISSUER)
}

fn keys() -> TokenKeys {
    keys_of(&[KeyVersion::given(&pems()[0])])
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn claims_at(now: i64) -> serde_json::Value {
    serde_json::json!({
        "iss": ISSUER, "aud": "users-api", "sub": "7", "sid": "s", "role": 2,
        "iat": now, "exp": now + 60, "jti": "0123456789abcdef0123456789abcdef"
    })
}

/// A token over any header and claims, RS256-signed with key `n`.
fn rs_signed(header: &serde_json::Value, claims: &serde_json::Value, n: usize) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let key = rsa(n);
    let mut signature = vec![0; key.pair.public().modulus_len()];
    key.pair
        .sign(
            &ring::signature::RSA_PKCS1_SHA256,
            &ring::rand::SystemRandom::new(),
            input.as_bytes(),
            &mut signature,
        )
        .unwrap();
    format!("{input}.{}", b64(&signature))
}

/// A token over any header and claims, HMAC-SHA256 under `secret`.
fn hmac_signed(header: &str, claims: &serde_json::Value, secret: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let input = format!(
        "{}.{}",
        b64(header.as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
    mac.update(input.as_bytes());
    format!("{input}.{}", b64(&mac.finalize().into_bytes()))
}

fn rs_header(n: usize) -> serde_json::Value {
    serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": rsa(n).kid})
}

#[test]
fn an_issued_token_is_rs256_with_its_kid_and_the_claims_of_the_contract() {
    let now = Utc::now();
    let issued = keys()
        .issue(42, 1, "session-1", now, now + chrono::Duration::days(1))
        .unwrap();
    assert_eq!(
        issued.expires_at - issued.issued_at,
        chrono::Duration::seconds(3600)
    );
    let header = jsonwebtoken::decode_header(&issued.token).unwrap();
    assert_eq!(header.alg, Algorithm::RS256);
    assert_eq!(header.kid.as_deref(), Some(rsa(0).kid.as_str()));
    assert_eq!(issued.signed_with, format!("RS256:{}", rsa(0).kid));
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(issued.token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    for (name, value) in [
        ("iss", serde_json::json!(ISSUER)),
        ("aud", serde_json::json!("users-api")),
        ("sub", serde_json::json!("42")),
        ("sid", serde_json::json!("session-1")),
        ("role", serde_json::json!(1)),
    ] {
        assert_eq!(claims[name], value, "{name}");
    }
    let verified = keys().verify_now(&issued.token, now).unwrap();
    assert_eq!(verified.user_id, 42);
    assert_eq!(verified.jti, issued.jti);
    assert_eq!(verified.signed_with, issued.signed_with);
    // Anyone holding only the published n and e verifies it.
    let jwk = &keys().jwks()[0];
    let (input, signature) = issued.token.rsplit_once('.').unwrap();
    let decode = |text: &str| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .unwrap()
    };
    ring::signature::RsaPublicKeyComponents {
        n: decode(&jwk.n),
        e: decode(&jwk.e),
    }
    .verify(
        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        input.as_bytes(),
        &decode(signature),
    )
    .unwrap();
}

#[test]
fn the_jwks_lists_public_rsa_keys_only() {
    let keys = keys_of(&[
        KeyVersion::given(&pems()[0]),
        KeyVersion::given(&pems()[1]),
        KeyVersion::given(std::str::from_utf8(SECRET).unwrap()),
    ]);
    let jwks = serde_json::to_value(keys.jwks()).unwrap();
    let jwks = jwks.as_array().unwrap();
    assert_eq!(jwks.len(), 2, "the two RSA keys, never the HS256 secret");
    for (jwk, n) in jwks.iter().zip(0..) {
        let mut names: Vec<&str> = jwk
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        names.sort();
        assert_eq!(names, ["alg", "e", "kid", "kty", "n", "use"]);
        assert_eq!(jwk["kty"], "RSA");
        assert_eq!(jwk["alg"], "RS256");
        assert_eq!(jwk["use"], "sig");
        assert_eq!(jwk["kid"], rsa(n).kid.as_str());
        assert_eq!(jwk["e"], "AQAB");
    }
    assert!(!serde_json::to_string(&keys.jwks())
        .unwrap()
        .contains(std::str::from_utf8(SECRET).unwrap()));
}

#[test]
fn keys_too_short_or_not_rsa_are_refused_and_escaped_pems_are_read() {
    assert!(matches!(
        RsaKey::from_pem(&generate_pem(1024)),
        Err(crate::auth::signing_key::KeyError::NotRsa(_))
    ));
    assert!(
        RsaKey::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----").is_err()
    );
    assert!(RsaKey::from_pem("not a pem").is_err());
    let one_line = pems()[0].trim().replace('\n', "\\n");
    assert_eq!(RsaKey::from_pem(&one_line).unwrap().kid, rsa(0).kid);
    assert!(crate::auth::key_ring::is_kid(&rsa(0).kid));
    assert_ne!(rsa(0).kid, rsa(1).kid);
}

#[test]
fn a_token_never_outlives_the_end_it_is_given() {
    let now = Utc.timestamp_opt(1_700_000_000, 250_000_000).unwrap();
    // The session ends at ...1800.75: the token at ...1800, never a fraction later.
    let session_end = now + chrono::Duration::milliseconds(1_800_500);
    let issued = keys().issue(42, 1, "s", now, session_end).unwrap();
    assert_eq!(issued.issued_at.timestamp(), 1_700_000_000);
    assert_eq!(issued.expires_at.timestamp(), 1_700_001_800);
    assert!(issued.expires_at <= session_end);
    let claims: Claims = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(issued.token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims.exp, issued.expires_at.timestamp());
    // A far end leaves the configured lifetime.
    let issued = keys()
        .issue(42, 1, "s", now, now + chrono::Duration::days(1))
        .unwrap();
    assert_eq!(
        issued.expires_at.timestamp() - issued.issued_at.timestamp(),
        3600
    );
}

#[test]
fn every_token_has_its_own_jti() {
    let now = Utc::now();
    let end = now + chrono::Duration::days(1);
    let first = keys().issue(1, 1, "s", now, end).unwrap();
    let second = keys().issue(1, 1, "s", now, end).unwrap();
    assert_ne!(first.jti, second.jti);
    assert_ne!(first.token, second.token);
}

#[test]
fn tampered_forged_expired_and_foreign_tokens_are_refused() {
    let now = Utc::now();
    let at = now.timestamp();
    let issued = keys()
        .issue(42, 2, "s", now, now + chrono::Duration::days(1))
        .unwrap();
    let mut tampered = issued.token.clone();
    tampered.pop();
    tampered.push(if issued.token.ends_with('A') {
        'B'
    } else {
        'A'
    });
    // Our control: these claims under our key and header are accepted.
    assert!(keys()
        .verify_now(&rs_signed(&rs_header(0), &claims_at(at), 0), now)
        .is_ok());
    let with = |name: &str, value: serde_json::Value| {
        let mut claims = claims_at(at);
        claims[name] = value;
        rs_signed(&rs_header(0), &claims, 0)
    };
    let without = |name: &str| {
        let mut claims = claims_at(at);
        claims.as_object_mut().unwrap().remove(name);
        rs_signed(&rs_header(0), &claims, 0)
    };
    let refused = [
        ("tampered", tampered),
        // Signed by a key we do not hold, naming ours.
        ("another key", rs_signed(&rs_header(0), &claims_at(at), 1)),
        (
            "another key's kid",
            rs_signed(&rs_header(1), &claims_at(at), 1),
        ),
        (
            "expired",
            rs_signed(&rs_header(0), &claims_at(at - 3600), 0),
        ),
        (
            "from the future",
            rs_signed(&rs_header(0), &claims_at(at + 600), 0),
        ),
        (
            "another issuer",
            with("iss", "https://elsewhere.test".into()),
        ),
        ("another audience", with("aud", "another-api".into())),
        ("no issuer", without("iss")),
        ("no audience", without("aud")),
        ("no session", without("sid")),
        ("no expiry", without("exp")),
        ("a name for a subject", with("sub", "admin".into())),
        (
            "no kid",
            rs_signed(&serde_json::json!({"alg": "RS256"}), &claims_at(at), 0),
        ),
        ("empty", String::new()),
        ("garbage", "garbage".into()),
        ("oversized", "a".repeat(MAX_TOKEN_BYTES + 1)),
    ];
    for (what, token) in refused {
        assert!(
            matches!(keys().verify_now(&token, now), Err(ApiError::Unauthorized)),
            "accepted a token with {what}"
        );
    }
}

/// Tokens signed by someone else's rules: `none`, HS256 with the RSA public key as its secret
/// (the confused-algorithm attack), another algorithm, an unknown kid or a key reference.
#[test]
fn none_hs256_confused_algorithm_and_unknown_kid_tokens_are_refused() {
    let now = Utc::now();
    let claims = claims_at(now.timestamp());
    let kid = rsa(0).kid;
    let (n, e) = rsa(0).public_components();
    let public_pem_like = pems()[0].as_bytes();
    let mut refused = vec![
        format!(
            "{}.{}.",
            b64(br#"{"alg":"none","typ":"JWT"}"#),
            b64(claims.to_string().as_bytes())
        ),
        format!(
            "{}.{}.",
            b64(format!(r#"{{"alg":"none","kid":"{kid}"}}"#).as_bytes()),
            b64(claims.to_string().as_bytes())
        ),
    ];
    let hs_header = format!(r#"{{"alg":"HS256","typ":"JWT","kid":"{kid}"}}"#);
    for secret in [&n[..], &e[..], public_pem_like, rsa(0).jwk.n.as_bytes()] {
        refused.push(hmac_signed(&hs_header, &claims, secret));
        refused.push(hmac_signed(
            r#"{"alg":"HS256","typ":"JWT"}"#,
            &claims,
            secret,
        ));
    }
    for header in [
        serde_json::json!({"alg": "RS512", "kid": kid}),
        serde_json::json!({"alg": "PS256", "kid": kid}),
        serde_json::json!({"alg": "RS256", "kid": "AAAAAAAAAAAAAAAA"}),
        serde_json::json!({"alg": "RS256", "kid": "../../keys/other"}),
        serde_json::json!({"alg": "RS256", "kid": kid, "jku": "https://attacker.example/jwks"}),
        serde_json::json!({"alg": "RS256", "kid": kid, "x5u": "https://attacker.example/c.pem"}),
    ] {
        refused.push(rs_signed(&header, &claims, 0));
    }
    // An HS256 token under a secret the deployment never had.
    refused.push(hmac_signed(r#"{"alg":"HS256"}"#, &claims, SECRET));
    for token in refused {
        assert!(
            matches!(keys().verify_now(&token, now), Err(ApiError::Unauthorized)),
            "accepted {token}"
        );
    }
}

/// A deployment from before RS256: its HS256 key verifies HS256 tokens (their records decide
/// whether they are still live), and never an RS256 header; the RSA key never an HS256 one.
#[test]
fn the_legacy_key_verifies_hs256_only_and_never_signs_beside_an_rsa_key() {
    let now = Utc::now();
    let before = keys_of(&[KeyVersion::given(std::str::from_utf8(SECRET).unwrap())]);
    let switched = keys_of(&[
        KeyVersion::given(&pems()[0]),
        KeyVersion::given(std::str::from_utf8(SECRET).unwrap()),
    ]);
    let old = before
        .issue(7, 2, "s", now, now + chrono::Duration::days(1))
        .unwrap();
    assert_eq!(
        jsonwebtoken::decode_header(&old.token).unwrap().alg,
        Algorithm::HS256
    );
    assert_eq!(old.signed_with, LEGACY_SIGNED_WITH);
    let verified = switched.verify_now(&old.token, now).unwrap();
    assert_eq!(verified.signed_with, LEGACY_SIGNED_WITH);
    // Tokens of before tokens named their key.
    let mut legacy_claims = claims_at(now.timestamp());
    for name in ["iss", "aud", "sid"] {
        legacy_claims.as_object_mut().unwrap().remove(name);
    }
    let kidless = hmac_signed(r#"{"alg":"HS256","typ":"JWT"}"#, &legacy_claims, SECRET);
    assert!(switched.verify_now(&kidless, now).is_ok());
    // The switched deployment signs RS256.
    let new = switched
        .issue(7, 2, "s", now, now + chrono::Duration::days(1))
        .unwrap();
    assert_eq!(new.signed_with, format!("RS256:{}", rsa(0).kid));
    // Each key with its own algorithm only.
    let legacy_kid = kid_of(SECRET);
    let rs_under_legacy_kid = rs_signed(
        &serde_json::json!({"alg": "RS256", "kid": legacy_kid}),
        &claims_at(now.timestamp()),
        0,
    );
    let hs_under_rsa_kid = hmac_signed(
        &format!(r#"{{"alg":"HS256","kid":"{}"}}"#, rsa(0).kid),
        &legacy_claims,
        SECRET,
    );
    for token in [rs_under_legacy_kid, hs_under_rsa_kid] {
        assert!(
            switched.verify_now(&token, now).is_err(),
            "accepted {token}"
        );
    }
}

#[test]
fn a_new_key_is_published_at_once_and_signs_only_after_the_delay() {
    let now = Utc::now();
    let delay = Duration::from_secs(600);
    let versions = |new_created: DateTime<Utc>| {
        [
            KeyVersion {
                text: crate::secret::Secret::new(pems()[1].clone()),
                created: Some(new_created),
            },
            KeyVersion {
                text: crate::secret::Secret::new(pems()[0].clone()),
                created: Some(now - chrono::Duration::days(30)),
            },
        ]
    };
    let signer_kid = |keys: &TokenKeys| {
        let issued = keys
            .issue(1, 1, "s", now, now + chrono::Duration::days(1))
            .unwrap();
        jsonwebtoken::decode_header(&issued.token)
            .unwrap()
            .kid
            .unwrap()
    };
    let fresh = TokenKeys::with_ring(
        KeyRing::new(&versions(now - chrono::Duration::seconds(60)), delay).unwrap(),
        Duration::from_secs(3600),
    )
    .with_issuer(ISSUER);
    assert_eq!(fresh.jwks().len(), 2, "the new key is published");
    assert_eq!(signer_kid(&fresh), rsa(0).kid, "the old key still signs");
    let published = TokenKeys::with_ring(
        KeyRing::new(&versions(now - chrono::Duration::seconds(601)), delay).unwrap(),
        Duration::from_secs(3600),
    )
    .with_issuer(ISSUER);
    assert_eq!(signer_kid(&published), rsa(1).kid, "the new key signs");
    // Tokens of either verify wherever both are held.
    let old = fresh
        .issue(1, 1, "s", now, now + chrono::Duration::days(1))
        .unwrap();
    let new = published
        .issue(1, 1, "s", now, now + chrono::Duration::days(1))
        .unwrap();
    assert!(fresh.verify_now(&new.token, now).is_ok());
    assert!(published.verify_now(&old.token, now).is_ok());
    // The first RSA key after an HS256 one signs at once: there is no RSA key to wait with.
    let switch = TokenKeys::with_ring(
        KeyRing::new(
            &[
                KeyVersion {
                    text: crate::secret::Secret::new(pems()[0].clone()),
                    created: Some(now),
                },
                KeyVersion::given(std::str::from_utf8(SECRET).unwrap()),
            ],
            delay,
        )
        .unwrap(),
        Duration::from_secs(3600),
    )
    .with_issuer(ISSUER);
    assert_eq!(signer_kid(&switch), rsa(0).kid);
}

#[test]
fn the_provider_signs_hs256_only_and_binds_each_algorithm_to_its_key_family() {
    provider::install();
    let claims = claims_at(Utc::now().timestamp());
    let key = EncodingKey::from_secret(SECRET);
    for algorithm in [Algorithm::HS384, Algorithm::RS256, Algorithm::ES256] {
        assert!(jsonwebtoken::encode(&Header::new(algorithm), &claims, &key).is_err());
    }
    let token = rs_signed(&rs_header(0), &claims, 0);
    let (message, signature) = token.rsplit_once('.').unwrap();
    let (n, e) = rsa(0).public_components();
    let public = DecodingKey::from_rsa_raw_components(&n, &e);
    assert!(
        jsonwebtoken::crypto::verify(signature, message.as_bytes(), &public, Algorithm::RS256)
            .unwrap()
    );
    for algorithm in [Algorithm::HS256, Algorithm::RS384, Algorithm::PS256] {
        assert!(
            jsonwebtoken::crypto::verify(signature, message.as_bytes(), &public, algorithm)
                .is_err(),
            "{algorithm:?}"
        );
    }
    let secret = DecodingKey::from_secret(SECRET);
    assert!(
        jsonwebtoken::crypto::verify(signature, message.as_bytes(), &secret, Algorithm::RS256)
            .is_err()
    );
}
