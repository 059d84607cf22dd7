//! The contract's validation rules, in one place, and the bodies they apply to.
//!
//! The `validator` crate does the bookkeeping (which field failed, collecting every failure of a
//! body at once) and the hard parts (RFC-compliant e-mail and URL checks); the rules specific
//! to this API are the small functions below.

use serde::{Deserialize, Deserializer};
use validator::{Validate, ValidateEmail, ValidateUrl, ValidationError, ValidationErrors};

use crate::auth::password::{MAX_PASSWORD_BYTES, MIN_PASSWORD_BYTES};
use crate::auth::policy::Role;
use crate::error::{ApiError, FieldError};

pub const MAX_NAME_CHARS: usize = 100;
pub const MAX_EMAIL_CHARS: usize = 254;
pub const MAX_PROFILEPIC_CHARS: usize = 2048;

/// 7 to 15 digits with one optional leading `+`.
pub fn is_cellnumber(value: &str) -> bool {
    let digits = value.strip_prefix('+').unwrap_or(value);
    (7..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}

fn failure(code: &'static str, message: &'static str) -> ValidationError {
    ValidationError::new(code).with_message(message.into())
}

pub fn cellnumber_rule(value: &str) -> Result<(), ValidationError> {
    if is_cellnumber(value) {
        Ok(())
    } else {
        Err(failure(
            "cellnumber",
            "must be 7 to 15 digits with an optional leading +",
        ))
    }
}

pub fn password_rule(value: &str) -> Result<(), ValidationError> {
    if !(MIN_PASSWORD_BYTES..=MAX_PASSWORD_BYTES).contains(&value.len()) {
        Err(failure("password", "must be 8 to 72 bytes long"))
    } else if value.chars().any(|c| c.is_ascii_control()) {
        // Many bcrypt implementations stop at NUL ("a\0b..." would hash like "a"), and no
        // keyboard types the other control characters.
        Err(failure(
            "password",
            "must not contain control characters (U+0000 to U+001F, U+007F)",
        ))
    } else {
        Ok(())
    }
}

pub fn name_rule(value: &str) -> Result<(), ValidationError> {
    let chars = value.trim().chars().count();
    if !(1..=MAX_NAME_CHARS).contains(&chars) {
        Err(failure(
            "name",
            "must be 1 to 100 characters after trimming",
        ))
    } else if value.chars().any(is_control_or_format) {
        Err(failure("name", NAME_CHARACTERS))
    } else {
        Ok(())
    }
}

const NAME_CHARACTERS: &str = "must not contain control or format characters \
     (Unicode Cc and Cf: line breaks, tabs, bidi overrides, zero-width characters)";

/// Unicode general category Cc (controls) or Cf (format: bidi overrides and isolates, zero-width
/// spaces and joiners, soft hyphens, ...): characters that make a name show as something other
/// than what it is, or break the lines and tables it is shown in. The table is ICU4X's, already
/// linked for IDNA; std knows only Cc (`char::is_control`).
pub fn is_control_or_format(c: char) -> bool {
    use icu_properties::props::GeneralCategory;
    matches!(
        icu_properties::CodePointMapData::<GeneralCategory>::new().get(c),
        GeneralCategory::Control | GeneralCategory::Format
    )
}

pub fn email_rule(value: &str) -> Result<(), ValidationError> {
    if value.chars().count() <= MAX_EMAIL_CHARS && value.validate_email() {
        Ok(())
    } else {
        Err(failure(
            "email",
            "must be a valid e-mail address of at most 254 characters",
        ))
    }
}

pub fn profilepic_rule(value: &str) -> Result<(), ValidationError> {
    let lower = value.get(..8).unwrap_or(value).to_ascii_lowercase();
    let http = lower.starts_with("http://") || lower.starts_with("https://");
    if http && value.chars().count() <= MAX_PROFILEPIC_CHARS && value.validate_url() {
        Ok(())
    } else {
        Err(failure(
            "profilepic",
            "must be an http(s) URL of at most 2048 characters",
        ))
    }
}

/// What makes two e-mail addresses one for uniqueness: the local part in lower case, the domain
/// in lower case and in its IDNA ASCII form, so `a@Bücher.de` and `a@xn--bcher-kva.de` are one
/// address while `a@bucher.de` stays another (accents are not folded).
pub fn email_key(email: &str) -> String {
    let Some((local, domain)) = email.rsplit_once('@') else {
        return email.to_lowercase();
    };
    let domain = idna::domain_to_ascii(domain).unwrap_or_else(|_| domain.to_owned());
    format!("{}@{}", local.to_lowercase(), domain.to_ascii_lowercase())
}

/// The body of `POST /api/users`.
#[derive(Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// 1 to 100 characters once white space is trimmed from both ends (the pattern: one character
    /// that is not Unicode White_Space), with no control or format character (Unicode general
    /// category Cc or Cf: line breaks, bidi overrides, zero-width characters) anywhere.
    #[validate(custom(function = "name_rule"))]
    #[schema(
        min_length = 1,
        max_length = 100,
        example = "Ada Lovelace",
        pattern = r"[^\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub name: String,
    #[validate(custom(function = "cellnumber_rule"))]
    #[schema(pattern = r"^\+?[0-9]{7,15}$", example = "+15550000002")]
    pub cellnumber: String,
    /// 8 to 72 bytes of UTF-8 (bcrypt's limit): the lengths in characters only bound it.
    #[validate(custom(function = "password_rule"))]
    #[schema(min_length = 8, max_length = 72, format = Password, pattern = r"^[^\u0000-\u001F\u007F]*$")]
    pub password: String,
    #[validate(custom(function = "email_rule"))]
    #[serde(default)]
    #[schema(format = Email, max_length = 254)]
    pub email: Option<String>,
    #[validate(custom(function = "profilepic_rule"))]
    #[serde(default)]
    #[schema(
        format = "uri",
        pattern = "^[Hh][Tt][Tt][Pp][Ss]?://",
        max_length = 2048
    )]
    pub profilepic: Option<String>,
    /// 1 (admin) or 2 (normal user, the default), written as an integer: 2, not 2.0.
    #[serde(default, rename = "roleId", deserialize_with = "not_null")]
    #[schema(value_type = u8, required = false, minimum = 1, maximum = 2)]
    pub role_id: Option<Role>,
    /// `false` creates the account disabled; `true` (the default) active.
    #[serde(default, rename = "isActive", deserialize_with = "not_null")]
    #[schema(value_type = bool, required = false)]
    pub is_active: Option<bool>,
}

