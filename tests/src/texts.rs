//! The texts an app sent to its outbox file (`SMS_OUTBOX`, one JSON line per text), and the codes
//! in them.

use std::path::{Path, PathBuf};

use crate::TestDb;

/// An outbox file of the test database's own, so parallel tests never read each other's texts.
pub fn outbox_for(db: &TestDb) -> PathBuf {
    std::env::temp_dir().join(format!("users-api-outbox-{}.jsonl", db.name))
}

/// The bodies of the texts sent to `cellnumber`, oldest first (none when nothing was sent yet).
pub fn texts_to(outbox: &Path, cellnumber: &str) -> Vec<String> {
    let Ok(lines) = std::fs::read_to_string(outbox) else {
        return Vec::new();
    };
    lines
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).expect("one JSON text a line"))
        .filter(|text| text["to"] == cellnumber)
        .map(|text| text["body"].as_str().expect("a body").to_owned())
        .collect()
}

/// The code of a text: its only run of 6 digits.
pub fn code_in(body: &str) -> String {
    let runs: Vec<&str> = body
        .split(|c: char| !c.is_ascii_digit())
        .filter(|run| run.len() >= 6)
        .collect();
    assert_eq!(runs.len(), 1, "one run of 6 digits in {body:?}");
    assert_eq!(runs[0].len(), 6, "{body:?}");
    runs[0].to_owned()
}

/// The code of the last text sent to `cellnumber`.
pub fn last_code(outbox: &Path, cellnumber: &str) -> String {
    let texts = texts_to(outbox, cellnumber);
    code_in(
        texts
            .last()
            .unwrap_or_else(|| panic!("no text to {cellnumber}")),
    )
}
