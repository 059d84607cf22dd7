//! Where a text goes, behind one small trait: Amazon SNS in AWS, a local outbox file otherwise.
//! A text that cannot be sent is the caller's to log and count; the answer to the client does
//! not change.

use std::future::Future;
use std::io::Write;
use std::path::PathBuf;
use std::pin::Pin;

use chrono::{SecondsFormat, Utc};

/// One text message to one E.164 number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    pub to: String,
    pub body: String,
}

/// Why a text did not go out; never holds the text's body (it may hold a code).
#[derive(Debug, thiserror::Error)]
#[error("the text was not sent: {0}")]
pub struct DeliveryError(pub String);

pub type Sending<'a> = Pin<Box<dyn Future<Output = Result<(), DeliveryError>> + Send + 'a>>;

/// Sends texts. Implementations are created once per cold start and shared by every request.
pub trait TextSender: Send + Sync {
    fn send<'a>(&'a self, text: &'a Text) -> Sending<'a>;
}

/// Appends one JSON line `{"to", "body", "at"}` per text to a file: the local server's sender,
/// read by the tests and by a developer trying the recovery flow.
pub struct Outbox {
    path: PathBuf,
    /// Lines from parallel requests of one instance must not interleave.
    lock: std::sync::Mutex<()>,
}

impl Outbox {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            lock: std::sync::Mutex::new(()),
        }
    }

    fn append(&self, text: &Text) -> Result<(), DeliveryError> {
        let line = serde_json::json!({
            "to": text.to,
            "body": text.body,
            "at": Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
        })
        .to_string();
        let _guard = self
            .lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(folder) = self
            .path
            .parent()
            .filter(|folder| !folder.as_os_str().is_empty())
        {
            std::fs::create_dir_all(folder).map_err(|error| DeliveryError(error.to_string()))?;
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|error| DeliveryError(error.to_string()))?;
        // One write of the whole line, so that separate processes appending to the same file
        // (the local server runs several instances) do not interleave either.
        file.write_all(format!("{line}\n").as_bytes())
            .map_err(|error| DeliveryError(error.to_string()))
    }
}

impl TextSender for Outbox {
    fn send<'a>(&'a self, text: &'a Text) -> Sending<'a> {
        Box::pin(async move { self.append(text) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_outbox_appends_one_json_line_per_text() {
        let folder = std::env::temp_dir().join(format!("outbox-{}", std::process::id()));
        let path = folder.join("texts.jsonl");
        let outbox = Outbox::new(&path);
        for body in ["first 123456", "second 654321"] {
            let text = Text {
                to: "+15550000001".into(),
                body: body.into(),
            };
            outbox.send(&text).await.unwrap();
        }
        let lines: Vec<serde_json::Value> = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1]["to"], "+15550000001");
        assert_eq!(lines[1]["body"], "second 654321");
        assert!(lines[1]["at"].as_str().unwrap().ends_with('Z'));
        std::fs::remove_dir_all(folder).unwrap();
    }
}
