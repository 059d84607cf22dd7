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
