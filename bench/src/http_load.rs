//! Warm requests over HTTP: `wrk` against the functions under `cargo lambda watch --release`,
//! which turns each request into an invocation through its own runtime API.

use std::process::Stdio;
use std::time::{Duration, Instant};

use api_tests::{test_env, Fixture};

pub struct HttpLoad {
    pub route: &'static str,
    pub p50: String,
    pub p99: String,
    pub requests_per_second: String,
}

/// `wrk` at one connection (one Lambda instance serves one request at a time) against the
/// functions under `cargo lambda watch --release`.
pub async fn measure(f: &Fixture) -> Option<Vec<HttpLoad>> {
    if std::process::Command::new("wrk")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("wrk is not installed: skipping the HTTP measurements (make bench installs it)");
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut watch = tokio::process::Command::new("cargo")
        .args([
            "lambda",
            "watch",
            "--release",
            "--ignore-changes",
            "-A",
            "127.0.0.1",
            "-P",
            &port.to_string(),
        ])
        .current_dir(crate::workspace())
        .envs(test_env(&f.db))
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .process_group(0)
        .spawn()
        .ok()?;
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        if Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let routes: [(&'static str, String, &String); 4] = [
        ("GET /api/users/me", "/api/users/me".to_owned(), &f.user),
        (
            "GET /api/users/{id}",
            format!("/api/users/{}", f.user_id),
            &f.admin,
        ),
        ("GET /api/users", "/api/users".to_owned(), &f.admin),
        (
            "GET /api/openapi.json",
            "/api/openapi.json".to_owned(),
            &f.admin,
        ),
    ];
    let mut results = Vec::new();
    for (route, path, token) in routes {
        let url = format!("{base}{path}");
        let header = format!("Authorization: Bearer {token}");
        // The first request builds the function (release) and starts it: not measured.
        let _ = tokio::process::Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-m", "900", "-H", &header, &url])
            .status()
            .await;
        let output = tokio::process::Command::new("wrk")
            .args(["-t1", "-c1", "-d10s", "--latency", "-H", &header, &url])
            .output()
            .await
            .ok()?;
        let text = String::from_utf8_lossy(&output.stdout).to_string();
        let field = |prefix: &str| {
            text.lines()
                .map(str::trim)
                .find(|line| line.starts_with(prefix))
                .and_then(|line| line.split_whitespace().nth(1))
                .unwrap_or("?")
                .to_owned()
        };
        let non_2xx = text.contains("Non-2xx");
        assert!(!non_2xx, "{route} answered errors under load:\n{text}");
        results.push(HttpLoad {
            route,
            p50: field("50%"),
            p99: field("99%"),
            requests_per_second: field("Requests/sec:"),
        });
    }
    let _ = std::process::Command::new("kill")
        .args(["-TERM", "--", &format!("-{}", watch.id().unwrap_or(0))])
        .status();
    let _ = watch.kill().await;
    Some(results)
}
