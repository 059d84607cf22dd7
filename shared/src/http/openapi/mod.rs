//! The OpenAPI 3 document of the whole contract, generated from the request and response types.

use std::sync::OnceLock;

use serde_json::{json, Value};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::audit::AuditEvent;
use crate::credentials::LoginRequest;
use crate::sessions::{RefreshRequest, SessionGrant, SessionList, SessionView};

mod session_paths;
use crate::error::{Detail, FieldError};
use crate::users::User;
use crate::validation::{NewUser, PasswordChange, ProfilePatch, UserPatch};

/// Every error but a 422: what went wrong, in a sentence.
#[derive(ToSchema)]
#[allow(dead_code)]
struct ErrorBody {
    #[schema(min_length = 1, example = "User not found")]
    detail: String,
}

/// A 422: every invalid input, as a `{loc, msg}` (the shape FastAPI clients parse).
#[derive(ToSchema)]
#[allow(dead_code)]
struct ValidationErrorBody {
    #[schema(min_items = 1)]
    detail: Vec<FieldError>,
}

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

#[derive(OpenApi)]
#[openapi(
    info(
        title = "User management API",
        description = "Users, roles and sign-in. Admins (roleId 1) manage users; normal users \
                       (roleId 2) read their own record. Every error is `{\"detail\": ...}`.",
        license(name = "MIT")
    ),
    paths(
        login, logout, get_me, change_password, create_user, list_users, get_user, update_user,
        delete_user, update_me, list_audit, session_paths::refresh_token,
        session_paths::list_sessions, session_paths::delete_session,
        session_paths::revoke_user_sessions
    ),
    components(schemas(
        LoginRequest, SessionGrant, RefreshRequest, SessionList, SessionView, User, UserPage,
        NewUser, UserPatch, PasswordChange, Detail, ErrorBody, ValidationErrorBody, FieldError,
        ProfilePatch, AuditEvent, AuditPage
    )),
    modifiers(&BearerAuth),
    tags((name = "auth", description = "Sign-in, refresh, sign-out, own password"),
         (name = "sessions", description = "Sessions: list and end them"),
         (name = "users", description = "User records"),
         (name = "audit", description = "Who did what, when and from where"))
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
        "Detail",
        "ErrorBody",
        "ValidationErrorBody",
        "FieldError",
        "AuditEvent",
        "AuditPage",
    ];
    if let Some(schemas) = document
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        for (name, schema) in schemas.iter_mut() {
            let Some(schema) = schema
                .as_object_mut()
                .filter(|_| exact.contains(&name.as_str()))
            else {
                continue;
            };
            let fields: Vec<Value> = schema
                .get("properties")
                .and_then(Value::as_object)
                .map(|properties| properties.keys().map(|key| json!(key)).collect())
                .unwrap_or_default();
            schema.insert("required".into(), Value::Array(fields));
            schema.insert("additionalProperties".into(), json!(false));
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

#[utoipa::path(post, path = "/api/users/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in: a new session", body = SessionGrant),
        (status = 401, description = "Wrong cellnumber or password", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid body", body = ValidationErrorBody),
        (status = 429, description = "Too many login attempts for this cellnumber, from this address or in total; the password was not checked", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn login() {}

#[utoipa::path(post, path = "/api/users/logout", tag = "auth", security(("bearer" = [])),
    params(("scope" = Option<String>, Query, pattern = "^(local|others|global)$",
        description = "local (default): the session of the token used; others: every other session of the user; global: all of them")),
    responses(
        (status = 204, description = "The sessions the scope names are ended, with their tokens"),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 422, description = "Another scope; nothing is ended", body = ValidationErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn logout() {}

#[utoipa::path(get, path = "/api/users/me", tag = "users", security(("bearer" = [])),
    responses(
        (status = 200, description = "The signed-in user", body = User),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn get_me() {}

#[utoipa::path(post, path = "/api/users/me/password", tag = "auth", security(("bearer" = [])),
    request_body = PasswordChange,
    responses(
        (status = 204, description = "Changed; every other session of the user is ended"),
        (status = 401, description = "Not authenticated; or the token was revoked, or the password changed, while this request ran", body = ErrorBody),
        (status = 403, description = "Current password is incorrect (counted as a failed login)", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid body", body = ValidationErrorBody),
        (status = 429, description = "Too many failed logins of this user's cellnumber", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn change_password() {}

#[utoipa::path(post, path = "/api/users", tag = "users", security(("bearer" = [])),
    request_body = NewUser,
    responses(
        (status = 201, description = "Created", body = User,
            headers(("Location" = String, description = "/api/users/{id}"))),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 409, description = "Cellnumber or email already registered", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid body", body = ValidationErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn create_user() {}

#[utoipa::path(get, path = "/api/users", tag = "users", security(("bearer" = [])),
    params(
        ("q" = Option<String>, Query, min_length = 1, max_length = 100, pattern = r"[^\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]", description = "1 to 100 characters after trimming: users whose name or email contains it (ignoring case) or whose cellnumber contains it (a leading + ignored); %, _ and \\ are plain characters"),
        ("roleId" = Option<u8>, Query, minimum = 1, maximum = 2, description = "Only users of this role"),
        ("isActive" = Option<bool>, Query, description = "Only active (true) or disabled (false) users"),
        ("sort" = Option<String>, Query, pattern = "^-?(id|name|created)$", description = "id (default), -id, name, -name, created, -created; ties by id"),
        ("limit" = Option<u64>, Query, minimum = 1, maximum = 100, description = "Page size, default 50"),
        ("offset" = Option<u64>, Query, minimum = 0, maximum = 9223372036854775807_i64, description = "Users to skip, default 0 (at most i64::MAX)"),
    ),
    responses(
        (status = 200, description = "A page of the matching users; total counts them all", body = UserPage),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 422, description = "A parameter out of range, or an unknown parameter", body = ValidationErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn list_users() {}

#[utoipa::path(get, path = "/api/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = u64, Path, minimum = 1, description = "User id")),
    responses(
        (status = 200, description = "The user", body = User),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "A normal user asking for another id", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 422, description = "id is not a positive whole number", body = ValidationErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn get_user() {}

#[utoipa::path(patch, path = "/api/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = u64, Path, minimum = 1, description = "User id")),
    request_body = UserPatch,
    responses(
        (status = 200, description = "The changed user", body = User),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 409, description = "Duplicate cellnumber or email, or demoting or disabling the last active admin", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid body or id", body = ValidationErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn update_user() {}

#[utoipa::path(delete, path = "/api/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = u64, Path, minimum = 1, description = "User id")),
    responses(
        (status = 200, description = "Deleted, with its tokens", body = Detail),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 409, description = "The last active admin cannot be deleted", body = ErrorBody),
        (status = 422, description = "id is not a positive whole number", body = ValidationErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn delete_user() {}

#[utoipa::path(patch, path = "/api/users/me", tag = "users", security(("bearer" = [])),
    request_body = ProfilePatch,
    responses(
        (status = 200, description = "The signed-in user, changed", body = User),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 409, description = "Email already registered", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid body, or a field other than name, email and profilepic", body = ValidationErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn update_me() {}

#[utoipa::path(get, path = "/api/audit", tag = "audit", security(("bearer" = [])),
    params(
        ("action" = Option<String>, Query, pattern = r"^(login\.succeeded|login\.failed|logout|session\.revoked|sessions\.revoked|refresh\.reused|password\.changed|user\.created|user\.updated|user\.deleted)$", description = "Only events of this action"),
        ("actorId" = Option<u64>, Query, minimum = 1, maximum = 9223372036854775807_i64, description = "Only events of this actor"),
        ("targetId" = Option<u64>, Query, minimum = 1, maximum = 9223372036854775807_i64, description = "Only events about this user"),
        ("limit" = Option<u64>, Query, minimum = 1, maximum = 100, description = "Page size, default 50"),
        ("offset" = Option<u64>, Query, minimum = 0, maximum = 9223372036854775807_i64, description = "Events to skip, default 0 (at most i64::MAX)"),
    ),
    responses(
        (status = 200, description = "A page of events, newest first; total counts the matching ones", body = AuditPage),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 422, description = "A parameter out of range, or an unknown parameter", body = ValidationErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn list_audit() {}

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ApiError;

    /// `(operation, status, response)` of every response the document declares.
    fn responses(document: &Value) -> Vec<(String, String, Value)> {
        let mut found = Vec::new();
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                for (status, response) in operation["responses"].as_object().unwrap() {
                    found.push((format!("{method} {path}"), status.clone(), response.clone()));
                }
            }
        }
        assert!(found.len() > 50, "{} responses", found.len());
        found
    }

    #[test]
    fn every_response_requires_the_headers_it_always_carries() {
        let document = document();
        for (operation, status, response) in responses(&document) {
            let mut expected = vec!["Cache-Control", "X-Content-Type-Options"];
            match status.as_str() {
                "201" => expected.push("Location"),
                "401" => expected.push("WWW-Authenticate"),
                "429" | "503" => expected.push("Retry-After"),
                _ => {}
            }
            let headers = response["headers"].as_object().unwrap();
            let mut declared: Vec<&str> = headers.keys().map(String::as_str).collect();
            declared.sort_unstable();
            expected.sort_unstable();
            assert_eq!(declared, expected, "{operation} {status}");
            for (name, header) in headers {
                assert_eq!(header["required"], true, "{operation} {status} {name}");
            }
        }
    }

    #[test]
    fn error_responses_are_documented_with_the_body_api_error_sends() {
        let document = document();
        for (operation, status, response) in responses(&document) {
            let schema = &response["content"]["application/json"]["schema"]["$ref"];
            match status.as_str() {
                "422" => assert_eq!(
                    schema, "#/components/schemas/ValidationErrorBody",
                    "{operation}"
                ),
                s if s >= "400" => {
                    assert_eq!(schema, "#/components/schemas/ErrorBody", "{operation} {s}")
                }
                _ => {}
            }
        }
        let schemas = &document["components"]["schemas"];
        for error in [
            ApiError::Unauthorized,
            ApiError::NotFound,
            ApiError::TooManyRequests {
                retry_after_seconds: 3,
            },
            ApiError::Unavailable("down".into()),
            ApiError::validation(&["body", "name"], "is required"),
        ] {
            let body = error.body();
            let name = if error.status() == 422 {
                "ValidationErrorBody"
            } else {
                "ErrorBody"
            };
            let properties = schemas[name]["properties"].as_object().unwrap();
            let sent = body.as_object().unwrap();
            assert_eq!(
                sent.keys().collect::<Vec<_>>(),
                properties.keys().collect::<Vec<_>>()
            );
            assert_eq!(schemas[name]["additionalProperties"], false);
            if name == "ErrorBody" {
                assert!(body["detail"].is_string(), "{body}");
            } else {
                assert_eq!(body["detail"][0]["loc"][1], "name");
            }
        }
        for (header, value) in ApiError::Unavailable("down".into())
            .headers()
            .into_iter()
            .chain(ApiError::Unauthorized.headers())
        {
            assert!(
                ["retry-after", "www-authenticate"].contains(&header),
                "{header}: {value} is not documented"
            );
        }
    }

    #[test]
    fn response_bodies_have_every_field_and_no_other() {
        let document = document();
        let user = &document["components"]["schemas"]["User"];
        let mut required: Vec<&str> = user["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|field| field.as_str().unwrap())
            .collect();
        required.sort_unstable();
        assert_eq!(
            required,
            [
                "cellnumber",
                "created",
                "email",
                "id",
                "isActive",
                "name",
                "profilepic",
                "roleId",
                "updated"
            ]
        );
        assert_eq!(user["additionalProperties"], false);
        assert_eq!(
            user["properties"]["email"]["type"],
            json!(["string", "null"])
        );
    }
}

/// `GET /api/users`' answer as the document names it (the code's is `Page<User>`).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct UserPage {
    items: Vec<User>,
    total: u64,
    #[schema(minimum = 1, maximum = 100)]
    limit: u64,
    offset: u64,
}

/// `GET /api/audit`'s answer as the document names it (the code's is `Page<AuditEvent>`).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct AuditPage {
    items: Vec<AuditEvent>,
    total: u64,
    #[schema(minimum = 1, maximum = 100)]
    limit: u64,
    offset: u64,
}
