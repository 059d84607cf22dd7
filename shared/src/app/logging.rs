//! Log output: one JSON object per line in Lambda, readable text locally.
//!
//! Each JSON line carries `timestamp` (RFC 3339, UTC, microseconds) and `level` (`TRACE`,
//! `DEBUG`, `INFO`, `WARN` or `ERROR`): the fields Lambda's JSON log format reads, so the
//! function's `ApplicationLogLevel` filters these lines and CloudWatch Logs Insights sorts them.

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let in_lambda = std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some()
        && std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some()
        && std::env::var("LOG_FORMAT")
            .map(|f| f != "text")
            .unwrap_or(true);
    let result = if in_lambda || std::env::var("LOG_FORMAT").is_ok_and(|f| f == "json") {
        tracing::subscriber::set_global_default(json_subscriber(filter, std::io::stdout))
            .map_err(|error| error.to_string())
    } else {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_target(false)
            .compact()
            .try_init()
            .map_err(|error| error.to_string())
    };
    // A second init (tests, several handlers in one process) keeps the first subscriber.
    let _ = result;
}

/// The JSON lines subscriber, writing to `writer` (tests read what a function logs through it).
pub fn json_subscriber<W>(filter: EnvFilter, writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(writer)
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        // RFC 3339 in UTC, e.g. 2026-11-30T10:14:00.123456Z.
        .with_timer(tracing_subscriber::fmt::time::SystemTime)
        .with_ansi(false)
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_json_line_has_an_rfc3339_timestamp_and_a_level_lambda_reads() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = json_subscriber(EnvFilter::new("info"), move || writer.clone());
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("request", request_id = "abc", route = "GET /x");
            let _entered = span.enter();
            tracing::info!(status = 200, "request handled");
            tracing::warn!("a warning");
            tracing::error!("an error");
        });
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
            .collect();
        assert_eq!(lines.len(), 3, "{text}");
        for (line, level) in lines.iter().zip(["INFO", "WARN", "ERROR"]) {
            assert_eq!(line["level"], level);
            let timestamp = line["timestamp"].as_str().expect("a timestamp");
            let parsed = chrono::DateTime::parse_from_rfc3339(timestamp).expect("RFC 3339");
            assert_eq!(parsed.offset().local_minus_utc(), 0, "UTC: {timestamp}");
            assert_eq!(line["span"]["request_id"], "abc");
        }
        assert_eq!(lines[0]["status"], 200);
    }
}
