//! The OpenAPI 3 document of the whole contract, generated from the request and response types.

use std::sync::OnceLock;

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::auth::{LoginRequest, LoginResponse};
use crate::error::{Detail, FieldError};
use crate::users::{User, UserPage};
use crate::validation::{NewUser, PasswordChange, UserPatch};

/// `detail`: a sentence, or for 422 a list of `{loc, msg}`.
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(as = DetailValue)]
enum DetailValue {
    Message(String),
    Fields(Vec<FieldError>),
}

/// Every error body.
#[derive(ToSchema)]
#[allow(dead_code)]
struct ErrorBody {
    detail: DetailValue,
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
        delete_user
    ),
    components(schemas(
        LoginRequest, LoginResponse, User, UserPage, NewUser, UserPatch, PasswordChange, Detail,
        ErrorBody, DetailValue, FieldError
    )),
    modifiers(&BearerAuth),
    tags((name = "auth", description = "Sign-in, sign-out, own password"),
         (name = "users", description = "User records"))
)]
pub struct ApiDoc;

/// The document as JSON, built once per instance.
pub fn document_json() -> &'static str {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        ApiDoc::openapi()
            .to_json()
            .unwrap_or_else(|_| "{}".to_owned())
    })
}

/// The interactive page at `/docs`: Swagger UI (loaded by the reader's browser) over
/// `/api/openapi.json`.
pub const DOCS_HTML: &str = r##"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>User management API</title>
  <link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"></script>
  <script>
    // Relative, so it works behind any stage or domain.
    const spec = new URL("api/openapi.json", window.location.href.replace(/docs\/?$/, "")).href;
    window.ui = SwaggerUIBundle({ url: spec, dom_id: "#swagger-ui" });
  </script>
</body>
</html>
"##;

#[utoipa::path(post, path = "/api/users/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = LoginResponse),
        (status = 401, description = "Wrong cellnumber or password", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid body", body = ErrorBody),
        (status = 429, description = "Too many failed logins for this cellnumber", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds until the next try"))),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn login() {}

#[utoipa::path(post, path = "/api/users/logout", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 204, description = "The token is revoked"),
        (status = 401, description = "Not authenticated", body = ErrorBody),
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
        (status = 204, description = "Changed; every other token of the user is revoked"),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Current password is incorrect", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid body", body = ErrorBody),
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
        (status = 422, description = "Invalid body", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn create_user() {}

#[utoipa::path(get, path = "/api/users", tag = "users", security(("bearer" = [])),
    params(
        ("limit" = Option<u64>, Query, minimum = 1, maximum = 100, description = "Page size, default 50"),
        ("offset" = Option<u64>, Query, minimum = 0, description = "Users to skip, default 0"),
    ),
    responses(
        (status = 200, description = "A page of users, ordered by id", body = UserPage),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 422, description = "limit or offset out of range", body = ErrorBody),
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
        (status = 422, description = "id is not a positive whole number", body = ErrorBody),
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
        (status = 409, description = "Duplicate cellnumber or email, or demoting the last admin", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid body or id", body = ErrorBody),
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
        (status = 409, description = "The last admin cannot be deleted", body = ErrorBody),
        (status = 422, description = "id is not a positive whole number", body = ErrorBody),
        (status = 503, description = "Database unavailable", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn delete_user() {}

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
