//! The document against the server: the statuses, headers and bodies it answers.

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
            "mfaEnabled",
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

/// The statuses each operation answers, read off its handler and the shared code it calls
/// (`ApiError::status` of every error on its path): the document must declare exactly these.
const STATUSES: [(&str, &[u16]); 27] = [
    (
        "post /api/users/login",
        &[200, 401, 403, 413, 415, 422, 429, 503],
    ),
    ("post /api/users/logout", &[204, 401, 422, 503]),
    (
        "post /api/users/me/password",
        &[204, 401, 403, 413, 415, 422, 429, 503],
    ),
    (
        "post /api/users/token/refresh",
        &[200, 401, 413, 415, 422, 503],
    ),
    ("get /api/users/me", &[200, 401, 503]),
    (
        "patch /api/users/me",
        &[200, 401, 404, 409, 413, 415, 422, 503],
    ),
    ("get /api/users/me/sessions", &[200, 401, 503]),
    (
        "delete /api/users/me/sessions/{sessionId}",
        &[204, 401, 404, 503],
    ),
    (
        "delete /api/users/{id}/sessions",
        &[204, 401, 403, 404, 422, 503],
    ),
    ("post /api/users", &[201, 401, 403, 409, 413, 415, 422, 503]),
    ("get /api/users", &[200, 401, 403, 422, 503]),
    ("get /api/users/{id}", &[200, 401, 403, 404, 422, 503]),
    (
        "patch /api/users/{id}",
        &[200, 401, 403, 404, 409, 413, 415, 422, 503],
    ),
    (
        "delete /api/users/{id}",
        &[200, 401, 403, 404, 409, 422, 503],
    ),
    ("get /api/audit", &[200, 401, 403, 422, 503]),
    (
        "post /api/users/login/mfa",
        &[200, 401, 413, 415, 422, 429, 503],
    ),
    (
        "post /api/users/me/mfa/totp",
        &[200, 401, 403, 409, 413, 415, 422, 429, 503],
    ),
    (
        "post /api/users/me/mfa/totp/confirm",
        &[200, 400, 401, 409, 413, 415, 422, 503],
    ),
    (
        "post /api/users/me/mfa/totp/disable",
        &[204, 401, 403, 409, 413, 415, 422, 429, 503],
    ),
    (
        "post /api/users/me/mfa/recovery-codes",
        &[200, 401, 403, 409, 413, 415, 422, 429, 503],
    ),
    (
        "delete /api/users/{id}/mfa",
        &[204, 401, 403, 404, 422, 503],
    ),
    (
        "post /api/users/password/forgot",
        &[202, 413, 415, 422, 429, 503],
    ),
    (
        "post /api/users/password/reset",
        &[204, 400, 413, 415, 422, 503],
    ),
    (
        "post /api/users/signup",
        &[202, 404, 413, 415, 422, 429, 503],
    ),
    (
        "post /api/users/signup/verify",
        &[201, 400, 404, 409, 413, 415, 422, 503],
    ),
    ("get /.well-known/openid-configuration", &[200]),
    ("get /.well-known/jwks.json", &[200]),
];

#[test]
fn every_operation_declares_every_status_it_answers_and_no_other() {
    let document = document();
    let mut declared: Vec<(String, Vec<u16>)> = Vec::new();
    for (operation, status, _) in responses(&document) {
        let status = status.parse().unwrap();
        match declared.iter_mut().find(|(name, _)| *name == operation) {
            Some((_, statuses)) => statuses.push(status),
            None => declared.push((operation, vec![status])),
        }
    }
    assert_eq!(declared.len(), STATUSES.len());
    for (operation, expected) in STATUSES {
        let (_, statuses) = declared
            .iter_mut()
            .find(|(name, _)| name == operation)
            .unwrap_or_else(|| panic!("{operation} is not in the document"));
        statuses.sort_unstable();
        assert_eq!(statuses, expected, "{operation}");
    }
}

#[test]
fn every_operation_has_a_summary_and_says_how_it_authenticates() {
    let document = document();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let name = format!("{method} {path}");
            let summary = operation["summary"].as_str().unwrap_or_default();
            assert!(
                !summary.is_empty() && summary.len() <= 40,
                "{name}: {summary:?}"
            );
            let public = [
                "/api/users/login",
                "/api/users/login/mfa",
                "/api/users/token/refresh",
                "/api/users/password/forgot",
                "/api/users/password/reset",
                "/api/users/signup",
                "/api/users/signup/verify",
                "/.well-known/openid-configuration",
                "/.well-known/jwks.json",
            ]
            .contains(&path.as_str());
            let expected = if public {
                json!([])
            } else {
                json!([{ "bearer": [] }])
            };
            assert_eq!(operation["security"], expected, "{name}");
        }
    }
    assert_eq!(document["servers"][0]["url"], "/");
    assert_eq!(
        document["info"]["license"]["identifier"],
        env!("CARGO_PKG_LICENSE")
    );
}

