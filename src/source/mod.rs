//! Where file bytes come from: the working tree, the git index, or a git
//! revision's tree. Loading bytes is kept apart from parsing them, so every
//! command works the same on any of the three.
//!
//! Paths are repo-relative with forward slashes throughout.

mod git;
mod index_stat;
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

    /// [`Source::size`], then [`Source::read`] unless the file is over
    /// `limit` bytes; a view that can do both at once (the working tree
    /// opens the file and asks the open file its size) overrides this.
    fn read_capped(&self, path: &str, limit: u64) -> io::Result<Option<Capped>> {
        size_then_read(self, path, limit)
    }

    /// The git blob id and size of `path` when something other than its
    /// bytes vouches for them (the git index's stat data, see
    /// `index_stat`), so a caller that needs only the id need not read and
    /// hash the file; `None` when nothing does.
    fn known_blob(&self, path: &str) -> Option<([u8; 20], u64)> {
        let _ = path;
        None
    }

    /// Every file in this view (working tree: not ignored by `.gitignore`).
    fn list(&self) -> anyhow::Result<Vec<String>>;

    /// Says which view this is, for messages: "working tree", "index", "HEAD (1a2b3c4)".
    fn label(&self) -> String;

    /// Whether `path` leads outside the repo: it climbs out with `..`, is
    /// absolute, or goes through a symbolic link whose target lies outside.
    /// `read` refuses such a path ([`OutsideRepo`]); this asks without reading.
    fn resolves_outside(&self, path: &str) -> bool {
        confine(path).is_err()
    }

    /// Symbolic links in this view that lead outside the repo. They are
    /// never listed by `list` nor read; this names them so a check can say so.
    fn links_outside(&self) -> Vec<String> {
        Vec::new()
    }

    /// Whether a file can be read at `path` (a layer probe: most probes
    /// miss, so this must not read the file).
    fn is_file(&self, path: &str) -> io::Result<bool> {
        Ok(self.size(path)?.is_some())
    }

    /// Whether this view holds any symbolic link at all; `false` lets a
    /// check of every path against links be skipped.
    fn has_links(&self) -> bool {
        true
    }

    /// Does now what [`Source::has_links`] and [`Source::links_outside`]
    /// will need first (a scan for links), so that it can run on another
    /// thread while the caller does other work; nothing by default.
    /// `memo_dir`: where the last scan that found no link may be
    /// remembered, with the stamps of the directories it read.
    fn start_link_scan(&self, _memo_dir: Option<&std::path::Path>) {}

    /// The repo-relative path `path` reads from once links inside the repo
    /// are followed (a file under a linked directory is its target's): a
    /// change to that file is a change to `path`. `None` when it leads
    /// nowhere or outside.
    fn real_path(&self, path: &str) -> Option<String> {
        confine(path).ok()
    }

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

/// What [`Source::read_capped`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Capped {
    Bytes(Vec<u8>),
    /// Over the limit, not read: the file's size.
    Over(u64),
}

/// [`Source::read_capped`] through [`Source::size`] and [`Source::read`]:
/// the size first (an error there is left to `read` to report).
fn size_then_read<S: Source + ?Sized>(
    source: &S,
    path: &str,
    limit: u64,
) -> io::Result<Option<Capped>> {
    if let Ok(Some(size)) = source.size(path)
        && size > limit
    {
        return Ok(Some(Capped::Over(size)));
    }
    Ok(source.read(path)?.map(Capped::Bytes))
}

/// A path that leads outside the repo. Its message names the path and never
/// anything of what lies there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{path}` resolves outside the repository; ringmaster never reads files outside the repo")]
pub struct OutsideRepo {
    pub path: String,
}

impl OutsideRepo {
    pub(crate) fn error(path: &str) -> io::Error {
        io::Error::new(
            io::ErrorKind::PermissionDenied,
            OutsideRepo {
                path: path.to_owned(),
            },
        )
    }

    /// Whether an I/O error is a refusal to leave the repo.
    pub fn is(error: &io::Error) -> bool {
        error
            .get_ref()
            .is_some_and(|e| e.downcast_ref::<OutsideRepo>().is_some())
    }
}

/// A repo-relative path with `.` and `..` resolved lexically (`a/../b` →
/// `b`), or [`OutsideRepo`] when it is absolute, holds a NUL byte, or climbs
/// above the root.
pub fn confine(path: &str) -> Result<String, OutsideRepo> {
    let outside = || OutsideRepo {
        path: path.to_owned(),
    };
    if path.starts_with('/') || path.contains('\0') {
        return Err(outside());
    }
    let mut parts: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                parts.pop().ok_or_else(outside)?;
            }
            s => parts.push(s),
        }
    }
    Ok(parts.join("/"))
}

/// A relative file-system path as a repo path: its parts joined with `/`.
pub fn slash_path(rel: &std::path::Path) -> String {
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Normalises a user-written repo-relative path: `./a//b/` → `a/b`.
pub fn normalize(path: &str) -> String {
    if is_normal(path) {
        return path.to_owned();
    }
    path.split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect::<Vec<_>>()
        .join("/")
}

/// [`normalize`] for an owned path: a path already normal (the common case)
/// is returned as it is, with no new allocation.
pub fn normalize_owned(path: String) -> String {
    if is_normal(&path) {
        path
    } else {
        normalize(&path)
    }
}

/// No empty and no `.` segment: what [`normalize`] would return unchanged.
pub(crate) fn is_normal(path: &str) -> bool {
    !path.is_empty() && path.split('/').all(|s| !s.is_empty() && s != ".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confine_resolves_dots_and_refuses_the_way_out() {
        assert_eq!(confine("./a//b/").as_deref(), Ok("a/b"));
        assert_eq!(confine("a/../b").as_deref(), Ok("b"));
        for out in ["..", "../x", "a/../../x", "/etc/passwd", "a\0b"] {
            assert!(confine(out).is_err(), "{out:?}");
        }
    }

    proptest::proptest! {
        /// The fast path changes nothing: an owned path normalizes as the
        /// borrowed one does.
        #[test]
        fn normalize_owned_is_normalize(path in "(/|\\.|a|bc|\\.\\.){0,8}") {
            proptest::prop_assert_eq!(normalize_owned(path.clone()), normalize(&path));
        }
    }

    proptest::proptest! {
        /// Whatever the input, a confined path is relative, has no `.`, `..`
        /// or empty segment, and so names something under the root.
        #[test]
        fn a_confined_path_never_leaves_the_root(
            segments in proptest::collection::vec("(\\.\\.|\\.|[a-z]{1,3}|)", 0..8),
            absolute in proptest::bool::ANY,
        ) {
            let path = format!("{}{}", if absolute { "/" } else { "" }, segments.join("/"));
            if let Ok(confined) = confine(&path) {
                proptest::prop_assert!(!absolute);
                proptest::prop_assert!(!confined.starts_with('/'));
                proptest::prop_assert!(confined
                    .split('/')
                    .all(|s| s != ".." && s != "." && (confined.is_empty() || !s.is_empty())));
            }
        }
    }

    #[test]
    fn memory_sources_refuse_paths_out_too() {
        let source = MemorySource::new(&[("a.yaml", "x: 1")]);
        assert!(source.read("b/../a.yaml").is_ok_and(|b| b.is_some()));
        let err = source.read("../a.yaml").expect_err("refused");
        assert!(OutsideRepo::is(&err));
    }
}
