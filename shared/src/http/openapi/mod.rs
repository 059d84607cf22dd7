//! The OpenAPI 3 document of the whole contract, generated from the request and response types.

use std::sync::OnceLock;

use serde_json::{json, Value};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::audit::AuditEvent;
use crate::auth::discovery::{Discovery, Jwks};
use crate::auth::signing_key::Jwk;
use crate::error::{Detail, FieldError};
use crate::mfa::{
    ConfirmRequest, EnrolRequest, Enrolment, MfaChallenge, MfaLoginRequest, ProofRequest,
    RecoveryCodes,
};
use crate::sessions::{RefreshRequest, SessionGrant, SessionList, SessionView};
use crate::sms::{ForgotRequest, ResetRequest, SignupRequest, VerifyRequest};
use crate::users::credentials::{LoginOutcome, LoginRequest};
use crate::users::validation::{NewUser, PasswordChange, ProfilePatch, UserPatch};
use crate::users::User;
use schemas::{
    AuditAction, AuditDetail, AuditPage, ErrorBody, LoginFailureReason, LogoutScope, UserField,
    UserPage, UserSort, ValidationErrorBody,
};

mod auth_paths;
mod key_paths;
mod mfa_paths;
mod schemas;
mod session_paths;
mod sms_paths;
#[cfg(test)]
mod tests;
mod user_paths;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

// `servers`: a relative `/`, the origin that serves the document, which is also what a document
// without servers means; written out because linters and some generators ask for it.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "User management API",
        description = "Users, roles and sign-in. Admins (roleId 1) manage users; normal users \
                       (roleId 2) read their own record. Every error is `{\"detail\": ...}`.",
        license(name = "MIT", identifier = "MIT")
    ),
    servers((url = "/", description = "The origin that serves this document")),
    paths(
        auth_paths::login, auth_paths::logout, auth_paths::change_password,
        session_paths::refresh_token, session_paths::list_sessions, session_paths::delete_session,
        session_paths::revoke_user_sessions, user_paths::get_me, user_paths::update_me,
        user_paths::create_user, user_paths::list_users, user_paths::get_user,
        user_paths::update_user, user_paths::delete_user, user_paths::list_audit,
        mfa_paths::login_mfa, mfa_paths::enrol_totp, mfa_paths::confirm_totp,
        mfa_paths::disable_totp, mfa_paths::renew_recovery_codes, mfa_paths::reset_user_mfa,
        sms_paths::forgot_password, sms_paths::reset_password, sms_paths::signup,
        sms_paths::verify_signup,
        key_paths::openid_configuration, key_paths::jwks
    ),
    components(schemas(
        LoginRequest, SessionGrant, RefreshRequest, SessionList, SessionView, User, UserPage,
        NewUser, UserPatch, PasswordChange, Detail, ErrorBody, ValidationErrorBody, FieldError,
        ProfilePatch, AuditEvent, AuditPage, AuditAction, AuditDetail, LoginFailureReason,
        LogoutScope, UserField, UserSort, LoginOutcome, MfaChallenge, MfaLoginRequest,
        EnrolRequest, Enrolment, ConfirmRequest, ProofRequest, RecoveryCodes,
        ForgotRequest, ResetRequest, SignupRequest, VerifyRequest,
        Discovery, Jwks, Jwk
    )),
    modifiers(&BearerAuth),
    tags((name = "auth", description = "Sign-in, refresh, sign-out, own password"),
         (name = "sessions", description = "Sessions: list and end them"),
         (name = "users", description = "User records"),
         (name = "audit", description = "Who did what, when and from where"),
         (name = "mfa", description = "The second factor (TOTP): turn it on and off, recovery codes"),
         (name = "sms", description = "A code sent by SMS: account recovery, and sign-up when it is open"),
         (name = "keys", description = "What verifies access tokens with the public keys alone"))
)]
pub struct ApiDoc;

/// The document as JSON, built once per instance.
pub fn document_json() -> &'static str {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT.get_or_init(|| document().to_string())
}

/// The document as served: what utoipa generates, completed by [`amend`].
pub fn document() -> Value {
    let mut document = serde_json::to_value(ApiDoc::openapi()).unwrap_or_else(|_| json!({}));
    amend(&mut document);
    document
}

