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
mod tests;
