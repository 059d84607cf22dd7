//! Where a text goes, behind one small trait: Amazon SNS in AWS, a local outbox file otherwise.
//! Every sender is wrapped in [`Logged`], which logs and counts each text (`sms_outcome`); the
//! caller only decides what the client is told, and a text that did not go out changes nothing
//! of that.

use std::future::Future;
use std::io::Write;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Instant;

use chrono::{SecondsFormat, Utc};

use crate::aws::sns::SnsError;

/// The outbox of the local server when `SMS_OUTBOX` is not set.
pub const DEFAULT_OUTBOX: &str = "target/sms-outbox.jsonl";

/// Where texts go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmsSender {
    /// Amazon SNS, as transactional texts (`SMS_SENDER=sns`).
    Sns,
    /// One JSON line per text appended to a file (`SMS_SENDER=outbox`, the default).
    Outbox(PathBuf),
}

/// One text message to one E.164 number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    pub to: String,
    pub body: String,
}

/// Why a text did not go out; never holds the text's body (it may hold a code).
#[derive(Debug, thiserror::Error)]
#[error("the text was not sent ({}): {detail}", .kind.as_str())]
pub struct DeliveryError {
    pub kind: DeliveryFailure,
    pub detail: String,
}

impl DeliveryError {
    pub fn new(kind: DeliveryFailure, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
        }
    }
}

/// What kind of failure it was: the `sms_error` field of the log line, what an operator looks
/// at first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryFailure {
    /// The provider could not be reached (connection refused or reset, TLS, DNS).
    Unreachable,
    /// The provider did not answer in time.
    Timeout,
    /// The provider throttled the request (the account's SMS rate).
    Throttled,
    /// The provider refused the text: permissions, the number, the account's settings.
    Refused,
    /// The provider's answer could not be read, or the request could not be built.
    Provider,
    /// The outbox file could not be written.
    Outbox,
    /// This function was not started to send texts (see [`NoSender`]).
    NoSender,
}

impl DeliveryFailure {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unreachable => "unreachable",
            Self::Timeout => "timeout",
            Self::Throttled => "throttled",
            Self::Refused => "refused",
            Self::Provider => "provider",
            Self::Outbox => "outbox",
            Self::NoSender => "no_sender",
        }
    }
}

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
        let failed =
            |error: std::io::Error| DeliveryError::new(DeliveryFailure::Outbox, error.to_string());
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
            std::fs::create_dir_all(folder).map_err(failed)?;
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(failed)?;
        // One write of the whole line, so that separate processes appending to the same file
        // (the local server runs several instances) do not interleave either.
        file.write_all(format!("{line}\n").as_bytes())
            .map_err(failed)
    }
}

impl TextSender for Outbox {
    fn send<'a>(&'a self, text: &'a Text) -> Sending<'a> {
        Box::pin(async move { self.append(text) })
    }
}

/// Amazon SNS, one transactional SMS per text. The client is made on the first text and kept
/// for the instance's life. Only the functions that send texts name this type (through
/// `crate::texts::sender`), so the SNS client is linked into them alone.
#[derive(Default)]
pub struct Sns {
    client: tokio::sync::OnceCell<aws_sdk_sns::Client>,
}

impl Sns {
    pub fn new() -> Self {
        Self::default()
    }
}

impl TextSender for Sns {
    fn send<'a>(&'a self, text: &'a Text) -> Sending<'a> {
        Box::pin(async move {
            let client = self
                .client
                .get_or_try_init(crate::aws::sns::client)
                .await
                .map_err(delivery_error)?;
            crate::aws::sns::publish_sms(client, &text.to, &text.body)
                .await
                .map(drop)
                .map_err(delivery_error)
        })
    }
}

fn delivery_error(error: SnsError) -> DeliveryError {
    let kind = match &error {
        SnsError::Timeout => DeliveryFailure::Timeout,
        SnsError::Unreachable(_) | SnsError::Tls(_) => DeliveryFailure::Unreachable,
        SnsError::Throttled { .. } => DeliveryFailure::Throttled,
        SnsError::Refused { .. } => DeliveryFailure::Refused,
        SnsError::Response { .. } | SnsError::Request => DeliveryFailure::Provider,
    };
    DeliveryError::new(kind, error.to_string())
}

/// The sender of a function that does not send texts, when texts go to SNS: it refuses every
/// text. A function that sends is started with `crate::http::run_sending_texts`; one that was
/// not shows up as failed sends (`sms_error = "no_sender"`, logged here), not as silence.
pub struct NoSender;

