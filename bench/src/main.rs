//! `make bench`: measures what users pick Rust on Lambda for, on this machine, and writes a
//! markdown report to standard output and bench/results.md: warm latency in process with the
//! MySQL round trips of each request, listing and search on 100,000 users, what the audit event
//! adds to a write, cold starts through a Lambda Runtime API (also with TLS to the database), a
//! burst of instances against a small connection budget, warm latency over HTTP under
//! `cargo lambda watch`, package sizes, bcrypt. The functions measured are the folders of
//! `functions/` (catalog.rs).
//!
//! Run it through `make bench`, which builds what it measures first; the flags are in `USAGE`.

mod audit_cost;
mod burst;
mod catalog;
mod cold_start;
mod http_load;
mod in_process;
mod machine;
mod packages;
mod password_hashing;
mod recovery;
mod report;
mod requests;
mod runtime_api;
mod search;
mod stats;
mod tls;
mod tokens;

use std::path::PathBuf;
use std::sync::OnceLock;

const USAGE: &str = "\
usage: users-bench [--quick] [--search | --burst | --tls | --tokens | --recovery]

Without a flag: every section, written to bench/results.md (make bench).
  --quick   a few iterations of each measurement, two functions' cold starts and no HTTP
            section, to check the harness itself; prints the report and writes no file
  --search  only listing and search on 100,000 users and the audit event's cost (no release
            binaries needed); written to bench/results-search.md
  --burst   only the burst of instances (release binaries of get-me and create-user)
  --tls     only the cold starts with TLS to the database (release binary of get-me)
  --tokens  only RS256 beside HS256: signing, verifying, /me, refresh and login in process
  --recovery  only account recovery: forgot for a known and an unknown cellnumber, and reset
  --help    this text

BENCH_PROFILE=debug starts the debug binaries instead of the release ones.";

/// Which sections a run measures.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Part {
    Everything,
    Search,
    Burst,
    Tls,
    Tokens,
    Recovery,
}

#[derive(Debug, PartialEq, Eq)]
struct Options {
    part: Part,
    quick: bool,
}

/// `Ok(None)` asks for the usage text.
fn parse_flags(flags: impl IntoIterator<Item = String>) -> Result<Option<Options>, String> {
    let mut options = Options {
        part: Part::Everything,
        quick: false,
    };
    for flag in flags {
        let part = match flag.as_str() {
            "--quick" => {
                options.quick = true;
                continue;
            }
            "--help" | "-h" => return Ok(None),
            "--search" => Part::Search,
            "--burst" => Part::Burst,
            "--tls" => Part::Tls,
            "--tokens" => Part::Tokens,
            "--recovery" => Part::Recovery,
            other => return Err(format!("unknown flag {other}")),
        };
        if options.part != Part::Everything {
            return Err(
                "one of --search, --burst, --tls, --tokens and --recovery at a time".to_owned(),
            );
        }
        options.part = part;
    }
    Ok(Some(options))
}

static QUICK: OnceLock<bool> = OnceLock::new();

/// `--quick`: a few iterations of each measurement.
pub(crate) fn quick() -> bool {
    QUICK.get().copied().unwrap_or(false)
}

pub(crate) fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

pub(crate) fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"))
}

/// Which build's binaries to start: release (make bench), or debug for a quick check.
fn binaries() -> PathBuf {
    target_dir().join(std::env::var("BENCH_PROFILE").unwrap_or_else(|_| "release".into()))
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let options = match parse_flags(std::env::args().skip(1)) {
        Ok(Some(options)) => options,
        Ok(None) => {
            println!("{USAGE}");
            return;
        }
        Err(problem) => {
            eprintln!("{problem}\n\n{USAGE}");
            std::process::exit(2);
        }
    };
    QUICK.set(options.quick).unwrap();
    let (report, file) = match options.part {
        Part::Everything => (everything().await, Some("results.md")),
        Part::Search => {
            let mut out = String::new();
            search_sections(&mut out).await;
            (out, Some("results-search.md"))
        }
        Part::Burst => (burst::burst_section(&binaries()).await, None),
        Part::Tls => {
            let mut out = String::new();
            report::tls(&mut out, &tls::measure(&binaries()).await);
            (out, None)
        }
        Part::Tokens => (
            tokens::tokens_section(if options.quick { 50 } else { 2000 }).await,
            None,
        ),
        Part::Recovery => (
            recovery::recovery_section(if options.quick { 20 } else { 400 }).await,
            None,
        ),
    };
    println!("{report}");
    // A quick run checks the harness: its figures would only overwrite real ones.
    if let (Some(file), false) = (file, options.quick) {
        let path = workspace().join("bench").join(file);
        std::fs::write(&path, &report).unwrap();
        eprintln!("written to {}", path.display());
    }
}

/// Every section, in the order of the report.
async fn everything() -> String {
    let functions = catalog::read(&workspace());
    let f = requests::fixture().await;
    let binaries = binaries();
    let mut out = String::new();
    report::title(&mut out, &machine::describe(&f.app).await);
    report::in_process(&mut out, &in_process::measure(&f, &functions).await);
    search_sections(&mut out).await;
    let starts = cold_start::measure(&f, &functions, &binaries).await;
    report::cold_starts(&mut out, &starts);
    report::tls(&mut out, &tls::measure(&binaries).await);
    out.push_str(&tokens::tokens_section(if quick() { 50 } else { 2000 }).await);
    out.push_str(&recovery::recovery_section(if quick() { 20 } else { 400 }).await);
    out.push_str(&burst::burst_section(&binaries).await);
    if !quick() {
        report::http_load(&mut out, &http_load::measure(&f).await);
    }
    report::packages(&mut out, &packages::measure());
    report::password_hashing(&mut out, &password_hashing::measure(), &functions);
    out
}

/// Listing and search, and the audit event's cost: they make their own databases.
async fn search_sections(out: &mut String) {
    let iterations = if quick() { 5 } else { 50 };
    report::search(out, &search::measure(iterations).await);
    report::audit_cost(out, &audit_cost::measure(in_process::warm_writes()).await);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(flags: &[&str]) -> Result<Option<Options>, String> {
        parse_flags(flags.iter().map(|flag| flag.to_string()))
    }

    #[test]
    fn each_flag_picks_its_part_and_quick_combines_with_any() {
        let options = |part, quick| Ok(Some(Options { part, quick }));
        assert_eq!(parse(&[]), options(Part::Everything, false));
        assert_eq!(parse(&["--quick"]), options(Part::Everything, true));
        assert_eq!(parse(&["--search", "--quick"]), options(Part::Search, true));
        assert_eq!(parse(&["--burst"]), options(Part::Burst, false));
        assert_eq!(parse(&["--quick", "--tls"]), options(Part::Tls, true));
        assert_eq!(parse(&["--recovery"]), options(Part::Recovery, false));
        assert_eq!(parse(&["--help"]), Ok(None));
    }

    #[test]
    fn unknown_flags_and_two_parts_are_refused() {
        assert!(parse(&["--fast"]).is_err());
        assert!(parse(&["--search", "--burst"]).is_err());
    }
}
