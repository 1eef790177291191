//! Where file bytes come from: the working tree, the git index, or a git
//! revision's tree. Loading bytes is kept apart from parsing them, so every
//! command works the same on any of the three.
//!
//! Paths are repo-relative with forward slashes throughout.

mod git;
mod memory;
mod worktree;

use std::io;

pub use git::{GitIndex, GitRevision, changed_paths, ignored_in_worktree, open_repository};
pub use memory::MemorySource;
pub use worktree::WorkTree;

/// A read-only view of a config repo's files.
pub trait Source: Send + Sync {
    /// The bytes of a file, or `None` when the file does not exist here.
    fn read(&self, path: &str) -> io::Result<Option<Vec<u8>>>;

    /// The size in bytes of a file, or `None` when it does not exist here.
    /// Lets a caller refuse a file over its size limit without reading it
    /// (a 1 GB file must not cost 1 GB of memory to be refused).
    fn size(&self, path: &str) -> io::Result<Option<u64>> {
        Ok(self.read(path)?.map(|bytes| bytes.len() as u64))
    }

    /// Every file in this view (working tree: not ignored by `.gitignore`).
    fn list(&self) -> anyhow::Result<Vec<String>>;

    /// Says which view this is, for messages: "working tree", "index", "HEAD (1a2b3c4)".
    fn label(&self) -> String;

    /// The files under a directory (recursively), repo-relative.
    fn list_dir(&self, dir: &str) -> anyhow::Result<Vec<String>> {
        let prefix = format!("{}/", dir.trim_end_matches('/'));
        Ok(self
            .list()?
            .into_iter()
            .filter(|p| p.starts_with(&prefix))
            .collect())
    }

    /// Whether a directory exists in this view (a prefix of some file).
    fn dir_exists(&self, dir: &str) -> anyhow::Result<bool> {
        let prefix = format!("{}/", dir.trim_end_matches('/'));
        Ok(self.list()?.iter().any(|p| p.starts_with(&prefix)))
    }
}

/// Normalises a user-written repo-relative path: `./a//b/` → `a/b`.
pub fn normalize(path: &str) -> String {
    path.split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect::<Vec<_>>()
        .join("/")
}
