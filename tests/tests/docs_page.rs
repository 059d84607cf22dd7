//! The docs page works offline and is safe: Swagger UI comes from the docs function itself (the
//! pinned, vendored swagger-ui-dist), under a Content-Security-Policy that runs same-origin
//! scripts only; headless Chromium renders every operation of the document from `make serve`.

use std::io::Read;
use std::path::PathBuf;
use std::process::Command;

use api_tests::serve::{workspace_root, Served};
use api_tests::{test_env, Event, TestDb};
use lambda_http::{Body, Response};

/// The sums recorded in functions/docs/assets/swagger-ui-dist/README.md (swagger-ui-dist 5.35.0).
const VENDORED: [(&str, &str); 2] = [
    (
        "swagger-ui-bundle.js",
        "e6a898692f2d768e807c3ba4626068a69a2c5dd960dd6c76f3e4d3a3de180af2",
    ),
    (
        "swagger-ui.css",
        "5ed08757e53da3e026d6cbecc61fe5d43585c9560b302d534ad56692519a273d",
    ),
];

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn the_vendored_swagger_ui_is_the_pinned_release() {
    let dir = workspace_root().join("functions/docs/assets/swagger-ui-dist");
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    for (file, sum) in VENDORED {
        let bytes = std::fs::read(dir.join(file)).unwrap();
        let digest = ring::digest::digest(&ring::digest::SHA256, &bytes);
        assert_eq!(
            hex(digest.as_ref()),
            sum,
            "{file} is not the vendored release"
        );
        assert!(
            readme.contains(sum),
            "README.md does not record {file}'s sum"
        );
    }
}

async fn docs(event: Event) -> Response<Body> {
    docs::handler(event.request()).await.unwrap()
}

fn asset_event(name: &str) -> Event {
    Event::v2("docs")
        .at("GET", &format!("/docs/{name}"))
        .path_param("asset", name)
}

#[tokio::test]
async fn the_page_loads_only_same_origin_code_under_a_strict_policy() {
    let page = docs(Event::v2("docs").at("GET", "/docs")).await;
    assert_eq!(page.status(), 200);
    let policy = page.headers()["content-security-policy"].to_str().unwrap();
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(
            policy.contains(directive),
            "{directive} missing in {policy}"
        );
    }
    assert!(!policy.contains("unsafe"), "{policy}");
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    let html = std::str::from_utf8(page.body().as_ref()).unwrap();
    // Nothing from another origin, and no inline script the policy would block.
    assert!(!html.contains("://"), "{html}");
    assert!(!html.contains("<script>"), "{html}");
    for asset in [
        "docs/swagger-ui-bundle.js",
        "docs/swagger-ui.css",
        "docs/docs.js",
    ] {
        assert!(html.contains(asset), "{asset} is not on the page");
    }
    let initializer = docs(asset_event("docs.js")).await;
    assert_eq!(initializer.status(), 200);
    let script = std::str::from_utf8(initializer.body().as_ref()).unwrap();
    assert!(script.contains("api/openapi.json") && script.contains("validatorUrl: null"));
}

#[tokio::test]
async fn assets_are_sent_gzip_compressed_or_plain_and_unknown_ones_are_404() {
    let dir = workspace_root().join("functions/docs/assets/swagger-ui-dist");
    for (name, _) in VENDORED {
        let original = std::fs::read(dir.join(name)).unwrap();

        let gzip = docs(asset_event(name).header("accept-encoding", "gzip, deflate, br")).await;
        assert_eq!(gzip.status(), 200);
        assert_eq!(gzip.headers()["content-encoding"], "gzip");
        assert_eq!(gzip.headers()["vary"], "accept-encoding");
        assert!(gzip.headers()["cache-control"]
            .to_str()
            .unwrap()
            .starts_with("public"));
        let compressed: &[u8] = gzip.body().as_ref();
        assert!(
            compressed.len() < original.len() / 3,
            "{name} is not compressed"
        );
        let mut inflated = Vec::new();
        flate2::read::GzDecoder::new(compressed)
            .read_to_end(&mut inflated)
            .unwrap();
        assert!(
            inflated == original,
            "{name} differs from the vendored file"
        );

        for encoding in [None, Some("identity"), Some("gzip;q=0, identity")] {
            let event = match encoding {
                Some(value) => asset_event(name).header("accept-encoding", value),
                None => asset_event(name).without_header("accept-encoding"),
            };
            let plain = docs(event).await;
            assert_eq!(plain.status(), 200);
            assert!(plain.headers().get("content-encoding").is_none());
            assert!(plain.body().as_ref() == original.as_slice(), "{name}");
        }
    }
    for unknown in ["index.html", "swagger-ui.css.map", "..", "LICENSE"] {
        let answer = api_tests::Answer::from_response(docs(asset_event(unknown)).await);
        answer.assert_error(404);
        assert_eq!(answer.body["detail"], "Not Found");
    }
}

