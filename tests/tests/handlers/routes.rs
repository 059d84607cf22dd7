//! The routes of template.yaml (AWS), of the cargo lambda watch router (local) and of the
//! OpenAPI document are one set, so they cannot drift apart.

use api_tests::{template_routes, watch_fallbacks, watch_routes};

const DOCS_ROUTES: [(&str, &str); 3] = [
    ("GET", "/api/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/{asset}"),
];

#[test]
fn template_router_and_openapi_document_serve_the_same_routes() {
    let template = template_routes();
    let watch = watch_routes();
    assert_eq!(
        template, watch,
        "template.yaml and Cargo.toml's router differ"
    );

    let mut documented = shared::openapi::routes();
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
    assert_eq!(watch.len(), 20);
    let mut unique = watch.clone();
    unique.dedup();
    assert_eq!(unique, watch);
}

#[test]
fn what_no_route_takes_goes_to_the_fallback_in_aws_and_under_watch() {
    // The fallback knows the routes from the template compiled into it.
    let table: Vec<(String, String)> = shared::routes::table()
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
        for method in shared::routes::METHODS {
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
