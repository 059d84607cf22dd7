//! Compresses the Swagger UI files the docs function serves (vendored under assets/, see its
//! README) once, at build time: the function embeds the gzip bytes and sends them as they are.

use std::io::Write;
use std::path::Path;

const ASSETS: [&str; 2] = [
    "assets/swagger-ui-dist/swagger-ui-bundle.js",
    "assets/swagger-ui-dist/swagger-ui.css",
];

fn main() {
    let out_dir = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    for asset in ASSETS {
        println!("cargo::rerun-if-changed={asset}");
        let bytes = std::fs::read(asset).unwrap_or_else(|error| panic!("{asset}: {error}"));
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(&bytes).expect("compressing in memory");
        let compressed = encoder.finish().expect("compressing in memory");
        let name = Path::new(asset).file_name().unwrap().to_str().unwrap();
        std::fs::write(Path::new(&out_dir).join(format!("{name}.gz")), compressed)
            .expect("writing OUT_DIR");
    }
}
