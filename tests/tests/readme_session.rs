//! The README's curl session, run as written against `make serve`: the README cannot drift from
//! the API. Every request of the block must answer the status its trailing comment names (`# 403`),
//! or a 2xx when it names none.

use std::process::{Command, Stdio};

use api_tests::serve::{free_port, workspace_root, Served};
use api_tests::TestDb;

/// The shell block under "A session with curl".
fn readme_session() -> String {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap();
    let section = readme
        .split_once("## A session with curl")
        .expect("the README has a section \"A session with curl\"")
        .1;
    let block = section
        .split_once("```sh\n")
        .expect("the section has a shell block")
        .1;
    block.split_once("```").unwrap().0.to_owned()
}

/// What each request of `block` must answer, in order: the status of its trailing comment, or
/// `None` for any 2xx.
fn expected_statuses(block: &str) -> Vec<Option<u16>> {
    let mut commands = Vec::new();
    let mut current = String::new();
    for line in block.lines() {
        if line.trim_start().starts_with('#') && current.is_empty() {
            continue;
        }
        current.push_str(line);
        if line.trim_end().ends_with('\\') {
            current.push('\n');
            continue;
        }
        commands.push(std::mem::take(&mut current));
    }
    commands
        .iter()
        .filter(|command| command.contains("curl "))
        .map(|command| {
            let comment = command.rsplit_once("# ").map(|(_, c)| c.trim());
            comment.and_then(|c| c.parse().ok())
        })
        .collect()
}

#[test]
fn the_readme_curl_session_runs_as_written_against_make_serve() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // make serve creates and migrates the database itself: give it a fresh name.
    let db = runtime.block_on(TestDb::empty());
    let port = free_port();
    let log = std::env::temp_dir().join(format!("users-api-make-serve-{port}.log"));
    let out = std::fs::File::create(&log).unwrap();
    let mut make = Command::new("make");
    make.arg("--no-print-directory")
        .arg("serve")
        .current_dir(workspace_root())
        .env("DATABASE_URL", &db.url)
        .env("PORT", port.to_string())
        .env("CONCURRENCY", "2")
        .env("SECRET_KEY", api_tests::TEST_SECRET)
        .env("BCRYPT_COST", "4")
        .env("ADMIN_CELLNUMBER", "+15550000001")
        .env("ADMIN_PASSWORD", "change-me-now")
        .env("DB_PROXY", api_tests::db_proxy())
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out);
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        if name.starts_with("CARGO_") && name != "CARGO_TARGET_DIR" && name != "CARGO_HOME" {
            make.env_remove(name);
        }
    }
    let served = Served::spawn(make, port, log, "make is not installed");

    let block = readme_session();
    let expected = expected_statuses(&block);
    assert!(
        expected.len() >= 15,
        "the session has {} requests",
        expected.len()
    );
    let script = block.replace("API=http://127.0.0.1:9000", &format!("API={}", served.base));
    // Every curl of the script reports its status on stderr, one line each, in order.
    let wrapper = "curl() { command curl -w '%{stderr}status %{http_code}\\n' \"$@\"; }\nset -e\n";
    // From the repository's root, as a reader runs it (the outbox is target/sms-outbox.jsonl).
    let output = Command::new("bash")
        .current_dir(workspace_root())
        .arg("-c")
        .arg(format!("{wrapper}{script}"))
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the session stopped ({:?})\nstdout:\n{stdout}\nstderr:\n{stderr}\nlog:\n{}",
        output.status,
        served.logs()
    );
    let statuses: Vec<u16> = stderr
        .lines()
        .filter_map(|line| line.strip_prefix("status ")?.parse().ok())
        .collect();
    assert_eq!(
        statuses.len(),
        expected.len(),
        "every request answered once\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    for (index, (status, expected)) in statuses.iter().zip(&expected).enumerate() {
        match expected {
            Some(expected) => assert_eq!(
                status,
                expected,
                "request {} of the README session\nstdout:\n{stdout}",
                index + 1
            ),
            None => assert!(
                (200..300).contains(status),
                "request {} of the README session answered {status}\nstdout:\n{stdout}",
                index + 1
            ),
        }
    }
    // The answers the README shows are the API's: the admin reads itself, the user was created.
    assert!(
        stdout.contains("\"cellnumber\":\"+15550000001\""),
        "{stdout}"
    );
    assert!(stdout.contains("HTTP/1.1 201"), "{stdout}");
    assert!(stdout.contains("User deleted successfully"), "{stdout}");
}

#[test]
fn every_curl_of_the_readme_session_is_counted() {
    let expected = expected_statuses(&readme_session());
    assert!(expected.contains(&Some(403)) && expected.contains(&Some(401)));
    assert!(expected.contains(&Some(409)));
    assert!(expected.iter().filter(|e| e.is_none()).count() >= 10);
}