/// The values of the enum schema `name`.
fn enum_values(document: &Value, name: &str) -> Vec<String> {
    document["components"]["schemas"][name]["enum"]
        .as_array()
        .unwrap_or_else(|| panic!("{name} is not an enum"))
        .iter()
        .map(|value| value.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn closed_sets_are_enums_of_exactly_what_the_server_accepts_and_writes() {
    use crate::audit::{LoginFailure, ACTIONS};
    use crate::sessions::LogoutScope;
    use crate::users::search::{Sort, UserSearch};

    let document = document();
    assert_eq!(enum_values(&document, "AuditAction"), ACTIONS);
    assert_eq!(enum_values(&document, "UserSort"), Sort::VALUES);
    for sort in Sort::VALUES {
        assert!(UserSearch::parse(&[("sort", sort)]).is_ok(), "{sort}");
    }
    let scopes = enum_values(&document, "LogoutScope");
    assert_eq!(scopes.len(), 3);
    let parsed: Vec<LogoutScope> = scopes
        .iter()
        .map(|scope| LogoutScope::parse(Some(scope)).unwrap())
        .collect();
    assert!(parsed.contains(&LogoutScope::Local) && parsed.contains(&LogoutScope::Others));
    let reasons = [
        LoginFailure::Credentials,
        LoginFailure::Throttled,
        LoginFailure::Disabled,
        LoginFailure::Mfa,
    ];
    assert_eq!(
        enum_values(&document, "LoginFailureReason"),
        reasons.map(LoginFailure::as_str)
    );
    // The fields `user.updated` lists are those a patch can change.
    let mut fields = enum_values(&document, "UserField");
    fields.sort_unstable();
    let patchable = document["components"]["schemas"]["UserPatch"]["properties"]
        .as_object()
        .unwrap();
    assert_eq!(fields, patchable.keys().cloned().collect::<Vec<_>>());
    // Where the server reads these, the document points to them.
    let parameter = |path: &str, method: &str, name: &str| -> Value {
        document["paths"][path][method]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|parameter| parameter["name"] == name)
            .unwrap()["schema"]["$ref"]
            .clone()
    };
    let reference = |name: &str| json!(format!("#/components/schemas/{name}"));
    assert_eq!(
        parameter("/api/audit", "get", "action"),
        reference("AuditAction")
    );
    assert_eq!(
        parameter("/api/users", "get", "sort"),
        reference("UserSort")
    );
    assert_eq!(
        parameter("/api/users/logout", "post", "scope"),
        reference("LogoutScope")
    );
    let event = &document["components"]["schemas"]["AuditEvent"]["properties"];
    assert_eq!(event["action"]["$ref"], reference("AuditAction"));
    assert_eq!(event["detail"]["$ref"], reference("AuditDetail"));
}

#[test]
fn every_audit_detail_the_server_writes_fits_the_detail_schema() {
    use crate::audit::{Event, LoginFailure};

    let document = document();
    let schemas = &document["components"]["schemas"];
    let detail = &schemas["AuditDetail"];
    assert_eq!(detail["additionalProperties"], false);
    assert!(detail.get("required").is_none());
    let events = [
        Event::LoginSucceeded {
            session_id: "AAAAAAAAAAAAAAAAAAAAAA",
        },
        Event::LoginFailed {
            cellnumber: Some("+15550000001"),
            reason: LoginFailure::Disabled,
        },
        Event::Logout { scope: "others" },
        Event::SessionRevoked {
            session_id: "AAAAAAAAAAAAAAAAAAAAAA",
        },
        Event::SessionsRevoked,
        Event::RefreshReused {
            session_id: "AAAAAAAAAAAAAAAAAAAAAA",
        },
        Event::PasswordChanged,
        Event::UserCreated { role_id: 2 },
        Event::UserUpdated {
            fields: vec!["name", "isActive"],
        },
        Event::UserDeleted {
            cellnumber: "+15550000002",
        },
        Event::LoginFailed {
            cellnumber: None,
            reason: LoginFailure::Credentials,
        },
        Event::AdminBootstrapped { outcome: "reset" },
    ];
    let enum_of = |reference: &Value| -> Vec<Value> {
        let name = reference.as_str().unwrap().rsplit('/').next().unwrap();
        schemas[name]["enum"].as_array().unwrap().clone()
    };
    for event in events {
        for (key, value) in event.detail().as_object().unwrap() {
            let property = &detail["properties"][key];
            let nullable = property["type"]
                .as_array()
                .is_some_and(|types| types.contains(&json!("null")));
            let kind = match &property["type"] {
                Value::Array(types) => types.iter().find(|t| *t != "null").and_then(Value::as_str),
                other => other.as_str(),
            };
            let fits = match (kind, &property["$ref"]) {
                _ if value.is_null() => nullable,
                (_, Value::String(_)) => enum_of(&property["$ref"]).contains(value),
                (Some("string"), _) => value.is_string(),
                (Some("integer"), _) => value.is_u64(),
                (Some("array"), _) => value
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|field| enum_of(&property["items"]["$ref"]).contains(field)),
                _ => false,
            };
            assert!(
                fits,
                "{}: {key} = {value} against {property}",
                event.action()
            );
        }
    }
}

fn allows_null(schema: &serde_json::Value) -> bool {
    let null_type = |s: &serde_json::Value| {
        s["type"] == "null"
            || s["type"]
                .as_array()
                .is_some_and(|types| types.contains(&"null".into()))
            || s["nullable"] == true
    };
    null_type(schema)
        || ["oneOf", "anyOf"].iter().any(|key| {
            schema[*key]
                .as_array()
                .is_some_and(|options| options.iter().any(null_type))
        })
}

#[test]
fn the_document_allows_null_for_email_and_profilepic_only() {
    let document = document();
    let mut bodies = 0;
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                assert!(
                    !allows_null(&parameter["schema"]),
                    "{method} {path} {parameter}"
                );
            }
            let reference =
                &operation["requestBody"]["content"]["application/json"]["schema"]["$ref"];
            let Some(name) = reference.as_str().and_then(|r| r.rsplit('/').next()) else {
                continue;
            };
            bodies += 1;
            let schema = &document["components"]["schemas"][name];
            for (field, property) in schema["properties"].as_object().unwrap() {
                assert_eq!(
                    allows_null(property),
                    ["email", "profilepic"].contains(&field.as_str()),
                    "{method} {path}: {name}.{field} {property}"
                );
            }
        }
    }
    assert!(bodies >= 6, "{bodies} request bodies");
}
