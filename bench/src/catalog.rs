//! The functions the bench measures: one per folder of `functions/`, with what template.yaml
//! deploys it as (its HTTP route, its memory size, whether it reaches the database). A new
//! function is measured, or named as not measured, without a change here.

use std::collections::HashMap;
use std::path::Path;

pub struct Function {
    /// The folder's name: the package, its binary and its `events/<name>.json`.
    pub name: String,
    /// `METHOD /path` of its first HttpApi event, `$default` for the catch-all route; `None` for
    /// a function no HTTP request reaches (migrate, rotate-signing-key).
    pub route: Option<String>,
    pub memory_mb: Option<u32>,
    /// Only functions in the VPC can reach the database.
    pub uses_database: bool,
}

impl Function {
    /// Reads answer a GET: they are cheap enough to time many more of.
    pub fn reads(&self) -> bool {
        self.route.as_deref().is_some_and(|r| r.starts_with("GET "))
    }
}

/// The functions of `workspace`, by name.
pub fn read(workspace: &Path) -> Vec<Function> {
    let template = std::fs::read_to_string(workspace.join("template.yaml"))
        .expect("template.yaml is readable");
    let mut deployed = deployed_functions(&template);
    let mut names: Vec<String> = std::fs::read_dir(workspace.join("functions"))
        .expect("functions/ is readable")
        .flatten()
        .filter(|entry| entry.path().join("Cargo.toml").is_file())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let found = deployed.remove(&name).unwrap_or_default();
            Function {
                route: found.route(),
                memory_mb: found.memory_mb,
                uses_database: found.in_vpc,
                name,
            }
        })
        .collect()
}

/// What template.yaml says of one function resource.
#[derive(Default)]
struct Deployed {
    memory_mb: Option<u32>,
    in_vpc: bool,
    /// Its HttpApi events' paths and methods, in the template's order.
    http_events: Vec<(Option<String>, Option<String>)>,
}

impl Deployed {
    fn route(&self) -> Option<String> {
        match self.http_events.first()? {
            (Some(path), Some(method)) => Some(format!("{method} {path}")),
            _ => Some("$default".to_owned()),
        }
    }
}

/// The function resources of `template` by binary name. A line read of the template's own
/// layout (resources indented two spaces, `Binary:` in each function's build metadata) rather
/// than a YAML parser, which would need a schema for CloudFormation's `!Ref` tags.
fn deployed_functions(template: &str) -> HashMap<String, Deployed> {
    let mut found = HashMap::new();
    let mut current: Option<(String, Deployed)> = None;
    for line in template.lines() {
        let text = line.trim();
        if text.starts_with('#') {
            continue;
        }
        let resource_starts =
            line.starts_with("  ") && !line.starts_with("   ") && text.ends_with(':');
        if resource_starts || !line.starts_with(' ') && !text.is_empty() {
            found.extend(current.take());
        }
        if let Some(binary) = text.strip_prefix("Binary: ") {
            current = Some((binary.to_owned(), Deployed::default()));
            continue;
        }
        let Some((_, function)) = current.as_mut() else {
            continue;
        };
        if let Some(size) = text.strip_prefix("MemorySize: ") {
            function.memory_mb = size.parse().ok();
        } else if text == "VpcConfig:" {
            function.in_vpc = true;
        } else if text == "Type: HttpApi" {
            function.http_events.push((None, None));
        } else if let (Some(path), Some(event)) =
            (text.strip_prefix("Path: "), function.http_events.last_mut())
        {
            event.0 = Some(path.to_owned());
        } else if let (Some(method), Some(event)) = (
            text.strip_prefix("Method: "),
            function.http_events.last_mut(),
        ) {
            event.1 = Some(method.to_owned());
        }
    }
    found.extend(current);
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_memory_and_the_vpc_come_from_each_function_resource() {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let functions = read(workspace);
        let find = |name: &str| functions.iter().find(|f| f.name == name).unwrap();
        assert_eq!(find("get-me").route.as_deref(), Some("GET /api/users/me"));
        assert!(find("get-me").reads() && find("get-me").uses_database);
        assert_eq!(
            find("login").route.as_deref(),
            Some("POST /api/users/login")
        );
        assert!(!find("login").reads());
        assert_eq!(find("docs").route.as_deref(), Some("GET /api/openapi.json"));
        assert!(!find("docs").uses_database);
        assert_eq!(find("docs").memory_mb, Some(128));
        assert_eq!(find("fallback").route.as_deref(), Some("$default"));
        assert_eq!(find("migrate").route, None);
        assert!(find("migrate").uses_database);
        assert_eq!(find("rotate-signing-key").route, None);
    }
}
