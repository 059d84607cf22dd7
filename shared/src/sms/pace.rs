//! Sending a text, or waiting as long as one takes: a request that sends nothing (an unknown
//! number, a disabled account, a number held back by its limits) must not answer measurably
//! sooner than one that sends, or the time would tell which numbers have accounts.
//!
//! Each instance keeps a moving average of its own recent sends (Amazon SNS takes some 50 to
//! 150 ms) and a request that sends nothing waits that long.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::texts::Text;
use crate::App;

/// What a request that sends nothing waits before this instance has timed a send.
pub const DEFAULT_SEND_TIME: Duration = Duration::from_millis(100);
/// The longest wait: a send that hung (and failed) must not make every quiet request hang.
pub const MAX_SEND_TIME: Duration = Duration::from_secs(2);
/// Each new send moves the average by this fraction of the difference (1/8).
const WEIGHT_SHIFT: u32 = 3;

/// A moving average of how long sends take, in microseconds (0: none timed yet).
pub struct Pace {
    average_micros: AtomicU64,
}

impl Pace {
    pub const fn new() -> Self {
        Self {
            average_micros: AtomicU64::new(0),
        }
    }

    /// How long a send typically takes on this instance.
    pub fn typical(&self) -> Duration {
        match self.average_micros.load(Ordering::Relaxed) {
            0 => DEFAULT_SEND_TIME,
            micros => Duration::from_micros(micros),
        }
    }

    /// Takes one send's time into the average.
    pub fn record(&self, took: Duration) {
        let took = u64::try_from(took.min(MAX_SEND_TIME).as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        // A lost race between two requests of one instance loses one sample: harmless.
        let _ = self
            .average_micros
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |average| {
                Some(match average {
                    0 => took,
                    average => {
                        let moved = (average << WEIGHT_SHIFT) - average + took;
                        (moved >> WEIGHT_SHIFT).max(1)
                    }
                })
            });
    }
}

impl Default for Pace {
    fn default() -> Self {
        Self::new()
    }
}

/// The timer's resolution: tokio's sleeps end on a millisecond tick, up to one late.
const TIMER_TICK: Duration = Duration::from_millis(1);

/// Waits `wait`, to well under a millisecond: a sleep for all but the last tick, then yields
/// until the time is up. A send to the local outbox takes a fraction of a millisecond, which a
/// sleep alone would round up to a whole one and so tell the two paths apart; the yielding
/// costs at most one tick of CPU.
async fn wait_as_long_as(wait: Duration) {
    let deadline = Instant::now() + wait;
    if wait > TIMER_TICK {
        tokio::time::sleep(wait - TIMER_TICK).await;
    }
    while Instant::now() < deadline {
        tokio::task::yield_now().await;
    }
}

/// This instance's sends.
static SENDS: Pace = Pace::new();

/// Sends `text`, or, when there is none to send, waits as long as a send typically takes.
pub(super) async fn send_or_wait(app: &App, text: Option<Text>) {
    let Some(text) = text else {
        wait_as_long_as(SENDS.typical()).await;
        return;
    };
    let started = Instant::now();
    // The sender logs each text once (texts::Logged: `sms_outcome`), sent or not, and a failure
    // changes nothing of the answer.
    let _ = app.texts.send(&text).await;
    SENDS.record(started.elapsed());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_average_starts_at_the_default_then_follows_the_sends() {
        let pace = Pace::new();
        assert_eq!(pace.typical(), DEFAULT_SEND_TIME);
        pace.record(Duration::from_millis(80));
        assert_eq!(pace.typical(), Duration::from_millis(80));
        pace.record(Duration::from_millis(160));
        assert_eq!(pace.typical(), Duration::from_millis(90));
        for _ in 0..100 {
            pace.record(Duration::from_millis(120));
        }
        let settled = pace.typical().as_millis();
        assert!((118..=120).contains(&settled), "{settled}");
    }

    #[test]
    fn a_hung_send_counts_as_the_longest_wait_only() {
        let pace = Pace::new();
        pace.record(Duration::from_secs(30));
        assert_eq!(pace.typical(), MAX_SEND_TIME);
        pace.record(Duration::ZERO);
        assert!(pace.typical() < MAX_SEND_TIME);
        assert!(pace.typical() > Duration::ZERO);
    }
}
