use std::io;
use std::path::{Path, PathBuf};

use super::{OutsideRepo, Source, confine};

/// The files on disk under the repo root, as `.gitignore` leaves them.
///
/// The repo boundary: a path that climbs out with `..`, is absolute, or goes
/// through a symbolic link to something outside the root (or into `.git`)
/// is never read. A symlink to a file inside the repo is listed and read like
/// that file; a symlink to a directory inside the repo is entered when a path
/// or a directory listing goes through it (not by the whole-tree walk, which
/// lists each file once, under its own name). Git trees
/// (`source/git.rs`) follow the same rules, so every view agrees.
#[derive(Debug, Clone)]
pub struct WorkTree {
    root: PathBuf,
    /// The whole tree's files and links out, walked once per run.
    walked: std::sync::OnceLock<Walked>,
    canonical_root: std::sync::OnceLock<PathBuf>,
    /// Whether any symbolic link lies under the root (ignored files too).
    any_link: std::sync::OnceLock<bool>,
    /// The git index's trusted entries, read on the first `known_blob`.
    index: std::sync::OnceLock<Option<super::index_stat::IndexStat>>,
}

impl WorkTree {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        WorkTree {
            root: root.into(),
            walked: std::sync::OnceLock::new(),
            canonical_root: std::sync::OnceLock::new(),
            any_link: std::sync::OnceLock::new(),
            index: std::sync::OnceLock::new(),
        }
    }

    fn walk_root(&self) -> anyhow::Result<&Walked> {
        if let Some(walked) = self.walked.get() {
            return Ok(walked);
        }
        let walked = self.walk_all(&self.root)?;
        Ok(self.walked.get_or_init(|| walked))
    }

    /// Whether the tree may hold a symbolic link. A check of a few files
    /// asks this before anything needs the whole walk: the scan reads only
    /// directory entries (their type, no `stat`, no ignore rules, stops at
    /// the first link), so a tree without links is never walked for its
    /// links. It sees ignored files too: a superset of the walk's links.
    fn may_have_links(&self) -> bool {
        if let Some(walked) = self.walked.get() {
            return walked.has_links;
        }
        *self.any_link.get_or_init(|| link_under(&self.root))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where `path` may be read on disk: `Ok(None)` when it does not exist
    /// here, an [`OutsideRepo`] error when it leads outside.
    fn locate(&self, path: &str) -> io::Result<Option<PathBuf>> {
        let rel = confine(path).map_err(|_| OutsideRepo::error(path))?;
        if rel.split('/').any(|s| s == ".git") {
            return Err(OutsideRepo::error(path));
        }
        let root = match self.canonical_root.get() {
            Some(root) => root.clone(),
            None => match self.root.canonicalize() {
                Ok(root) => self.canonical_root.get_or_init(|| root).clone(),
                Err(_) => return Ok(None),
            },
        };
        let segments: Vec<&str> = rel.split('/').filter(|s| !s.is_empty()).collect();
        let mut here = root.clone();
        for (i, segment) in segments.iter().enumerate() {
            here.push(segment);
            let meta = match std::fs::symlink_metadata(&here) {
                Ok(m) => m,
                Err(_) => return Ok(None),
            };
            if !meta.file_type().is_symlink() {
                continue;
            }
            let inside = here.canonicalize().ok().and_then(|target| {
                let rel = target.strip_prefix(&root).ok()?;
                (!rel.components().any(|c| c.as_os_str() == ".git")).then_some(target.clone())
            });
            let Some(target) = inside else {
                // A dangling link whose target is outside is refused too:
                // nothing tells it apart from one that points at a secret.
                if here.canonicalize().is_err() && !points_outside(&here, &root) {
                    return Ok(None);
                }
                return Err(OutsideRepo::error(path));
            };
            // A link to a directory inside the repo is entered, as Ansible
            // and Puppet enter it; the rest of the path goes on from there.
            if i + 1 == segments.len() {
                return Ok((target.is_file() || target.is_dir()).then_some(target));
            }
            if !target.is_dir() {
                return Ok(None);
            }
            here = target;
        }
        Ok(Some(here))
    }

    /// Repo-relative paths of the files under `start`, as `.gitignore` leaves them.
    fn walk(&self, start: &Path) -> anyhow::Result<Vec<String>> {
        Ok(self.walk_all(start)?.files)
    }

    /// The files under `start` and, apart, the symlinks that lead outside.
    fn walk_all(&self, start: &Path) -> anyhow::Result<Walked> {
        // The `ignore` crate walks like ripgrep: .gitignore, .ignore and git's
        // exclude files are honoured, with or without a git repository.
        let walker = ignore::WalkBuilder::new(start)
            .hidden(false)
            .require_git(false)
            .follow_links(false)
            .filter_entry(|e| e.file_name() != ".git")
            .build();
        let mut files = Vec::new();
        let mut outside = Vec::new();
        let mut has_links = false;
        for entry in walker {
            let entry = entry?;
            let Some(kind) = entry.file_type() else {
                continue;
            };
            if !kind.is_file() && !kind.is_symlink() {
                continue;
            }
            if let Some(rel) = relative(entry.path(), &self.root) {
                // A symlink is listed when `read` would read it: its target
                // is a file inside the repo.
                if kind.is_symlink() {
                    has_links = true;
                    match self.locate(&rel) {
                        // A link to a directory is walked only when asked for.
                        Ok(Some(target)) if target.is_file() => {}
                        Err(e) if OutsideRepo::is(&e) => {
                            outside.push(rel);
                            continue;
                        }
                        _ => continue,
                    }
                }
                files.push(rel);
            }
        }
        files.sort();
        outside.sort();
        Ok(Walked {
            files,
            outside,
            has_links,
        })
    }
}

