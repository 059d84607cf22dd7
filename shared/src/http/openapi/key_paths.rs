//! The documents that let other services verify access tokens with the public keys alone.

use crate::auth::discovery::{Discovery, Jwks};

/// OpenID discovery document
///
/// The issuer of the access tokens and where its public keys are (`jwks_uri`): what API
/// Gateway's JWT authorizer and standard JWT libraries start from. Cacheable for 5 minutes.
#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "keys", security(),
    responses(
        (status = 200, description = "The discovery document", body = Discovery),
    ))]
#[allow(dead_code)]
pub(super) fn openid_configuration() {}

/// Public signing keys (JWKS)
///
/// Every RSA key whose access tokens may still be live, and the next one before it signs; never
/// a private part. Cacheable for 5 minutes.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "keys", security(),
    responses(
        (status = 200, description = "The public keys", body = Jwks),
    ))]
#[allow(dead_code)]
pub(super) fn jwks() {}
