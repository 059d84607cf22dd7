//! The markdown report: each section written from what its module measured. (The burst section
//! writes its own, in burst/report.rs.)

use std::fmt::Write as _;
use std::time::Duration;

use crate::audit_cost::AuditCost;
use crate::catalog::Function;
use crate::cold_start::{ColdStarts, COLD_STARTS, WARM_INVOCATIONS_FOR_RSS};
use crate::http_load::HttpLoad;
use crate::in_process::InProcess;
use crate::machine::Machine;
use crate::password_hashing::{DEPLOYED_COST, HASHING_FUNCTIONS};
use crate::search::Listing;
use crate::stats::{ms, us};
use crate::tls::{TlsStarts, FUNCTION as TLS_FUNCTION};

/// `writeln!` to a `String`, which cannot fail.
macro_rules! put_line {
    ($out:expr) => {
        writeln!($out).unwrap()
    };
    ($out:expr, $($arg:tt)*) => {
        writeln!($out, $($arg)*).unwrap()
    };
}

/// A line naming the functions a section left out, and why; nothing when there are none.
fn left_out(out: &mut String, names: &[String], why: &str) {
    if !names.is_empty() {
        put_line!(out, "\nNot measured ({why}): {}.", names.join(", "));
    }
}

pub fn title(out: &mut String, machine: &Machine) {
    put_line!(out, "# Benchmark results\n");
    put_line!(out, "Machine: {}, {} cores; MySQL: MariaDB {} on 127.0.0.1 (TCP). Release builds (x86_64 here; the deployed ones are arm64). Produced by `make bench`.", machine.cpu, machine.cores, machine.server_version);
}

pub fn in_process(out: &mut String, measured: &InProcess) {
    let round_trip = measured.round_trip.p50;
    put_line!(out, "\n## Warm requests, in process\n");
    put_line!(out, "Each handler called with an API Gateway (v2) event, as the runtime would, on a warm instance (pool connected, statements prepared). One MySQL round trip (`SELECT ?`, prepared) takes p50 {} here; \"beyond the database\" is the p50 less that many round trips. Writes that hash passwords use bcrypt cost 4 here (the cost itself is measured below). The last two columns are the same requests on an instance in proxy mode (`DB_PROXY=on`: text statements, values escaped into them), on the same direct connection: what the statement mode itself costs, without a proxy's hop. The catch-all route's request is one it refuses (405), as it refuses every request.\n", us(round_trip));
    put_line!(out, "| endpoint | MySQL round trips | p50 | p99 | mean | beyond the database (p50) | p50, DB_PROXY=on | p99, DB_PROXY=on |");
    put_line!(out, "|---|---|---|---|---|---|---|---|");
    for endpoint in &measured.endpoints {
        let (direct, text) = (&endpoint.direct, &endpoint.proxy_mode);
        let beyond = direct
            .p50
            .saturating_sub(round_trip * endpoint.round_trips as u32);
        put_line!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            endpoint.route,
            endpoint.round_trips,
            us(direct.p50),
            us(direct.p99),
            us(direct.mean),
            us(beyond),
            us(text.p50),
            us(text.p99)
        );
    }
    left_out(
        out,
        &measured.not_measured,
        "the bench has no request for them or does not link them",
    );
}

pub fn search(out: &mut String, listing: &Listing) {
    put_line!(
        out,
        "\n## Listing and search on {} users\n",
        listing.users - 1
    );
    put_line!(out, "`GET /api/users` in process (API Gateway v2 events, warm), {} calls each, on a table of {} users (generated in {:.1} s; one in fifty an admin, one in ten disabled). Each is one query that returns the page and the filtered total (a subquery over an index when an index serves the filter, `COUNT(*) OVER ()` in the same scan when none does), plus the token check.\n", listing.iterations, listing.users, listing.populated.as_secs_f64());
    put_line!(out, "| query | matching users | p50 | p99 | mean |");
    put_line!(out, "|---|---|---|---|---|");
    for (query, total, timings) in &listing.queries {
        put_line!(
            out,
            "| `{}` | {total} | {} | {} | {} |",
            if query.is_empty() { "(none)" } else { query },
            us(timings.p50),
            us(timings.p99),
            us(timings.mean)
        );
    }
}

pub fn audit_cost(out: &mut String, cost: &AuditCost) {
    put_line!(out, "\n## What the audit event adds to a write\n");
    put_line!(out, "The database part of each write, p50 of {} on one warm connection, as the functions send it and without its event. The event never adds a round trip: it goes in the query that carries the change (or, for a refused login, the clean-up). The whole requests are in the first table (PATCH and login).\n", cost.iterations);
    put_line!(
        out,
        "| write | with its event | without | the event's cost |"
    );
    put_line!(out, "|---|---|---|---|");
    for (what, with, without) in &cost.writes {
        put_line!(
            out,
            "| {what} | {} | {} | {} |",
            us(*with),
            us(*without),
            us(with.saturating_sub(*without))
        );
    }
}

