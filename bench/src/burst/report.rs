//! The burst section's table and its closing paragraph, written from what the rounds measured.

use std::fmt::Write as _;
use std::time::Duration;

use super::{Round, INSTANCES, MAX_CONNECTIONS, MODES, REQUEST_TIMEOUT_MS};
use crate::stats::{ms, stats};

/// The section's text after its heading: what was run, the table, the summary.
pub fn write_report(out: &mut String, rounds: &[Round]) {
    let per_instance = super::requests_per_instance();
    writeln!(out, "A MariaDB of the bench's own with `max_connections = {MAX_CONNECTIONS}`, {INSTANCES:?} instances of the release binaries started at once (half `get-me`, reading `GET /api/users/me`; half `create-user`, writing `POST /api/users`), each polling one Runtime API queue per function; once all are ready, {per_instance} events per instance are queued at once. Latency is from the event handed to an instance to its response posted; the first request of each instance opens its MySQL connection. `REQUEST_TIMEOUT_MS={REQUEST_TIMEOUT_MS}`, bcrypt cost 4. *Max connections used* is the server's `Max_used_connections` (after a `FLUSH STATUS` before each round, so it counts the bench's own session too); *refused* is `Connection_errors_max_connections`. *Rows found* are the users the round's creates left in the table: equal to the acknowledged (201) creates when no acknowledged write is lost and no refused one was half-done.\n").unwrap();
    writeln!(out, "There is no RDS Proxy here: `DB_PROXY=on` only switches the functions to text statements (what they send behind a proxy) on the same direct connections, so both modes meet the same budget. The table shows what a small connection budget does to a burst in direct mode, and whether proxy mode's text statements cost anything in latency; behind a real proxy, sessions beyond the database's budget would wait for a pooled connection instead of being refused.\n").unwrap();
    writeln!(out, "| mode | instances | requests | req/s | p50 | p99 | max | 2xx | 503 | other | max connections used (refused) | acknowledged writes | rows found |").unwrap();
    writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|---|---|").unwrap();
    for round in rounds {
        let label = MODES
            .iter()
            .find(|(mode, _)| *mode == round.mode)
            .unwrap()
            .1;
        let answered = round.requests - round.hung;
        let (p50, p99, max) = if round.answers.latencies.is_empty() {
            ("-".to_owned(), "-".to_owned(), "-".to_owned())
        } else {
            let s = stats(round.answers.latencies.clone());
            (ms(s.p50), ms(s.p99), ms(s.max))
        };
        let other = if round.hung > 0 {
            format!(
                "{} ({} unanswered)",
                round.answers.other + round.hung,
                round.hung
            )
        } else {
            round.answers.other.to_string()
        };
        writeln!(
            out,
            "| {label} (`DB_PROXY={}`) | {} | {} | {:.0} | {p50} | {p99} | {max} | {} | {} | {other} | {} ({}) | {} | {} |",
            round.mode,
            round.instances,
            round.requests,
            answered as f64 / round.elapsed.as_secs_f64().max(1e-9),
            round.answers.success,
            round.answers.unavailable,
            round.server.max_used_connections,
            round.server.refused_for_max_connections,
            round.acknowledged_writes,
            round.rows_found,
        )
        .unwrap();
    }
    writeln!(out).unwrap();
    write_summary(out, rounds);
}

/// "p50 X, max Y" of `samples`, or a dash when there are none.
fn p50_and_max(samples: &[Duration]) -> String {
    if samples.is_empty() {
        return "-".to_owned();
    }
    let s = stats(samples.to_vec());
    format!("p50 {}, max {}", ms(s.p50), ms(s.max))
}

/// The paragraph on the rounds past the budget and on the two modes, written from what the
/// rounds measured.
fn write_summary(out: &mut String, rounds: &[Round]) {
    let mut text = format!("The server's `max_connections` is {MAX_CONNECTIONS}; MariaDB admits one session more for a privileged user, and without grant tables every session is one, hence {} at most. ", MAX_CONNECTIONS + 1);
    let request_timeout = Duration::from_millis(REQUEST_TIMEOUT_MS.parse().unwrap());
    for round in rounds
        .iter()
        .filter(|round| round.instances > MAX_CONNECTIONS as usize)
    {
        write!(text, "With {} instances (`DB_PROXY={}`) the server refused {} connections as too many (`Aborted_connects` {}); {} of {} requests were answered 503 ({}), {} with anything else, {} not at all; the 2xx answers took {}. ",
            round.instances, round.mode, round.server.refused_for_max_connections, round.server.aborted_connects,
            round.answers.unavailable, round.requests, p50_and_max(&round.answers.unavailable_latencies), round.answers.other, round.hung,
            p50_and_max(&round.answers.success_latencies)).unwrap();
        let at_timeout = round
            .answers
            .unavailable_latencies
            .iter()
            .filter(|latency| **latency >= request_timeout)
            .count();
        if at_timeout > 0 {
            write!(text, "{at_timeout} of those 503s came at the request timeout ({REQUEST_TIMEOUT_MS} ms), not from a refusal; ").unwrap();
            text.push_str(if round.listen_overflows > 0 {
                "meanwhile the kernel dropped connection attempts on a full listen queue, and a dropped SYN is retried only after 1 s. "
            } else {
                "the kernel counted no listen-queue overflow meanwhile. "
            });
        }
        if round.answers.unavailable_without_retry_after > 0 {
            write!(
                text,
                "**{} of the 503s had no Retry-After.** ",
                round.answers.unavailable_without_retry_after
            )
            .unwrap();
        }
    }
    let lost: Vec<&Round> = rounds
        .iter()
        .filter(|round| round.acknowledged_writes as u64 != round.rows_found)
        .collect();
    if lost.is_empty() {
        text.push_str("In every round the rows found equal the acknowledged creates: no acknowledged write was lost and no refused one was written. ");
    }
    for round in lost {
        write!(
            text,
            "**With {} instances (`DB_PROXY={}`) {} creates were acknowledged but {} rows found.** ",
            round.instances, round.mode, round.acknowledged_writes, round.rows_found
        )
        .unwrap();
    }
    text.push_str("An instance keeps its connection between requests (its pool closes it after 4 idle minutes), so the first instances to connect hold the budget for the whole burst. Each of the others asks the server for a connection, is refused, and then answers 503 at once without asking again for a second (`shared::db::pool::TOO_MANY_CONNECTIONS_PAUSE`): the refused connections above are about one per starved instance and second, where every request of theirs knocked before (some 1,100 to 1,400 refusals in a 96-instance round). A refused instance is soon free again and takes the next event from the queue, as a free Lambda instance would. ");
    text.push_str("Statement mode, p50 of the 2xx answers (direct / proxy mode):");
    for instances in INSTANCES {
        let p50 = |mode: &str| {
            rounds
                .iter()
                .find(|round| round.instances == instances && round.mode == mode)
                .filter(|round| !round.answers.success_latencies.is_empty())
                .map(|round| ms(stats(round.answers.success_latencies.clone()).p50))
                .unwrap_or_else(|| "-".to_owned())
        };
        write!(
            text,
            " {instances} instances {} / {};",
            p50("off"),
            p50("on")
        )
        .unwrap();
    }
    text.pop();
    text.push_str(". Each mode runs once per round size, direct first; with about a hundred processes on two cores, the same mode's p50 varies between runs of the bench by more than the two modes differ, so a difference in one run is not a cost of the mode.");
    writeln!(out, "{text}").unwrap();
}
