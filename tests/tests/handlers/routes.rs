//! The routes of template.yaml (AWS), of the cargo lambda watch router (local) and of the
//! OpenAPI document are one set, so they cannot drift apart.

use api_tests::{template_routes, watch_fallbacks, watch_routes, Answer, Event};

/// The pages and the document itself, which the document does not describe.
const DOCS_ROUTES: [(&str, &str); 5] = [
    ("GET", "/api/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/{asset}"),
    ("GET", "/console"),
    ("GET", "/console/{asset}"),
];

#[test]
fn template_router_and_openapi_document_serve_the_same_routes() {
    let template = template_routes();
    let watch = watch_routes();
    assert_eq!(
        template, watch,
        "template.yaml and Cargo.toml's router differ"
    );

    let mut documented = shared::http::openapi::routes();
    documented.extend(
        DOCS_ROUTES
            .iter()
            .map(|(m, p)| (m.to_string(), p.to_string())),
    );
    documented.sort();
    assert_eq!(
        documented, watch,
        "the OpenAPI document and the router differ"
    );

    // Every route of the contract, once.
    assert_eq!(watch.len(), 32);
    let mut unique = watch.clone();
    unique.dedup();
    assert_eq!(unique, watch);
}

#[test]
fn what_no_route_takes_goes_to_the_fallback_in_aws_and_under_watch() {
    // The fallback knows the routes from the template compiled into it.
    let table: Vec<(String, String)> = shared::http::routes::table()
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(table, template_routes());

    // In AWS: the fallback function is the $default route (an HttpApi event with no path).
    let root = format!("{}/..", env!("CARGO_MANIFEST_DIR"));
    let template = std::fs::read_to_string(format!("{root}/template.yaml")).unwrap();
    let fallback = &template[template.find("  FallbackFunction:").unwrap()..];
    let fallback = &fallback[..fallback[3..]
        .find("\n  Migrate")
        .map_or(fallback.len(), |i| i + 3)];
    assert!(fallback.contains("Binary: fallback\n"), "{fallback}");
    assert!(fallback.contains("Type: HttpApi"), "{fallback}");
    assert!(
        !fallback.contains("Path:"),
        "the fallback must be $default: {fallback}"
    );

    // Under cargo lambda watch: every other method of each path, and every other path.
    let routes = watch_routes();
    let fallbacks = watch_fallbacks();
    let mut paths: Vec<&String> = routes.iter().map(|(_, path)| path).collect();
    paths.sort();
    paths.dedup();
    for path in paths {
        for method in shared::http::routes::METHODS {
            let served = routes.contains(&(method.to_owned(), path.clone()));
            let to_fallback = fallbacks.contains(&(Some(method.to_owned()), path.clone()));
            assert!(
                served != to_fallback,
                "{method} {path}: served by a function and by the fallback, or by neither"
            );
        }
    }
    for catch_all in ["/", "/{*path}"] {
        assert!(
            fallbacks.contains(&(None, catch_all.to_owned())),
            "{catch_all} must go to the fallback"
        );
    }
}

#[test]
fn every_function_has_a_template_resource_and_a_sample_event() {
    let root = format!("{}/..", env!("CARGO_MANIFEST_DIR"));
    let template = std::fs::read_to_string(format!("{root}/template.yaml")).unwrap();
    for entry in std::fs::read_dir(format!("{root}/functions")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(
            template.contains(&format!("Binary: {name}\n")),
            "{name} is not in template.yaml"
        );
        if name != "migrate" {
            let event = format!("{root}/events/{name}.json");
            assert!(std::path::Path::new(&event).exists(), "{event} is missing");
        }
    }
}

#[tokio::test]
async fn the_openapi_document_lists_exactly_the_served_routes() {
    let answer = Answer::from_response(docs::handler(Event::v2("docs").request()).await.unwrap());
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["openapi"].as_str().map(|v| &v[..2]), Some("3."));
    let mut documented: Vec<(String, String)> = Vec::new();
    for (path, item) in answer.body["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.push((method.to_uppercase(), path.clone()));
        }
    }
    documented.sort();
    let served: Vec<(String, String)> = api_tests::watch_routes()
        .into_iter()
        .filter(|(_, path)| {
            !path.starts_with("/docs")
                && !path.starts_with("/console")
                && path != "/api/openapi.json"
        })
        .collect();
    assert_eq!(documented, served);
    assert_eq!(shared::http::openapi::routes(), served);

    let html = Answer::from_response(
        docs::handler(Event::v2("docs").at("GET", "/docs").request())
            .await
            .unwrap(),
    );
    assert_eq!(html.status, 200);
    assert_eq!(
        html.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let page = html.body["raw"].as_str().unwrap();
    assert!(page.contains("swagger-ui") && page.contains("api/openapi.json"));
}
