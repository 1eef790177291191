//! Embeds a hash of the sources as `RINGMASTER_SOURCE_HASH`: the check
//! cache keys results on it, so a binary built from different code (even at
//! the same version number) never reads another build's results.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn main() {
    let inputs = ["src", "schemas", "rings", "Cargo.toml", "Cargo.lock"];
    let mut files = Vec::new();
    for input in inputs {
        println!("cargo:rerun-if-changed={input}");
        let path = Path::new(input);
        if path.is_dir() {
            files_under(path, &mut files);
        } else {
            files.push(path.to_path_buf());
        }
    }
    files.sort();
    let mut hasher = DefaultHasher::new();
    for file in &files {
        file.hash(&mut hasher);
        std::fs::read(file).unwrap_or_default().hash(&mut hasher);
    }
    println!(
        "cargo:rustc-env=RINGMASTER_SOURCE_HASH={:016x}",
        hasher.finish()
    );
}