/// Facts about the responses that the derives and `#[utoipa::path]`s below do not state:
/// - the headers every response carries (`shared::http`) and those its status calls for
///   (`ApiError::headers`), all required, which utoipa's `Header` cannot say;
/// - a response body has every field of its type (null when unset) and no other: the types are
///   serialized whole, so no password or hash can slip in.
fn amend(document: &mut Value) {
    let exact = [
        "User",
        "UserPage",
        "SessionGrant",
        "SessionList",
        "SessionView",
        "Detail",
        "ErrorBody",
        "ValidationErrorBody",
        "FieldError",
        "AuditEvent",
        "AuditPage",
        "MfaChallenge",
        "Enrolment",
        "RecoveryCodes",
        "Discovery",
        "Jwks",
        "Jwk",
    ];
    if let Some(schemas) = document
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        for (name, schema) in schemas.iter_mut() {
            let Some(schema) = schema.as_object_mut() else {
                continue;
            };
            if exact.contains(&name.as_str()) {
                let fields: Vec<Value> = schema
                    .get("properties")
                    .and_then(Value::as_object)
                    .map(|properties| properties.keys().map(|key| json!(key)).collect())
                    .unwrap_or_default();
                schema.insert("required".into(), Value::Array(fields));
            }
            // An event's detail has only the keys of its action, so none is required.
            if exact.contains(&name.as_str()) || name == "AuditDetail" {
                schema.insert("additionalProperties".into(), json!(false));
            }
        }
        // `mfaToken` and exactly one of `code` and `recoveryCode`: no other field is allowed, so
        // two properties in all say it.
        if let Some(request) = schemas
            .get_mut("MfaLoginRequest")
            .and_then(Value::as_object_mut)
        {
            request.insert("minProperties".into(), json!(2));
            request.insert("maxProperties".into(), json!(2));
        }
        // The audit module stores and reads an event's action and detail as text and JSON; the
        // closed sets they come from are schemas of this module (`audit` knows nothing of `http`).
        if let Some(properties) = schemas
            .get_mut("AuditEvent")
            .and_then(|event| event.get_mut("properties"))
            .and_then(Value::as_object_mut)
        {
            for (field, schema) in [("action", "AuditAction"), ("detail", "AuditDetail")] {
                let reference = format!("#/components/schemas/{schema}");
                properties.insert(field.into(), json!({ "$ref": reference }));
            }
        }
    }
    let responses = document
        .get_mut("paths")
        .and_then(Value::as_object_mut)
        .into_iter()
        .flat_map(|paths| paths.values_mut())
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.values_mut())
        .filter_map(|operation| operation.get_mut("responses"))
        .filter_map(Value::as_object_mut)
        .flat_map(|responses| responses.iter_mut());
    for (status, response) in responses {
        let Some(response) = response.as_object_mut() else {
            continue;
        };
        let headers = response.entry("headers").or_insert_with(|| json!({}));
        merge(headers, &response_headers(status));
        for header in headers
            .as_object_mut()
            .into_iter()
            .flat_map(|h| h.values_mut())
        {
            if let Some(header) = header.as_object_mut() {
                header.insert("required".into(), json!(true));
            }
        }
    }
    // The public key documents hold no user data and are meant to be cached by verifiers.
    let public_documents = document
        .get_mut("paths")
        .and_then(Value::as_object_mut)
        .into_iter()
        .flat_map(|paths| paths.iter_mut())
        .filter(|(path, _)| path.starts_with("/.well-known/"))
        .filter_map(|(_, item)| item.as_object_mut())
        .flat_map(|item| item.values_mut())
        .filter_map(|operation| operation.pointer_mut("/responses/200/headers/Cache-Control"));
    for header in public_documents {
        *header = json!({
            "description": "Public keys and where they are: verifiers may keep them a while",
            "schema": { "type": "string", "pattern": "^public, max-age=[0-9]+$" },
            "required": true,
        });
    }
}

/// The headers a response of `status` carries besides those its operation declares.
fn response_headers(status: &str) -> Value {
    let mut headers = json!({
        "Cache-Control": {
            "description": "Responses carry user data and tokens: no cache may keep them",
            "schema": { "type": "string", "enum": ["no-store"] },
        },
        "X-Content-Type-Options": {
            "description": "No browser may sniff another content type",
            "schema": { "type": "string", "enum": ["nosniff"] },
        },
    });
    let extra = match status {
        "201" => {
            json!({ "Location": { "schema": { "type": "string", "pattern": "^/api/users/[1-9][0-9]*$" } } })
        }
        "401" => json!({
            "WWW-Authenticate": {
                "description": "A bearer token is what authenticates",
                "schema": { "type": "string", "enum": ["Bearer"] },
            }
        }),
        "429" | "503" => json!({
            "Retry-After": {
                "description": "Seconds to wait before trying again",
                "schema": { "type": "integer", "minimum": 1 },
            }
        }),
        _ => json!({}),
    };
    merge(&mut headers, &extra);
    headers
}

/// Merges `patch` into `target`: objects key by key, anything else replaced.
fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(target), Value::Object(patch)) => {
            for (key, value) in patch {
                merge(target.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
        (target, patch) => *target = patch.clone(),
    }
}

/// `(METHOD, path)` of every operation in the document.
pub fn routes() -> Vec<(String, String)> {
    let document = ApiDoc::openapi();
    let mut routes = Vec::new();
    for (path, item) in document.paths.paths.iter() {
        let methods = [
            ("GET", item.get.is_some()),
            ("POST", item.post.is_some()),
            ("PATCH", item.patch.is_some()),
            ("DELETE", item.delete.is_some()),
            ("PUT", item.put.is_some()),
        ];
        for (method, present) in methods {
            if present {
                routes.push((method.to_owned(), path.clone()));
            }
        }
    }
    routes.sort();
    routes
}