/// The body of `PATCH /api/users/{id}`: every field optional; `email` and `profilepic` may be
/// set to null, which clears them.
#[derive(Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    /// 1 to 100 characters once white space is trimmed from both ends (the pattern: one character
    /// that is not Unicode White_Space), with no control or format character (Unicode general
    /// category Cc or Cf: line breaks, bidi overrides, zero-width characters) anywhere.
    #[validate(custom(function = "name_rule"))]
    #[serde(default, deserialize_with = "not_null")]
    #[schema(
        value_type = String,
        required = false,
        min_length = 1,
        max_length = 100,
        example = "Ada Lovelace",
        pattern = r"[^\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub name: Option<String>,
    #[validate(custom(function = "cellnumber_rule"))]
    #[serde(default, deserialize_with = "not_null")]
    #[schema(value_type = String, required = false, pattern = r"^\+?[0-9]{7,15}$", example = "+15550000002")]
    pub cellnumber: Option<String>,
    /// 8 to 72 bytes of UTF-8 (bcrypt's limit): the lengths in characters only bound it.
    #[validate(custom(function = "password_rule"))]
    #[serde(default, deserialize_with = "not_null")]
    #[schema(value_type = String, required = false, min_length = 8, max_length = 72, format = Password, pattern = r"^[^\u0000-\u001F\u007F]*$")]
    pub password: Option<String>,
    #[validate(custom(function = "email_rule"))]
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable, format = Email, max_length = 254)]
    pub email: Option<Option<String>>,
    #[validate(custom(function = "profilepic_rule"))]
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable, format = "uri", pattern = "^[Hh][Tt][Tt][Pp][Ss]?://", max_length = 2048)]
    pub profilepic: Option<Option<String>>,
    /// 1 (admin) or 2 (normal user), written as an integer: 2, not 2.0.
    #[serde(default, rename = "roleId", deserialize_with = "not_null")]
    #[schema(value_type = u8, required = false, minimum = 1, maximum = 2)]
    pub role_id: Option<Role>,
    /// `false` disables the account and ends all of its sessions; `true` enables it again.
    #[serde(default, rename = "isActive", deserialize_with = "not_null")]
    #[schema(value_type = bool, required = false)]
    pub is_active: Option<bool>,
}

impl UserPatch {
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.cellnumber.is_none()
            && self.password.is_none()
            && self.email.is_none()
            && self.profilepic.is_none()
            && self.role_id.is_none()
            && self.is_active.is_none()
    }
}