/// What one walk of a directory found.
#[derive(Debug, Clone)]
struct Walked {
    files: Vec<String>,
    /// Symlinks that lead outside the repo.
    outside: Vec<String>,
    /// Whether any symlink was seen (inside or out).
    has_links: bool,
}

/// `path` relative to `root` as a repo path. The walker joins clean names
/// onto `root`, so the text after `root/` is that path already; anything
/// else takes the general way.
fn relative(path: &Path, root: &Path) -> Option<String> {
    let fast = path
        .to_str()
        .zip(root.to_str())
        .and_then(|(p, r)| p.strip_prefix(r)?.strip_prefix('/'))
        .filter(|rel| super::is_normal(rel));
    match fast {
        Some(rel) => Some(rel.to_owned()),
        None => path.strip_prefix(root).ok().map(super::slash_path),
    }
}

/// Whether a symbolic link lies under `dir` (`.git` excluded, as the walk
/// excludes it); `true` when a directory cannot be read, so the caller
/// falls back to the walk.
///
/// Reading a directory is kernel work on one core: breadth first until
/// there are [`SCAN_SHARES`] directories, whose subtrees are then scanned in
/// parallel (the answer is the same: any link, or any unreadable entry).
fn link_under(dir: &Path) -> bool {
    use rayon::prelude::*;
    let mut frontier = vec![dir.to_path_buf()];
    while !frontier.is_empty() && frontier.len() < SCAN_SHARES {
        let mut next = Vec::new();
        for dir in &frontier {
            if link_in(dir, &mut next) {
                return true;
            }
        }
        frontier = next;
    }
    frontier.par_iter().any(|dir| {
        let mut pending = vec![dir.clone()];
        while let Some(dir) = pending.pop() {
            if link_in(&dir, &mut pending) {
                return true;
            }
        }
        false
    })
}

/// Directories enough to share a scan out over the cores.
const SCAN_SHARES: usize = 8;

/// Whether `dir` itself holds a symbolic link (`.git` excluded) or cannot
/// be read; its subdirectories are added to `subdirs`.
fn link_in(dir: &Path, subdirs: &mut Vec<std::path::PathBuf>) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return true;
    };
    for entry in entries {
        let Ok(entry) = entry else {
            return true;
        };
        let kind = entry.file_type();
        // A file is neither a link nor a directory to enter: its name,
        // a fresh allocation, is not needed (most entries are files).
        if matches!(&kind, Ok(k) if !k.is_symlink() && !k.is_dir()) {
            continue;
        }
        if entry.file_name() == ".git" {
            continue;
        }
        match kind {
            Ok(kind) if kind.is_symlink() => return true,
            Ok(kind) if kind.is_dir() => subdirs.push(entry.path()),
            Ok(_) => {}
            Err(_) => return true,
        }
    }
    false
}

