use super::*;
use jsonwebtoken::{DecodingKey, EncodingKey};

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

#[test]
fn tokens_name_their_key_and_every_version_held_verifies() {
    let now = Utc::now();
    let old = TokenKeys::new(
        b"the-previous-key-0123456789abcdef",
        Duration::from_secs(60),
    );
    let rotated = TokenKeys::with_versions(
        &[SECRET, b"the-previous-key-0123456789abcdef"],
        Duration::from_secs(60),
    );
    let before = old
        .issue(1, 1, now, now + chrono::Duration::days(1))
        .unwrap();
    let after = rotated
        .issue(1, 1, now, now + chrono::Duration::days(1))
        .unwrap();
    let kid = |token: &str| jsonwebtoken::decode_header(token).unwrap().kid.unwrap();
    assert_eq!(kid(&after.token), crate::auth::key_ring::kid_of(SECRET));
    assert_ne!(kid(&before.token), kid(&after.token));
    assert!(rotated.verify_now(&before.token, now).is_ok());
    assert!(rotated.verify_now(&after.token, now).is_ok());
    // The old instance, not yet refreshed (and unable to: no source), refuses the new key.
    assert!(old.verify_now(&after.token, now).is_err());
    // After the next rotation the first key is retired.
    let retired = TokenKeys::with_versions(
        &[b"the-next-key-0123456789abcdef0123", SECRET],
        Duration::from_secs(60),
    );
    assert!(retired.verify_now(&before.token, now).is_err());
    assert!(retired.verify_now(&after.token, now).is_ok());
}

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

fn keys() -> TokenKeys {
    TokenKeys::new(SECRET, Duration::from_secs(3600))
}

fn sign(claims: &serde_json::Value, header: Header, secret: &[u8]) -> String {
    hs256::install();
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret)).unwrap()
}

#[test]
fn only_hs256_can_be_signed_or_verified() {
    hs256::install();
    let claims = claims_at(Utc::now().timestamp());
    let key = EncodingKey::from_secret(SECRET);
    for algorithm in [Algorithm::HS384, Algorithm::HS512, Algorithm::RS256] {
        assert!(jsonwebtoken::encode(&Header::new(algorithm), &claims, &key).is_err());
    }
    let token = sign(&claims, Header::default(), SECRET);
    let (message, tag) = token.rsplit_once('.').unwrap();
    let key = DecodingKey::from_secret(SECRET);
    assert!(jsonwebtoken::crypto::verify(tag, message.as_bytes(), &key, Algorithm::HS256).unwrap());
    for algorithm in [Algorithm::HS384, Algorithm::HS512, Algorithm::RS256] {
        assert!(jsonwebtoken::crypto::verify(tag, message.as_bytes(), &key, algorithm).is_err());
    }
}

fn claims_at(now: i64) -> serde_json::Value {
    serde_json::json!({
        "sub": "7", "role": 2, "iat": now, "exp": now + 60,
        "jti": "0123456789abcdef0123456789abcdef"
    })
}

#[test]
fn an_issued_token_verifies_and_names_its_user() {
    let now = Utc::now();
    let issued = keys()
        .issue(42, 1, now, now + chrono::Duration::days(1))
        .unwrap();
    assert_eq!(
        issued.expires_at - issued.issued_at,
        chrono::Duration::seconds(3600)
    );
    let verified = keys().verify_now(&issued.token, now).unwrap();
    assert_eq!(verified.user_id, 42);
    assert_eq!(verified.jti, issued.jti);
    let header = jsonwebtoken::decode_header(&issued.token).unwrap();
    assert_eq!(header.alg, Algorithm::HS256);
}

#[test]
fn a_token_never_outlives_the_end_it_is_given() {
    let now = Utc.timestamp_opt(1_700_000_000, 250_000_000).unwrap();
    // The session ends at ...1800.75: the token at ...1800, never a fraction later.
    let session_end = now + chrono::Duration::milliseconds(1_800_500);
    let issued = keys().issue(42, 1, now, session_end).unwrap();
    assert_eq!(issued.issued_at.timestamp(), 1_700_000_000);
    assert_eq!(issued.expires_at.timestamp(), 1_700_001_800);
    assert!(issued.expires_at <= session_end);
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_exp = false;
    let exp = jsonwebtoken::decode::<Claims>(
        &issued.token,
        &DecodingKey::from_secret(SECRET),
        &validation,
    )
    .unwrap()
    .claims
    .exp;
    assert_eq!(exp, issued.expires_at.timestamp());
    // A far end leaves the configured lifetime.
    let issued = keys()
        .issue(42, 1, now, now + chrono::Duration::days(1))
        .unwrap();
    assert_eq!(
        issued.expires_at.timestamp() - issued.issued_at.timestamp(),
        3600
    );
}

