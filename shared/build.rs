//! Compiles in only the lines of `template.yaml` that the route table reads (`Path:` and
//! `Method:`), not the whole template: every function embeds the table, and the template's
//! alarms, policies and comments would cost each zip some 20 KB.

use std::io::Write;
use std::path::PathBuf;

fn main() {
    let template = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap())
        .join("..")
        .join("template.yaml");
    println!("cargo:rerun-if-changed={}", template.display());
    let text = std::fs::read_to_string(&template).expect("template.yaml beside shared/");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("template-routes.yaml");
    let mut file = std::fs::File::create(out).unwrap();
    for line in text.lines() {
        let key = line.trim_start();
        if key.starts_with("Path: ") || key.starts_with("Method: ") {
            writeln!(file, "{key}").unwrap();
        }
    }
}
