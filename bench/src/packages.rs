//! The deployment packages' sizes: the arm64 zips `make build` leaves under target/lambda.

/// Each function's `bootstrap.zip` in bytes, by name; empty when nothing was built.
pub fn measure() -> Vec<(String, u64)> {
    let dir = crate::target_dir().join("lambda");
    let mut sizes = Vec::new();
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for entry in entries.flatten() {
            let zip = entry.path().join("bootstrap.zip");
            if let Ok(meta) = std::fs::metadata(&zip) {
                sizes.push((entry.file_name().to_string_lossy().to_string(), meta.len()));
            }
        }
    }
    sizes.sort();
    sizes
}