/// The body of `PATCH /api/users/me`: what a user may change of its own record, with the rules
/// of the admin's patch.
#[derive(Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    /// 1 to 100 characters once white space is trimmed from both ends (the pattern: one character
    /// that is not Unicode White_Space), with no control or format character (Unicode general
    /// category Cc or Cf: line breaks, bidi overrides, zero-width characters) anywhere.
    #[validate(custom(function = "name_rule"))]
    #[serde(default, deserialize_with = "not_null")]
    #[schema(
        value_type = String,
        required = false,
        min_length = 1,
        max_length = 100,
        example = "Ada Lovelace",
        pattern = r"[^\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub name: Option<String>,
    #[validate(custom(function = "email_rule"))]
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable, format = Email, max_length = 254)]
    pub email: Option<Option<String>>,
    #[validate(custom(function = "profilepic_rule"))]
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable, format = "uri", pattern = "^[Hh][Tt][Tt][Pp][Ss]?://", max_length = 2048)]
    pub profilepic: Option<Option<String>>,
}

impl From<ProfilePatch> for UserPatch {
    fn from(profile: ProfilePatch) -> Self {
        Self {
            name: profile.name,
            cellnumber: None,
            password: None,
            email: profile.email,
            profilepic: profile.profilepic,
            role_id: None,
            is_active: None,
        }
    }
}

/// The body of `POST /api/users/me/password`.
#[derive(Deserialize, Validate, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PasswordChange {
    /// Checked against the stored hash, not against the rules: an old password may predate them.
    pub current_password: String,
    /// 8 to 72 bytes of UTF-8 (bcrypt's limit): the lengths in characters only bound it.
    #[validate(custom(function = "password_rule"))]
    #[schema(min_length = 8, max_length = 72, format = Password, pattern = r"^[^\u0000-\u001F\u007F]*$")]
    pub new_password: String,
}

/// A field that may be absent (`#[serde(default)]` makes it `None`) but is never `null`: the
/// contract gives null a meaning for `email` and `profilepic` only, and a null taken as "absent"
/// would make a client's mistake a silent no-op.
fn not_null<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    match Option::<T>::deserialize(deserializer)? {
        Some(value) => Ok(Some(value)),
        None => Err(serde::de::Error::custom(MUST_NOT_BE_NULL)),
    }
}

pub const MUST_NOT_BE_NULL: &str = "must not be null (leave the field out instead)";

/// Tells a field that is present (even as `null`) from one that is absent.
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// Runs the rules of `body`, turning every failure into a `{loc, msg}` of a 422.
pub fn check(body: &impl Validate) -> Result<(), ApiError> {
    body.validate()
        .map_err(|errors| ApiError::Validation(field_errors(&errors)))
}

fn field_errors(errors: &ValidationErrors) -> Vec<FieldError> {
    let mut out: Vec<FieldError> = errors
        .field_errors()
        .into_iter()
        .flat_map(|(field, failures)| {
            let field = json_name(&field).to_owned();
            failures.iter().map(move |failure| {
                let msg = failure
                    .message
                    .as_deref()
                    .unwrap_or("is invalid")
                    .to_owned();
                FieldError::new(&["body", &field], msg)
            })
        })
        .collect();
    out.sort_by(|a, b| a.loc.cmp(&b.loc));
    out
}

