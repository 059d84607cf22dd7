//! The API's routes as API Gateway applies them, for the requests no route takes: a path the API
//! does not have is 404, a path it has with a method it does not serve is 405 with `Allow`.
//!
//! The table is read from `template.yaml`, its route lines compiled in: the template is what API Gateway routes
//! by, so the answers cannot drift from the deployed routes, and a new route costs no line here.
//! Only the fallback function and the rare request whose path parameter names a fixed path
//! (`DELETE /api/users/me`) look at it.

use std::sync::OnceLock;

/// The `Path:` and `Method:` lines of `template.yaml`, in order (shared/build.rs keeps only those).
const TEMPLATE: &str = include_str!(concat!(env!("OUT_DIR"), "/template-routes.yaml"));

/// The order methods are listed in, in `Allow` and in the watch router.
pub const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// What the routing table says about a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Routing {
    /// A route of the table takes it.
    Routed,
    /// No route has this path.
    NotFound,
    /// The path is a route's, the method is not: the methods it serves, for `Allow`.
    MethodNotAllowed(Vec<&'static str>),
}

/// `(METHOD, path)` of every HTTP API route in `template.yaml`, sorted; paths as written there,
/// with `{name}` parameters. The `$default` route (an event without a path) is not in it.
pub fn table() -> &'static [(&'static str, &'static str)] {
    static TABLE: OnceLock<Vec<(&'static str, &'static str)>> = OnceLock::new();
    TABLE.get_or_init(|| parse_template(TEMPLATE))
}

/// Reads the `Path:` and `Method:` of every event of a SAM template (the template's own layout:
/// one key per line, `Method` after `Path`).
pub fn parse_template(template: &'static str) -> Vec<(&'static str, &'static str)> {
    let mut routes = Vec::new();
    let mut pending_path = None;
    for line in template.lines().map(str::trim) {
        if let Some(path) = line.strip_prefix("Path: ") {
            pending_path = Some(path.trim());
        } else if let Some(method) = line.strip_prefix("Method: ") {
            if let (Some(path), Some(method)) = (pending_path.take(), canonical(method.trim())) {
                routes.push((method, path));
            }
        }
    }
    routes.sort();
    routes
}

fn canonical(method: &str) -> Option<&'static str> {
    METHODS
        .iter()
        .find(|known| known.eq_ignore_ascii_case(method))
        .copied()
}

/// How many fixed segments a route pattern has when it matches `path`, or `None` when it does not:
/// segment by segment, a `{name}` takes any non-empty segment.
fn specificity(pattern: &str, path: &str) -> Option<usize> {
    let mut fixed = 0;
    let mut pattern_segments = pattern.split('/');
    let mut path_segments = path.split('/');
    loop {
        match (pattern_segments.next(), path_segments.next()) {
            (None, None) => return Some(fixed),
            (Some(p), Some(s)) if p.starts_with('{') && p.ends_with('}') => {
                if s.is_empty() {
                    return None;
                }
            }
            (Some(p), Some(s)) if p == s => fixed += 1,
            _ => return None,
        }
    }
}

/// Where `method path` goes in `table`: as API Gateway picks routes, the pattern with the most
/// fixed segments that matches the path decides (so `/api/users/me` is its own path, not an
/// `{id}`).
pub fn resolve_in(table: &[(&'static str, &'static str)], method: &str, path: &str) -> Routing {
    let mut best: Option<usize> = None;
    let mut allowed: Vec<&'static str> = Vec::new();
    for (route_method, pattern) in table {
        let Some(fixed) = specificity(pattern, path) else {
            continue;
        };
        if best.is_some_and(|best| fixed < best) {
            continue;
        }
        if best.is_some_and(|best| fixed > best) {
            allowed.clear();
        }
        best = Some(fixed);
        allowed.push(route_method);
    }
    if best.is_none() {
        return Routing::NotFound;
    }
    if allowed.iter().any(|m| m.eq_ignore_ascii_case(method)) {
        return Routing::Routed;
    }
    allowed.sort_by_key(|m| METHODS.iter().position(|known| known == m));
    allowed.dedup();
    Routing::MethodNotAllowed(allowed)
}

/// [`resolve_in`] the template's table.
pub fn resolve(method: &str, path: &str) -> Routing {
    resolve_in(table(), method, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: [(&str, &str); 6] = [
        ("DELETE", "/api/users/{id}"),
        ("GET", "/api/users"),
        ("GET", "/api/users/me"),
        ("GET", "/api/users/{id}"),
        ("PATCH", "/api/users/{id}"),
        ("POST", "/api/users"),
    ];

    fn allow(methods: &[&'static str]) -> Routing {
        Routing::MethodNotAllowed(methods.to_vec())
    }

    #[test]
    fn routes_paths_and_methods_like_api_gateway() {
        let cases = [
            ("GET", "/api/users", Routing::Routed),
            ("POST", "/api/users", Routing::Routed),
            ("GET", "/api/users/7", Routing::Routed),
            ("GET", "/api/users/abc", Routing::Routed),
            ("GET", "/api/users/me", Routing::Routed),
            ("PUT", "/api/users", allow(&["GET", "POST"])),
            ("PUT", "/api/users/7", allow(&["GET", "PATCH", "DELETE"])),
            ("HEAD", "/api/users/7", allow(&["GET", "PATCH", "DELETE"])),
            // A fixed path is its own route, never an {id}.
            ("DELETE", "/api/users/me", allow(&["GET"])),
            ("PATCH", "/api/users/me", allow(&["GET"])),
            ("GET", "/api/users/", Routing::NotFound),
            ("GET", "/api/users/7/extra", Routing::NotFound),
            ("GET", "/api", Routing::NotFound),
            ("GET", "/", Routing::NotFound),
            ("GET", "", Routing::NotFound),
            ("GET", "/API/USERS", Routing::NotFound),
            ("DELETE", "/nothing/here", Routing::NotFound),
        ];
        for (method, path, expected) in cases {
            assert_eq!(
                resolve_in(&TABLE, method, path),
                expected,
                "{method} {path}"
            );
        }
    }

    #[test]
    fn the_template_table_has_every_route_and_no_default() {
        let table = table();
        assert!(table.contains(&("GET", "/api/users/me")));
        assert!(table.contains(&("DELETE", "/api/users/{id}")));
        assert!(table.iter().all(|(_, path)| path.starts_with('/')));
        assert_eq!(resolve("GET", "/api/users/me"), Routing::Routed);
        assert_eq!(resolve("GET", "/no/such/path"), Routing::NotFound);
    }
}