impl TextSender for NoSender {
    fn send<'a>(&'a self, text: &'a Text) -> Sending<'a> {
        Box::pin(async move {
            // Its own line, counted with the other failures: wrapped in Logged, it would link
            // Logged into every function, 4 KB of zip each.
            tracing::error!(
                sms_outcome = "failed",
                sms_sender = "none",
                sms_country = calling_code(&text.to),
                sms_error = DeliveryFailure::NoSender.as_str(),
                "text not sent"
            );
            Err(DeliveryError::new(
                DeliveryFailure::NoSender,
                "this function was not started with the SMS sender (http::run_sending_texts)",
            ))
        })
    }
}

/// Any sender, with one log line per text, the one place texts are counted: CloudWatch metric
/// filters on `sms_outcome` ("sent" or "failed") count them, and the alarms watch the counts.
/// The line names the sender (`sms_sender`), the number's country calling code only
/// (`sms_country`), and on failure the kind (`sms_error`) and the error (never the body).
pub struct Logged {
    sender_name: &'static str,
    /// Boxed, not generic: one copy of the logging code for every sender.
    inner: Box<dyn TextSender>,
}

impl Logged {
    pub fn new(sender_name: &'static str, inner: impl TextSender + 'static) -> Self {
        Self {
            sender_name,
            inner: Box::new(inner),
        }
    }
}

impl TextSender for Logged {
    fn send<'a>(&'a self, text: &'a Text) -> Sending<'a> {
        Box::pin(async move {
            let started = Instant::now();
            let outcome = self.inner.send(text).await;
            let elapsed_ms = started.elapsed().as_millis() as u64;
            let country = calling_code(&text.to);
            match &outcome {
                Ok(()) => tracing::info!(
                    sms_outcome = "sent",
                    sms_sender = self.sender_name,
                    sms_country = country,
                    elapsed_ms,
                    "text sent"
                ),
                Err(error) => tracing::error!(
                    sms_outcome = "failed",
                    sms_sender = self.sender_name,
                    sms_country = country,
                    sms_error = error.kind.as_str(),
                    error = %error.detail,
                    elapsed_ms,
                    "text not sent"
                ),
            }
            outcome
        })
    }
}

/// The ITU country calling code an E.164 number starts with (`+44` of `+447700900123`), or
/// `unknown`: enough to see which countries texts go to (SMS pumping targets a few), too little
/// to tell whose number it was. Codes are prefix-free: 1 and 7 are one digit, the ones below
/// two, every other three.
fn calling_code(number: &str) -> &str {
    const TWO_DIGIT: [u8; 44] = [
        20, 27, 30, 31, 32, 33, 34, 36, 39, 40, 41, 43, 44, 45, 46, 47, 48, 49, 51, 52, 53, 54, 55,
        56, 57, 58, 60, 61, 62, 63, 64, 65, 66, 81, 82, 84, 86, 90, 91, 92, 93, 94, 95, 98,
    ];
    let bytes = number.as_bytes();
    if bytes.len() < 5 || bytes[0] != b'+' || !bytes[1..].iter().all(u8::is_ascii_digit) {
        return "unknown";
    }
    let length = match bytes[1] {
        b'1' | b'7' => 1,
        first if TWO_DIGIT.contains(&((first - b'0') * 10 + (bytes[2] - b'0'))) => 2,
        _ => 3,
    };
    number.get(..=length).unwrap_or("unknown")
}

/// The sender of a function that sends texts, as the configuration names it, logged and counted
/// ([`Logged`]); created once per cold start by `http::run_sending_texts`. It names the SNS
/// client: every other function's `App` gets [`sender_without_sns`], so the client (0.2 MB
/// of a stripped release binary) is linked into the functions that send texts alone.
pub fn sender(to: &SmsSender) -> Box<dyn TextSender> {
    match to {
        SmsSender::Sns => Box::new(Logged::new("sns", Sns::new())),
        SmsSender::Outbox(path) => Box::new(Logged::new("outbox", Outbox::new(path))),
    }
}

/// The sender every `App` starts with, for the functions that send no texts: the outbox when
/// texts go there (local runs), and with `SMS_SENDER=sns` [`NoSender`], which fails and logs
/// every text. Not wrapped in [`Logged`], which these functions would otherwise all link.
pub fn sender_without_sns(to: &SmsSender) -> Box<dyn TextSender> {
    match to {
        SmsSender::Outbox(path) => Box::new(Outbox::new(path)),
        SmsSender::Sns => Box::new(NoSender),
    }
}

#[cfg(test)]
mod tests;