/// The JSON name of a Rust field, where they differ.
fn json_name(field: &str) -> &str {
    match field {
        "role_id" => "roleId",
        "current_password" => "currentPassword",
        "new_password" => "newPassword",
        "is_active" => "isActive",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cellnumbers() {
        for good in ["1234567", "+1234567", "123456789012345", "+123456789012345"] {
            assert!(is_cellnumber(good), "{good}");
        }
        for bad in [
            "123456",
            "1234567890123456",
            "++1234567",
            "12345a7",
            "",
            "+",
            " 1234567",
            "123-4567",
            "١٢٣٤٥٦٧",
        ] {
            assert!(!is_cellnumber(bad), "{bad}");
        }
    }

    #[test]
    fn passwords_are_counted_in_bytes() {
        assert!(password_rule("12345678").is_ok());
        assert!(password_rule(&"a".repeat(72)).is_ok());
        assert!(password_rule("1234567").is_err());
        assert!(password_rule(&"a".repeat(73)).is_err());
        // 24 three-byte characters are 72 bytes; 25 are too many.
        assert!(password_rule(&"€".repeat(24)).is_ok());
        assert!(password_rule(&"€".repeat(25)).is_err());
    }

    #[test]
    fn passwords_with_control_characters_are_refused() {
        for bad in [
            "a\0a\0a\0a\0a",
            "password\u{1}",
            "pass\tword",
            "pass\u{7f}word",
            "\nnewline!",
        ] {
            assert!(password_rule(bad).is_err(), "{bad:?}");
        }
        assert!(password_rule("pass word é € 😀").is_ok());
        // The schema's pattern says the same.
        let schema = serde_json::to_value(<NewUser as utoipa::PartialSchema>::schema()).unwrap();
        let pattern = schema["properties"]["password"]["pattern"]
            .as_str()
            .unwrap();
        let allowed = regex::Regex::new(pattern).unwrap();
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            assert_eq!(
                allowed.is_match(c.encode_utf8(&mut [0; 4])),
                !c.is_ascii_control(),
                "U+{:04X}",
                c as u32
            );
        }
    }

    #[test]
    fn email_keys_fold_case_and_idna_but_not_accents() {
        assert_eq!(email_key("Ada@Example.ORG"), "ada@example.org");
        assert_eq!(email_key("a@bücher.de"), email_key("a@xn--bcher-kva.de"));
        assert_eq!(email_key("a@BÜCHER.de"), "a@xn--bcher-kva.de");
        assert_ne!(email_key("a@bücher.de"), email_key("a@bucher.de"));
        assert_ne!(email_key("ä@example.org"), email_key("a@example.org"));
        assert!(email_rule("a@bücher.de").is_ok());
        assert!(email_rule("a@xn--bcher-kva.de").is_ok());
    }

    #[test]
    fn the_name_pattern_leaves_out_exactly_what_trim_removes() {
        for schema in [
            serde_json::to_value(<NewUser as utoipa::PartialSchema>::schema()).unwrap(),
            serde_json::to_value(<UserPatch as utoipa::PartialSchema>::schema()).unwrap(),
        ] {
            let pattern = schema["properties"]["name"]["pattern"].as_str().unwrap();
            let one_char = regex::Regex::new(pattern).unwrap();
            for c in (0..=0x10FFFF).filter_map(char::from_u32) {
                assert_eq!(
                    one_char.is_match(c.encode_utf8(&mut [0; 4])),
                    !c.is_whitespace(),
                    "{pattern} on U+{:04X}",
                    c as u32
                );
            }
        }
    }

    #[test]
    fn names_are_trimmed_before_counting() {
        assert!(name_rule(" a ").is_ok());
        assert!(name_rule(&"é".repeat(100)).is_ok());
        assert!(name_rule("   ").is_err());
        assert!(name_rule("").is_err());
        assert!(name_rule(&"é".repeat(101)).is_err());
    }

    #[test]
    fn names_with_control_or_format_characters_are_refused() {
        for bad in [
            "Ada\u{202E}ecalevol",  // RIGHT-TO-LEFT OVERRIDE
            "Ada\u{2066}x\u{2069}", // LEFT-TO-RIGHT ISOLATE, POP DIRECTIONAL ISOLATE
            "Ad\u{200B}a",          // ZERO WIDTH SPACE
            "Ad\u{200D}a",          // ZERO WIDTH JOINER
            "\u{FEFF}Ada",          // ZERO WIDTH NO-BREAK SPACE (BOM)
            "Ada\u{00AD}",          // SOFT HYPHEN
            "Ada\u{061C}",          // ARABIC LETTER MARK
            "Ada\u{E0041}",         // TAG LATIN CAPITAL LETTER A
            "Ada\u{1D173}",         // MUSICAL SYMBOL BEGIN BEAM
            "Ada\nLovelace",        // Cc inside
            "Ada\u{7}",             // BEL
            "Ada\u{85}x",           // NEXT LINE (C1)
            "Ada\t",                // trimmed away, but still sent
        ] {
            let failure = name_rule(bad).expect_err(bad);
            assert_eq!(failure.message.as_deref(), Some(NAME_CHARACTERS), "{bad:?}");
        }
        for good in [
            "Ada Lovelace",
            "  Zoë Ørsted-Ñúñez  ",
            "李小龍",
            "محمد",
            "Ada 🚀",
            "O\u{2019}Brien", // RIGHT SINGLE QUOTATION MARK is Pf, not Cf
        ] {
            assert!(name_rule(good).is_ok(), "{good:?}");
        }
        // Cc is exactly what std calls control; Cf a superset of the usual suspects.
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            if c.is_control() {
                assert!(is_control_or_format(c), "U+{:04X}", c as u32);
            }
        }
        let format = (0..=0x10FFFF)
            .filter_map(char::from_u32)
            .filter(|c| is_control_or_format(*c) && !c.is_control())
            .count();
        // Unicode 15.1 to 17 assign 170 characters to Cf.
        assert!((165..=180).contains(&format), "{format}");
    }

    #[test]
    fn null_is_refused_wherever_the_contract_gives_it_no_meaning() {
        let user = r#""name":"a","cellnumber":"1234567","password":"12345678""#;
        for field in ["roleId", "isActive"] {
            let body = format!(r#"{{{user},"{field}":null}}"#);
            let error = serde_json::from_str::<NewUser>(&body)
                .err()
                .unwrap_or_else(|| panic!("{body}"));
            assert!(error.to_string().contains(MUST_NOT_BE_NULL), "{error}");
        }
        for field in ["name", "cellnumber", "password"] {
            let mut body: serde_json::Value = serde_json::from_str(&format!("{{{user}}}")).unwrap();
            body[field] = serde_json::Value::Null;
            assert!(serde_json::from_value::<NewUser>(body).is_err(), "{field}");
        }
        let created: NewUser =
            serde_json::from_str(&format!(r#"{{{user},"email":null,"profilepic":null}}"#)).unwrap();
        assert!(created.email.is_none() && created.profilepic.is_none());
        for field in ["name", "cellnumber", "password", "roleId", "isActive"] {
            let body = format!(r#"{{"{field}":null}}"#);
            let error = serde_json::from_str::<UserPatch>(&body)
                .err()
                .unwrap_or_else(|| panic!("{body}"));
            assert!(error.to_string().contains(MUST_NOT_BE_NULL), "{error}");
        }
        assert!(serde_json::from_str::<ProfilePatch>(r#"{"name":null}"#).is_err());
        let cleared: ProfilePatch =
            serde_json::from_str(r#"{"email":null,"profilepic":null}"#).unwrap();
        assert_eq!(
            (cleared.email, cleared.profilepic),
            (Some(None), Some(None))
        );
        for body in [
            r#"{"currentPassword":null,"newPassword":"12345678"}"#,
            r#"{"currentPassword":"12345678","newPassword":null}"#,
        ] {
            assert!(
                serde_json::from_str::<PasswordChange>(body).is_err(),
                "{body}"
            );
        }
        // Absent is still absent.
        let absent: UserPatch = serde_json::from_str(r#"{"name":"Ada"}"#).unwrap();
        assert!(absent.is_active.is_none() && absent.role_id.is_none());
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
        let document = crate::http::openapi::document();
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

    #[test]
    fn emails_and_profile_pictures() {
        assert!(email_rule("a@example.com").is_ok());
        assert!(email_rule("not-an-email").is_err());
        assert!(email_rule(&format!("{}@example.com", "a".repeat(250))).is_err());
        assert!(profilepic_rule("https://cdn.example.com/a.png").is_ok());
        assert!(profilepic_rule("HTTP://example.com/a.png").is_ok());
        assert!(profilepic_rule("ftp://example.com/a.png").is_err());
        assert!(profilepic_rule("javascript:alert(1)").is_err());
        assert!(profilepic_rule(&format!("https://example.com/{}", "a".repeat(2048))).is_err());
    }

    #[test]
    fn a_body_reports_every_invalid_field_by_its_json_name() {
        let body: NewUser = serde_json::from_str(
            r#"{"name":" ","cellnumber":"12","password":"short","email":"x","profilepic":"ftp://x"}"#,
        )
        .unwrap();
        let Err(ApiError::Validation(errors)) = check(&body) else {
            panic!("expected a validation error")
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.loc[1].as_str()).collect();
        assert_eq!(
            fields,
            ["cellnumber", "email", "name", "password", "profilepic"]
        );
    }

    #[test]
    fn unknown_fields_and_wrong_roles_are_refused() {
        assert!(serde_json::from_str::<NewUser>(
            r#"{"name":"a","cellnumber":"1234567","password":"12345678","id":5}"#
        )
        .is_err());
        assert!(serde_json::from_str::<NewUser>(
            r#"{"name":"a","cellnumber":"1234567","password":"12345678","roleId":3}"#
        )
        .is_err());
        assert!(serde_json::from_str::<UserPatch>(r#"{"password_hash":"x"}"#).is_err());
    }

    #[test]
    fn a_patch_tells_null_from_absent() {
        let patch: UserPatch = serde_json::from_str(r#"{"email":null}"#).unwrap();
        assert_eq!(patch.email, Some(None));
        assert_eq!(patch.profilepic, None);
        assert!(!patch.is_empty());
        assert!(serde_json::from_str::<UserPatch>("{}").unwrap().is_empty());
    }
}
