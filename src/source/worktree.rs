use std::io;
use std::path::{Path, PathBuf};

use super::{Capped, OutsideRepo, Source, confine};

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
    /// The root directory, held open for [`WorkTree::open_beneath`].
    #[cfg(target_os = "linux")]
    root_dir: std::sync::OnceLock<Option<std::sync::Arc<std::os::fd::OwnedFd>>>,
}

impl WorkTree {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        WorkTree {
            root: root.into(),
            walked: std::sync::OnceLock::new(),
            canonical_root: std::sync::OnceLock::new(),
            any_link: std::sync::OnceLock::new(),
            index: std::sync::OnceLock::new(),
            #[cfg(target_os = "linux")]
            root_dir: std::sync::OnceLock::new(),
        }
    }

    /// [`Source::read_capped`] in one open: `path` is opened beneath the
    /// root with the kernel refusing, for the whole path, any symbolic link
    /// and any step out of the root (`openat2` with `RESOLVE_BENEATH |
    /// RESOLVE_NO_SYMLINKS`), then the open file is asked its size. It
    /// answers only for a regular file reached through real directories
    /// under the root, the one case where `locate` finds nothing to refuse
    /// or to follow and reads `root/path` itself; `None` for anything else
    /// (a link anywhere on the way, no such file, not a file, a kernel
    /// without `openat2`, an error), which then takes the way through
    /// `locate`, so refusals and errors are what they were.
    #[cfg(target_os = "linux")]
    fn open_beneath(&self, path: &str, limit: u64) -> Option<Capped> {
        use rustix::fs::{Mode, OFlags, ResolveFlags};
        use std::io::Read as _;
        // As written, so `size`'s `root/path` and `locate`'s path agree.
        if !super::is_normal(path) || path.split('/').any(|s| s == ".." || s == ".git") {
            return None;
        }
        let root = self
            .root_dir
            .get_or_init(|| {
                rustix::fs::open(
                    &self.root,
                    OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .ok()
                .map(std::sync::Arc::new)
            })
            .as_ref()?;
        let fd = rustix::fs::openat2(
            root.as_ref(),
            path,
            // Non-blocking: opening a FIFO must not wait here (it is not
            // a regular file, so the usual way decides what to do).
            OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK,
            Mode::empty(),
            ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
        )
        .ok()?;
        let mut file = std::fs::File::from(fd);
        let meta = file.metadata().ok()?;
        if !meta.is_file() {
            return None;
        }
        if meta.len() > limit {
            return Some(Capped::Over(meta.len()));
        }
        let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).ok()?);
        // Through `take`: `File::read_to_end` would ask the size again
        // (`statx` and `lseek`); it is known, and the buffer sized for it.
        (&mut file).take(u64::MAX).read_to_end(&mut bytes).ok()?;
        Some(Capped::Bytes(bytes))
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
fn link_under(dir: &Path) -> bool {
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return true;
        };
        for entry in entries {
            let Ok(entry) = entry else {
                return true;
            };
            if entry.file_name() == ".git" {
                continue;
            }
            match entry.file_type() {
                Ok(kind) if kind.is_symlink() => return true,
                Ok(kind) if kind.is_dir() => pending.push(entry.path()),
                Ok(_) => {}
                Err(_) => return true,
            }
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

    fn read_capped(&self, path: &str, limit: u64) -> io::Result<Option<Capped>> {
        #[cfg(target_os = "linux")]
        if let Some(found) = self.open_beneath(path, limit) {
            return Ok(Some(found));
        }
        super::size_then_read(self, path, limit)
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

    /// A repo with a file, a nested file, links in and out, a `.git` and a
    /// file outside it; returns (outside dir, repo).
    fn fixture() -> (tempfile::TempDir, PathBuf) {
        let outside = tempfile::tempdir().expect("temp dir");
        let repo = outside.path().join("repo");
        std::fs::create_dir_all(repo.join("config/team")).expect("dirs");
        std::fs::create_dir_all(repo.join(".git")).expect(".git");
        std::fs::write(repo.join("a.yaml"), "a: 1\n").expect("write");
        std::fs::write(repo.join("config/team/b.yaml"), "b: 2\n").expect("write");
        std::fs::write(repo.join("big.yaml"), "x".repeat(100)).expect("write");
        std::fs::write(repo.join(".git/config"), "[core]\n").expect("write");
        std::fs::write(outside.path().join("secret.yaml"), "token: s3cret\n").expect("write");
        #[cfg(unix)]
        {
            use std::os::unix::fs::symlink;
            symlink("a.yaml", repo.join("link.yaml")).expect("link");
            symlink("config/team", repo.join("team")).expect("dir link");
            symlink("../secret.yaml", repo.join("out.yaml")).expect("link out");
            symlink("..", repo.join("up")).expect("link up");
            symlink(".git", repo.join("git")).expect("link to .git");
        }
        (outside, repo)
    }

    const PATHS: &[&str] = &[
        "a.yaml",
        "config/team/b.yaml",
        "big.yaml",
        "missing.yaml",
        "config",
        "link.yaml",
        "team/b.yaml",
        "out.yaml",
        "up/secret.yaml",
        "git/config",
        ".git/config",
        "config/../a.yaml",
        "./a.yaml",
        "../secret.yaml",
        "/etc/passwd",
    ];

    fn shown(found: &io::Result<Option<Capped>>) -> String {
        match found {
            Ok(found) => format!("{found:?}"),
            Err(e) => format!("error {:?}: {e}", OutsideRepo::is(e)),
        }
    }

    /// The one-open way answers what `size` then `read` answer, refusals
    /// and errors included, for plain files, links in and out and paths
    /// that climb.
    #[test]
    fn read_capped_answers_as_size_then_read() {
        let (_outside, repo) = fixture();
        let tree = WorkTree::new(&repo);
        for path in PATHS {
            for limit in [10, 1000] {
                assert_eq!(
                    shown(&tree.read_capped(path, limit)),
                    shown(&super::super::size_then_read(&tree, path, limit)),
                    "{path} (limit {limit})"
                );
            }
        }
        assert_eq!(
            tree.read_capped("big.yaml", 10).ok().flatten(),
            Some(Capped::Over(100))
        );
        assert!(
            tree.read_capped("out.yaml", 1000)
                .is_err_and(|e| OutsideRepo::is(&e))
        );
    }

    /// The kernel does the refusing: the one open answers only for a file
    /// reached without any link and without leaving the root; the rest
    /// goes the way through `locate`.
    #[cfg(target_os = "linux")]
    #[test]
    fn the_one_open_never_goes_through_a_link_or_out_of_the_root() {
        let (_outside, repo) = fixture();
        let tree = WorkTree::new(&repo);
        for path in ["a.yaml", "config/team/b.yaml"] {
            let found = tree.open_beneath(path, 1000);
            let Some(Capped::Bytes(bytes)) = found else {
                // A kernel without `openat2` (before 5.6) or a sandbox
                // refusing it: everything takes the other way.
                assert!(
                    rustix::fs::openat2(
                        rustix::fs::CWD,
                        ".",
                        rustix::fs::OFlags::PATH,
                        rustix::fs::Mode::empty(),
                        rustix::fs::ResolveFlags::BENEATH,
                    )
                    .is_err()
                );
                return;
            };
            assert_eq!(Some(bytes), std::fs::read(repo.join(path)).ok(), "{path}");
        }
        for path in [
            "link.yaml",
            "team/b.yaml",
            "out.yaml",
            "up/secret.yaml",
            "git/config",
            ".git/config",
            "config/../a.yaml",
            "../secret.yaml",
            "/etc/passwd",
            "config",
            "missing.yaml",
        ] {
            assert_eq!(tree.open_beneath(path, 1000), None, "{path}");
        }
    }
}