/// Whether a symlink's own text points outside `root` (for dangling links).
fn points_outside(link: &Path, root: &Path) -> bool {
    let Ok(text) = std::fs::read_link(link) else {
        return true;
    };
    let Some(dir) = link.parent().and_then(|d| d.strip_prefix(root).ok()) else {
        return true;
    };
    if text.is_absolute() {
        return true;
    }
    let joined = dir.join(&text);
    confine(&joined.to_string_lossy()).is_err()
}

impl Source for WorkTree {
    fn read(&self, path: &str) -> io::Result<Option<Vec<u8>>> {
        let Some(full) = self.locate(path)? else {
            return Ok(None);
        };
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

    fn known_blob(&self, path: &str) -> Option<([u8; 20], u64)> {
        let index = self.index.get_or_init(|| {
            let files = self.walk_root().ok()?;
            super::index_stat::IndexStat::load(&self.root, &files.files)
        });
        let known = index.as_ref()?.blob(path)?;
        Some((known.id, known.size))
    }

    fn list(&self) -> anyhow::Result<Vec<String>> {
        Ok(self.walk_root()?.files.clone())
    }

    fn label(&self) -> String {
        "working tree".into()
    }

    fn resolves_outside(&self, path: &str) -> bool {
        matches!(self.locate(path), Err(e) if OutsideRepo::is(&e))
    }

    fn links_outside(&self) -> Vec<String> {
        if !self.may_have_links() {
            return Vec::new();
        }
        self.walk_root()
            .map(|w| w.outside.clone())
            .unwrap_or_default()
    }

    fn start_link_scan(&self) {
        let _ = self.may_have_links();
    }

    fn has_links(&self) -> bool {
        // Ignored files are not walked: an ignored link still reads through
        // `locate`, which refuses one that leads outside.
        self.may_have_links() && self.walk_root().map_or(true, |w| w.has_links)
    }

    fn real_path(&self, path: &str) -> Option<String> {
        let found = self.locate(path).ok()??;
        let root = self.canonical_root.get()?;
        let rel = found.strip_prefix(root).ok()?;
        Some(super::slash_path(rel))
    }

    fn list_dir(&self, dir: &str) -> anyhow::Result<Vec<String>> {
        // Only the directory is walked, not the whole tree; one reached
        // through a link inside the repo is walked under the name asked for.
        match (self.locate(dir), confine(dir)) {
            (Ok(Some(found)), Ok(rel)) if found.is_dir() => self.walk(&self.root.join(rel)),
            _ => Ok(Vec::new()),
        }
    }

    fn dir_exists(&self, dir: &str) -> anyhow::Result<bool> {
        Ok(matches!(self.locate(dir), Ok(Some(d)) if d.is_dir()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tree of `top` directories, each with two levels below it and a
    /// file in every directory: more directories than [`SCAN_SHARES`], so
    /// the scan shares them out.
    fn tree(top: usize) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..top {
            let deep = dir.path().join(format!("config/team-{i}/svc/v1"));
            std::fs::create_dir_all(&deep).unwrap();
            for d in [deep.as_path(), deep.parent().unwrap()] {
                std::fs::write(d.join("a.yaml"), "a: 1\n").unwrap();
            }
        }
        std::fs::create_dir_all(dir.path().join(".git/refs")).unwrap();
        dir
    }

    #[test]
    fn the_link_scan_finds_a_link_at_any_depth_and_none_in_git() {
        let dir = tree(SCAN_SHARES * 3);
        assert!(!link_under(dir.path()));
        // Links under `.git` are not the tree's, wherever that directory is.
        std::os::unix::fs::symlink("/", dir.path().join(".git/refs/out")).unwrap();
        std::fs::create_dir_all(dir.path().join("config/team-3/.git")).unwrap();
        std::os::unix::fs::symlink("/", dir.path().join("config/team-3/.git/out")).unwrap();
        assert!(!link_under(dir.path()));
        // One link, dangling, in the deepest directory of the last subtree.
        let last = format!("config/team-{}/svc/v1/link.yaml", SCAN_SHARES * 3 - 1);
        std::os::unix::fs::symlink("missing.yaml", dir.path().join(last)).unwrap();
        assert!(link_under(dir.path()));
        // Near the top, before the scan shares out.
        let dir = tree(2);
        assert!(!link_under(dir.path()));
        std::os::unix::fs::symlink("config", dir.path().join("config/team-1/up")).unwrap();
        assert!(link_under(dir.path()));
    }
}