/// Where the screenshot of the rendered page goes: the tests' output directory.
fn screenshot_path() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("docs-page.png")
}

fn chromium(args: &[&str], profile: &std::path::Path) -> std::process::Output {
    Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--hide-scrollbars",
            // Swagger UI renders after fetching the document: let the page settle.
            "--virtual-time-budget=20000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .expect("chromium is not installed: `make test` installs it (apt-get install chromium)")
}

/// `(METHOD, path)` of every operation Swagger UI rendered: each is a `div.opblock` whose
/// summary holds the method and a `data-path`.
fn rendered_operations(dom: &str) -> Vec<(String, String)> {
    let mut operations: Vec<(String, String)> = dom
        .split("<div class=\"opblock opblock-")
        .skip(1)
        .filter_map(|block| {
            let method = block.split('"').next()?.to_uppercase();
            let path = block.split("data-path=\"").nth(1)?.split('"').next()?;
            Some((method, path.to_owned()))
        })
        .collect();
    operations.sort();
    operations
}

#[test]
fn headless_chromium_renders_every_operation_from_the_served_page_offline() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let db = runtime.block_on(TestDb::new());
    let server = Served::start(&test_env(&db));
    // The first request makes cargo lambda watch build the docs function.
    assert_eq!(server.call("GET", "/docs", None, None).status, 200);
    let url = format!("{}/docs", server.base);
    let profile = std::env::temp_dir().join(format!("users-api-chromium-{}", std::process::id()));

    let dump = chromium(&["--dump-dom", &url], &profile);
    let dom = String::from_utf8_lossy(&dump.stdout);
    let mut expected = shared::http::openapi::routes();
    expected.sort();
    assert_eq!(
        rendered_operations(&dom),
        expected,
        "the page does not show every operation of the document:\n{dom}\n{}",
        String::from_utf8_lossy(&dump.stderr)
    );
    // The title and the document it read, from this origin.
    assert!(dom.contains("User management API"), "{dom}");
    assert!(
        dom.contains(&format!("{}/api/openapi.json", server.base)),
        "{dom}"
    );

    let screenshot = screenshot_path();
    let _ = std::fs::remove_file(&screenshot);
    let shot = chromium(
        &[
            "--window-size=1280,1800",
            &format!("--screenshot={}", screenshot.display()),
            &url,
        ],
        &profile,
    );
    let png = std::fs::read(&screenshot)
        .unwrap_or_else(|_| panic!("no screenshot: {}", String::from_utf8_lossy(&shot.stderr)));
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "{} bytes",
        png.len()
    );
    eprintln!("docs page screenshot: {}", screenshot.display());
    let _ = std::fs::remove_dir_all(&profile);

    // The docs function itself answered the page's three assets (its log has one line a request).
    let logs = server.logs();
    let asset_requests = logs
        .lines()
        .filter(|line| {
            line.contains("\"route\":\"GET /docs/{asset}\"") && line.contains("\"status\":200")
        })
        .count();
    assert!(
        asset_requests >= 3,
        "{asset_requests} asset requests:\n{logs}"
    );
}