#[test]
fn every_token_has_its_own_jti() {
    let now = Utc::now();
    let first = keys()
        .issue(1, 1, now, now + chrono::Duration::days(1))
        .unwrap();
    let second = keys()
        .issue(1, 1, now, now + chrono::Duration::days(1))
        .unwrap();
    assert_ne!(first.jti, second.jti);
    assert_ne!(first.token, second.token);
}

#[test]
fn tampered_forged_and_expired_tokens_are_refused() {
    let now = Utc::now();
    let issued = keys()
        .issue(42, 2, now, now + chrono::Duration::days(1))
        .unwrap();
    let mut tampered = issued.token.clone();
    tampered.pop();
    tampered.push(if issued.token.ends_with('A') {
        'B'
    } else {
        'A'
    });
    let other_key = sign(
        &claims_at(now.timestamp()),
        Header::default(),
        b"another-secret-another-secret-xx",
    );
    let expired = sign(
        &claims_at(now.timestamp() - 3600),
        Header::default(),
        SECRET,
    );
    let mut no_exp = claims_at(now.timestamp());
    no_exp.as_object_mut().unwrap().remove("exp");
    let no_exp = sign(&no_exp, Header::default(), SECRET);
    let future = sign(&claims_at(now.timestamp() + 600), Header::default(), SECRET);
    let unsigned = {
        use base64::Engine;
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        format!(
            "{}.{}.",
            b64(br#"{"alg":"none","typ":"JWT"}"#),
            b64(claims_at(now.timestamp()).to_string().as_bytes())
        )
    };
    for token in [
        tampered.as_str(),
        other_key.as_str(),
        expired.as_str(),
        no_exp.as_str(),
        future.as_str(),
        unsigned.as_str(),
        "",
        "garbage",
        &"a".repeat(MAX_TOKEN_BYTES + 1),
    ] {
        assert!(
            matches!(keys().verify_now(token, now), Err(ApiError::Unauthorized)),
            "accepted {token}"
        );
    }
}

#[test]
fn a_valid_signature_over_a_non_numeric_subject_is_refused() {
    let now = Utc::now().timestamp();
    let mut claims = claims_at(now);
    claims["sub"] = "admin".into();
    let token = sign(&claims, Header::default(), SECRET);
    assert!(keys().verify_now(&token, Utc::now()).is_err());
}

/// A token signed with our key by someone else's rules: another algorithm named in the
/// header (an RS256/ES256 header over an HMAC, the classic confusion), or a key reference.
#[test]
fn headers_that_name_other_algorithms_or_keys_are_refused() {
    use base64::Engine;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let now = Utc::now();
    let claims = b64(claims_at(now.timestamp()).to_string().as_bytes());
    let hmac_signed = |header: &str| {
        use hmac::{Hmac, Mac};
        let signing_input = format!("{}.{claims}", b64(header.as_bytes()));
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET).unwrap();
        mac.update(signing_input.as_bytes());
        format!("{signing_input}.{}", b64(&mac.finalize().into_bytes()))
    };
    // The control: the same construction with a plain HS256 header is accepted.
    assert!(keys()
        .verify_now(&hmac_signed(r#"{"alg":"HS256","typ":"JWT"}"#), now)
        .is_ok());
    for header in [
        r#"{"alg":"RS256","typ":"JWT"}"#,
        r#"{"alg":"ES256","typ":"JWT"}"#,
        r#"{"alg":"HS512","typ":"JWT"}"#,
        r#"{"alg":"none","typ":"JWT"}"#,
        r#"{"alg":"HS256","typ":"JWT","kid":"../../keys/other"}"#,
        r#"{"alg":"HS256","typ":"JWT","jku":"https://attacker.example/jwks.json"}"#,
        r#"{"alg":"HS256","typ":"JWT","x5u":"https://attacker.example/cert.pem"}"#,
    ] {
        assert!(
            matches!(
                keys().verify_now(&hmac_signed(header), now),
                Err(ApiError::Unauthorized)
            ),
            "accepted a token with header {header}"
        );
    }
}
