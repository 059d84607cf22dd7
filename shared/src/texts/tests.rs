use super::*;

use std::sync::{Arc, Mutex};

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

#[tokio::test]
async fn an_outbox_that_cannot_be_written_is_an_outbox_failure() {
    // A folder where the file should be: the append fails.
    let folder = std::env::temp_dir().join(format!("outbox-dir-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    let error = Outbox::new(&folder).send(&text()).await.unwrap_err();
    assert_eq!(error.kind, DeliveryFailure::Outbox);
    std::fs::remove_dir_all(folder).unwrap();
}

/// A sender whose outcome the test chooses.
struct Scripted(Option<DeliveryFailure>);

impl TextSender for Scripted {
    fn send<'a>(&'a self, _text: &'a Text) -> Sending<'a> {
        Box::pin(async move {
            match self.0 {
                None => Ok(()),
                Some(kind) => Err(DeliveryError::new(kind, "connection reset")),
            }
        })
    }
}

fn text() -> Text {
    Text {
        to: "+447700900123".into(),
        body: "Your code is 493817".into(),
    }
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What `sending` answers, and the JSON log lines it wrote (as Lambda's JSON log format would
/// carry them), raw and parsed.
async fn logged<T>(
    sending: impl std::future::Future<Output = T>,
) -> (T, Vec<serde_json::Value>, String) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .json()
        .flatten_event(true)
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);
    let outcome = sending.await;
    let raw = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines = raw
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    (outcome, lines, raw)
}

/// Sends one text through `sender` wrapped in [`Logged`].
async fn logged_send(
    sender: impl TextSender + 'static,
    name: &'static str,
) -> (Result<(), DeliveryError>, Vec<serde_json::Value>, String) {
    let logged_sender = Logged::new(name, sender);
    logged(logged_sender.send(&text())).await
}

#[tokio::test]
async fn a_sent_text_is_logged_once_with_its_outcome_sender_and_country() {
    let (outcome, lines, raw) = logged_send(Scripted(None), "sns").await;
    assert!(outcome.is_ok());
    assert_eq!(lines.len(), 1, "{raw}");
    let line = &lines[0];
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["sms_outcome"], "sent");
    assert_eq!(line["sms_sender"], "sns");
    assert_eq!(line["sms_country"], "+44");
    assert!(line["elapsed_ms"].is_u64());
    assert!(line.get("sms_error").is_none());
    assert!(
        !raw.contains("493817") && !raw.contains("7700900123"),
        "{raw}"
    );
}

#[tokio::test]
async fn a_failed_text_is_logged_with_the_kind_and_without_body_or_number() {
    let (outcome, lines, raw) =
        logged_send(Scripted(Some(DeliveryFailure::Unreachable)), "sns").await;
    assert_eq!(outcome.unwrap_err().kind, DeliveryFailure::Unreachable);
    assert_eq!(lines.len(), 1, "{raw}");
    let line = &lines[0];
    assert_eq!(line["level"], "ERROR");
    assert_eq!(line["sms_outcome"], "failed");
    assert_eq!(line["sms_error"], "unreachable");
    assert_eq!(line["sms_country"], "+44");
    assert_eq!(line["error"], "connection reset");
    assert!(
        !raw.contains("493817") && !raw.contains("7700900123"),
        "{raw}"
    );
}

#[tokio::test]
async fn a_function_without_the_sms_sender_fails_every_text_loudly() {
    let text = text();
    let (outcome, lines, raw) = logged(NoSender.send(&text)).await;
    assert_eq!(outcome.unwrap_err().kind, DeliveryFailure::NoSender);
    assert_eq!(lines.len(), 1, "{raw}");
    assert_eq!(lines[0]["sms_outcome"], "failed");
    assert_eq!(lines[0]["sms_error"], "no_sender");
    assert_eq!(lines[0]["sms_sender"], "none");
    assert_eq!(lines[0]["sms_country"], "+44");
    assert!(
        !raw.contains("493817") && !raw.contains("7700900123"),
        "{raw}"
    );
}

#[test]
fn sns_errors_map_to_kinds_and_keep_no_message() {
    let refused = delivery_error(SnsError::Refused {
        code: "InvalidParameter".into(),
        request_id: "r-1".into(),
    });
    assert_eq!(refused.kind, DeliveryFailure::Refused);
    assert!(refused.detail.contains("InvalidParameter") && refused.detail.contains("r-1"));
    assert_eq!(
        delivery_error(SnsError::Timeout).kind,
        DeliveryFailure::Timeout
    );
    assert_eq!(
        delivery_error(SnsError::Throttled {
            code: "Throttling".into(),
            request_id: "r-2".into()
        })
        .kind,
        DeliveryFailure::Throttled
    );
    assert_eq!(
        delivery_error(SnsError::Unreachable("refused".into())).kind,
        DeliveryFailure::Unreachable
    );
}

#[test]
fn only_the_country_calling_code_of_a_number_is_kept() {
    for (number, code) in [
        ("+15550000001", "+1"),
        ("+79161234567", "+7"),
        ("+447700900123", "+44"),
        ("+4915112345678", "+49"),
        ("+8613812345678", "+86"),
        ("+35312345678", "+353"),
        ("+8816123456", "+881"),
        ("+2348012345678", "+234"),
        ("+97150123456", "+971"),
        ("15550000001", "unknown"),
        ("+44", "unknown"),
        ("+44 7700 900123", "unknown"),
        ("", "unknown"),
    ] {
        assert_eq!(calling_code(number), code, "{number}");
    }
}
