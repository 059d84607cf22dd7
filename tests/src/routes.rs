//! The routes as each place declares them: template.yaml's HTTP API events and the
//! `cargo lambda watch` router of the workspace Cargo.toml.

/// `(METHOD, path)` of every route `cargo lambda watch` serves with a function of the API, from
/// the workspace Cargo.toml (what it sends to `fallback` is in [`watch_fallbacks`]).
pub fn watch_routes() -> Vec<(String, String)> {
    let mut routes: Vec<(String, String)> = watch_router()
        .into_iter()
        .filter(|(_, _, function)| function != "fallback")
        .map(|(method, path, _)| (method.expect("method-specific routes"), path))
        .collect();
    routes.sort();
    routes
}

/// `(METHOD or None for every method, path)` that `cargo lambda watch` sends to `fallback`.
pub fn watch_fallbacks() -> Vec<(Option<String>, String)> {
    let mut routes: Vec<(Option<String>, String)> = watch_router()
        .into_iter()
        .filter(|(_, _, function)| function == "fallback")
        .map(|(method, path, _)| (method, path))
        .collect();
    routes.sort();
    routes
}

/// `(METHOD or None, path, function)` of every entry of the watch router.
fn watch_router() -> Vec<(Option<String>, String, String)> {
    let path = format!("{}/../Cargo.toml", env!("CARGO_MANIFEST_DIR"));
    let manifest: toml::Table = std::fs::read_to_string(path).unwrap().parse().unwrap();
    let router = manifest["workspace"]["metadata"]["lambda"]["watch"]["router"]
        .as_table()
        .unwrap();
    let mut entries = Vec::new();
    for (path, targets) in router {
        match targets {
            toml::Value::String(function) => entries.push((None, path.clone(), function.clone())),
            targets => {
                for target in targets.as_array().expect("a function or method routes") {
                    entries.push((
                        Some(target["method"].as_str().unwrap().to_owned()),
                        path.clone(),
                        target["function"].as_str().unwrap().to_owned(),
                    ));
                }
            }
        }
    }
    entries
}

/// `(METHOD, path)` of every HTTP API event in template.yaml.
pub fn template_routes() -> Vec<(String, String)> {
    let path = format!("{}/../template.yaml", env!("CARGO_MANIFEST_DIR"));
    let template = std::fs::read_to_string(path).unwrap();
    let mut routes = Vec::new();
    let mut pending_path: Option<String> = None;
    for line in template.lines().map(str::trim) {
        if let Some(path) = line.strip_prefix("Path: ") {
            pending_path = Some(path.trim().to_owned());
        } else if let Some(method) = line.strip_prefix("Method: ") {
            let path = pending_path
                .take()
                .expect("Method: follows Path: in every event");
            routes.push((method.trim().to_uppercase(), path));
        }
    }
    routes.sort();
    routes
}
