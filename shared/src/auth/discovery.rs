//! What other services need to verify access tokens with the public keys alone: the OpenID
//! discovery document (its `jwks_uri` is what API Gateway's JWT authorizer and standard libraries
//! follow) and the JWKS.

use serde::Serialize;

use crate::auth::signing_key::Jwk;
use crate::auth::token::{TokenKeys, JWKS_MAX_AGE_SECONDS};
use crate::error::ApiError;

/// `Cache-Control` of both documents: short enough that a new key is in every cached JWKS before
/// it signs (keys are published [`crate::auth::token::DEFAULT_PUBLISH_DELAY`] before).
pub const CACHE_CONTROL: &str = "public, max-age=300";
const _: () = assert!(JWKS_MAX_AGE_SECONDS == 300, "CACHE_CONTROL says 300");

/// The claims every access token carries.
pub const CLAIMS: [&str; 8] = ["iss", "aud", "sub", "sid", "role", "iat", "exp", "jti"];

/// The OpenID discovery document (the fields a JWT verifier reads).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Discovery {
    /// `iss` of every access token: `TOKEN_ISSUER`, or the API's base URL.
    pub issuer: String,
    /// `<issuer>/.well-known/jwks.json`.
    pub jwks_uri: String,
    #[schema(value_type = Vec<String>)]
    pub response_types_supported: [&'static str; 1],
    #[schema(value_type = Vec<String>, example = json!(["public"]))]
    pub subject_types_supported: [&'static str; 1],
    #[schema(value_type = Vec<String>, example = json!(["RS256"]))]
    pub id_token_signing_alg_values_supported: [&'static str; 1],
    #[schema(value_type = Vec<String>)]
    pub claims_supported: [&'static str; 8],
}

/// The public keys that sign access tokens (RFC 7517).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

/// The discovery document of the deployment's issuer.
pub fn discovery(tokens: &TokenKeys) -> Result<Discovery, ApiError> {
    let issuer = tokens
        .issuer()
        .ok_or_else(|| ApiError::Internal("the token issuer is not known".into()))?;
    Ok(Discovery {
        issuer: issuer.to_owned(),
        jwks_uri: format!("{issuer}/.well-known/jwks.json"),
        response_types_supported: ["token"],
        subject_types_supported: ["public"],
        id_token_signing_alg_values_supported: ["RS256"],
        claims_supported: CLAIMS,
    })
}

/// Every RSA key whose tokens may still be live, and the next one before it signs.
pub fn jwks(tokens: &TokenKeys) -> Jwks {
    Jwks {
        keys: tokens.jwks(),
    }
}