pub fn cold_starts(out: &mut String, measured: &ColdStarts) {
    let connect = &measured.connect;
    put_line!(out, "\n## Cold starts\n");
    put_line!(out, "From spawning the release binary to its first response, through a minimal Lambda Runtime API in the harness, {COLD_STARTS} starts each. *Init* is spawn to the first request for an event (configuration, pool, token keys; no I/O). The first request then opens the MySQL connection: a new connection takes p50 {} here (max {}), shown apart in the last column. Peak RSS is the instance's high-water mark after {WARM_INVOCATIONS_FOR_RSS} more invocations; warm p50 is per invocation through the runtime API.\n", ms(connect.p50), ms(connect.max));
    put_line!(out, "| function | init p50 | first response p50 | max | first response without the MySQL connect (p50) | peak RSS | warm p50 via runtime API |");
    put_line!(out, "|---|---|---|---|---|---|---|");
    for start in &measured.functions {
        let first = &start.first_response;
        let without_connect = if start.uses_database {
            first.p50.saturating_sub(connect.p50)
        } else {
            first.p50
        };
        put_line!(
            out,
            "| {} | {} | {} | {} | {} | {:.1} MB | {} |",
            start.function,
            ms(start.init.p50),
            ms(first.p50),
            ms(first.max),
            ms(without_connect),
            start.peak_rss_kib as f64 / 1024.0,
            us(start.warm_via_runtime.p50)
        );
    }
    left_out(out, &measured.no_event, "the bench has no event for them");
    left_out(out, &measured.missing_binaries, "not built");
}

pub fn tls(out: &mut String, measured: &Result<TlsStarts, String>) {
    put_line!(out, "\n## Cold starts with TLS to the database\n");
    let starts = match measured {
        Ok(starts) => starts,
        Err(missing) => {
            put_line!(
                out,
                "Not measured: {missing} is missing (`cargo build --release -p {TLS_FUNCTION}`)."
            );
            return;
        }
    };
    let (plain, tls) = (&starts.plain_connect, &starts.tls_connect);
    put_line!(out, "The release binary of {TLS_FUNCTION}, {COLD_STARTS} starts each (alternated), against one private MariaDB that offers TLS ({}, {}; an RSA 2048 certificate from a CA made by the harness, as RDS's default CA): plain TCP (`DB_TLS=off`) and TLS (`DB_TLS=on`, `DB_TLS_CA` naming that CA, read and checked at init). A new connection alone takes p50 {} in plain TCP and {} with TLS (max {} and {}).\n", starts.version, starts.cipher, ms(plain.p50), ms(tls.p50), ms(plain.max), ms(tls.max));
    put_line!(
        out,
        "| {TLS_FUNCTION} | init p50 | first response p50 | first response max |"
    );
    put_line!(out, "|---|---|---|---|");
    for (label, row) in [
        ("plain TCP (`DB_TLS=off`)", &starts.plain),
        ("TLS (`DB_TLS=on`, `DB_TLS_CA`)", &starts.tls),
    ] {
        put_line!(
            out,
            "| {label} | {} | {} | {} |",
            ms(row.init.p50),
            ms(row.first_response.p50),
            ms(row.first_response.max)
        );
    }
    let added =
        starts.tls.first_response.p50.as_secs_f64() - starts.plain.first_response.p50.as_secs_f64();
    put_line!(
        out,
        "\nWhat TLS adds to the first response (p50): {:+.2} ms.",
        added * 1e3
    );
}

pub fn http_load(out: &mut String, measured: &Option<Vec<HttpLoad>>) {
    put_line!(
        out,
        "\n## Warm requests over HTTP under `cargo lambda watch --release`\n"
    );
    put_line!(out, "`wrk -t1 -c1 -d10s --latency` (concurrency 1: a Lambda instance serves one request at a time). This includes cargo-lambda's emulator, which turns each request into an invocation through its own runtime API, so it is an upper bound for the function's share.\n");
    let Some(rows) = measured else {
        put_line!(
            out,
            "Not measured: `cargo lambda watch` or `wrk` was not available."
        );
        return;
    };
    put_line!(out, "| endpoint | p50 | p99 | requests/s |");
    put_line!(out, "|---|---|---|---|");
    for row in rows {
        put_line!(
            out,
            "| {} | {} | {} | {} |",
            row.route,
            row.p50,
            row.p99,
            row.requests_per_second
        );
    }
}

pub fn packages(out: &mut String, sizes: &[(String, u64)]) {
    put_line!(
        out,
        "\n## Deployment packages (`cargo lambda build --release --arm64 --output-format zip`)\n"
    );
    if sizes.is_empty() {
        put_line!(
            out,
            "No zips under target/lambda: run `make build` (make bench does)."
        );
        return;
    }
    put_line!(out, "| function | arm64 zip |\n|---|---|");
    for (function, size) in sizes {
        put_line!(out, "| {function} | {:.2} MB |", *size as f64 / 1e6);
    }
}

/// The bcrypt costs measured here, then what the deployed cost takes at the memory size
/// template.yaml gives each function that hashes.
pub fn password_hashing(out: &mut String, costs: &[(u32, Duration)], functions: &[Function]) {
    put_line!(out, "\n## bcrypt\n");
    put_line!(out, "| cost | ms per hash here |");
    put_line!(out, "|---|---|");
    for (cost, time) in costs {
        put_line!(out, "| {cost} | {:.0} |", time.as_secs_f64() * 1e3);
    }
    let Some((_, deployed)) = costs.iter().find(|(cost, _)| *cost == DEPLOYED_COST) else {
        return;
    };
    put_line!(out, "\nExpected bcrypt time of one login (cost {DEPLOYED_COST}) at the memory sizes of template.yaml, taking this machine's core as Lambda's vCPU (a function gets one full vCPU at 1,769 MB and a proportional share below):\n");
    put_line!(
        out,
        "| function | MemorySize | CPU share | bcrypt at cost {DEPLOYED_COST} |"
    );
    put_line!(out, "|---|---|---|---|");
    for function in functions {
        let Some(size) = function.memory_mb else {
            continue;
        };
        if !HASHING_FUNCTIONS.contains(&function.name.as_str()) {
            continue;
        }
        let share = (size as f64 / 1769.0).min(1.0);
        put_line!(
            out,
            "| {} | {size} MB | {share:.2} vCPU | {:.0} ms |",
            function.name,
            deployed.as_secs_f64() * 1e3 / share
        );
    }
}
