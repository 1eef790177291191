use std::io;
use std::path::{Path, PathBuf};

use super::Source;

/// The files on disk under the repo root, as `.gitignore` leaves them.
#[derive(Debug, Clone)]
pub struct WorkTree {
    root: PathBuf,
}

impl WorkTree {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        WorkTree { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
}

impl WorkTree {
    /// Repo-relative paths of the files under `start`, as `.gitignore` leaves them.
    fn walk(&self, start: &Path) -> anyhow::Result<Vec<String>> {
        // The `ignore` crate walks like ripgrep: .gitignore, .ignore and git's
        // exclude files are honoured, with or without a git repository.
        let walker = ignore::WalkBuilder::new(start)
            .hidden(false)
            .require_git(false)
            .filter_entry(|e| e.file_name() != ".git")
            .build();
        let mut files = Vec::new();
        for entry in walker {
            let entry = entry?;
            if !entry.file_type().is_some_and(|t| t.is_file()) {
                continue;
            }
            if let Ok(rel) = entry.path().strip_prefix(&self.root) {
                let rel: Vec<_> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect();
                files.push(rel.join("/"));
            }
        }
        files.sort();
        Ok(files)
    }
}

impl Source for WorkTree {
    fn read(&self, path: &str) -> io::Result<Option<Vec<u8>>> {
        let full = self.root.join(path);
        match std::fs::read(&full) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            // A directory where a file was expected reads as "not a file here".
            Err(_) if full.is_dir() => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn size(&self, path: &str) -> io::Result<Option<u64>> {
        match std::fs::metadata(self.root.join(path)) {
            Ok(meta) if meta.is_file() => Ok(Some(meta.len())),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn list(&self) -> anyhow::Result<Vec<String>> {
        self.walk(&self.root)
    }

    fn label(&self) -> String {
        "working tree".into()
    }

    fn list_dir(&self, dir: &str) -> anyhow::Result<Vec<String>> {
        // Only the directory is walked, not the whole tree.
        let start = self.root.join(dir.trim_end_matches('/'));
        if !start.is_dir() {
            return Ok(Vec::new());
        }
        self.walk(&start)
    }

    fn dir_exists(&self, dir: &str) -> anyhow::Result<bool> {
        Ok(self.root.join(dir).is_dir())
    }
}
