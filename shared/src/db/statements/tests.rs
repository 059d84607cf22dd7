use super::*;

fn bound(sql: &str, values: Vec<Value>) -> String {
    bind(sql, &Params::Positional(values)).unwrap()
}

#[test]
fn placeholders_outside_quotes_and_comments_take_the_values_in_order() {
    assert_eq!(
        bound(
            "UPDATE t SET a = ? WHERE id = ?",
            vec!["x".into(), 7u64.into()]
        ),
        "UPDATE t SET a = _utf8mb4 X'78' WHERE id = 7"
    );
    assert_eq!(
        bound(
            "SELECT '?', \"?\", `?`, ? -- ?\n, ? # ?\n/* ? */",
            vec![1u64.into(), 2u64.into()]
        ),
        "SELECT '?', \"?\", `?`, 1 -- ?\n, 2 # ?\n/* ? */"
    );
    assert_eq!(bound("SELECT a - ?", vec![(-1i64).into()]), "SELECT a - -1");
    assert_eq!(bound("SELECT a-?", vec![(-1i64).into()]), "SELECT a- -1");
    assert_eq!(
        bound("SELECT a LIKE?", vec!["".into()]),
        "SELECT a LIKE _utf8mb4 X''"
    );
}

#[test]
fn the_counts_must_agree_and_names_are_refused() {
    for (sql, values) in [("SELECT ?", vec![]), ("SELECT 1", vec![Value::from(1u64)])] {
        assert!(bind(sql, &Params::Positional(values)).is_err());
    }
    let named = Params::Named(Default::default());
    assert!(bind("SELECT 1", &named).is_err());
    assert_eq!(bind("SELECT 1", &Params::Empty).unwrap(), "SELECT 1");
}

#[test]
fn strings_are_hex_with_their_character_set_and_bytes_plain_hex() {
    assert_eq!(
        literal(&Value::from("丁' WHERE id=7;#")),
        "_utf8mb4 X'E4B881272057484552452069643D373B23'"
    );
    assert_eq!(literal(&Value::from("a'b\\c")), "_utf8mb4 X'6127625C63'");
    assert_eq!(literal(&Value::from("")), "_utf8mb4 X''");
    assert_eq!(literal(&Value::Bytes(vec![0xff, 0])), "X'FF00'");
    assert_eq!(literal(&Value::NULL), "NULL");
    assert_eq!(literal(&Value::from(-7i64)), "-7");
    assert_eq!(
        literal(&Value::Date(2024, 2, 29, 23, 59, 58, 123_456)),
        "'2024-02-29 23:59:58.123456'"
    );
}

/// Seeded values of every kind: strings of any characters, bytes of any values, numbers,
/// dates and times.
fn values_of_every_kind() -> Vec<Value> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut values = vec![Value::NULL, Value::Float(f32::NAN), Value::Double(-0.5)];
    for _ in 0..5000 {
        let length = (next() % 20) as usize;
        let bytes: Vec<u8> = (0..length).map(|_| next() as u8).collect();
        let text: String = (0..length)
            .filter_map(|_| char::from_u32((next() % 0x11_0000) as u32))
            .collect();
        values.push(Value::Bytes(bytes));
        values.push(Value::from(text));
        values.push(Value::Int(next() as i64));
        values.push(Value::UInt(next()));
        values.push(Value::Double(f64::from_bits(next())));
        values.push(Value::Date(
            (next() % 10_000) as u16,
            (next() % 13) as u8,
            (next() % 32) as u8,
            (next() % 24) as u8,
            (next() % 60) as u8,
            (next() % 60) as u8,
            (next() % 1_000_000) as u32,
        ));
        values.push(Value::Time(
            next() % 2 == 0,
            (next() % 35) as u32,
            (next() % 24) as u8,
            (next() % 60) as u8,
            (next() % 60) as u8,
            (next() % 1_000_000) as u32,
        ));
    }
    values
}

/// What makes a literal mean the same in every session: ASCII only (so no multi-byte
/// character of any character set can begin in it or swallow its end), no backslash, and
/// quotes only around characters that no `sql_mode` reads specially.
#[test]
fn every_literal_is_ascii_without_backslash_and_quotes_only_inert_characters() {
    for value in values_of_every_kind() {
        let text = literal(&value);
        assert!(text.is_ascii(), "{value:?} as {text}");
        assert!(!text.contains('\\'), "{value:?} as {text}");
        assert!(!text.contains('"'), "{value:?} as {text}");
        let mut quoted = text.split('\'').skip(1).step_by(2);
        assert_eq!(text.matches('\'').count() % 2, 0, "{value:?} as {text}");
        assert!(
            quoted.all(|inside| inside
                .chars()
                .all(|c| c.is_ascii_hexdigit() || "-:. ".contains(c))),
            "{value:?} as {text}"
        );
    }
}
