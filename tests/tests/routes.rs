//! The routes of template.yaml (AWS), of the cargo lambda watch router (local) and of the
//! OpenAPI document are one set, so they cannot drift apart.

use api_tests::{template_routes, watch_routes};

const DOCS_ROUTES: [(&str, &str); 2] = [("GET", "/api/openapi.json"), ("GET", "/docs")];

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
    assert_eq!(watch.len(), 13);
    let mut unique = watch.clone();
    unique.dedup();
    assert_eq!(unique, watch);
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
