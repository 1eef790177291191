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
        // At most one byte past the limit: a file growing while it is read
        // is over the limit, never read without bound.
        (&mut file)
            .take(limit.saturating_add(1))
            .read_to_end(&mut bytes)
            .ok()?;
        if bytes.len() as u64 > limit {
            return Some(Capped::Over(bytes.len() as u64));
        }
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
        *self.any_link.get_or_init(|| link_under(&self.root, None))
    }

    /// [`WorkTree::may_have_links`], answered by the memo in `memo_dir`
    /// when no directory of the tree changed since a scan found no link,
    /// else by a scan (remembered there when it finds none).
    fn scan_links(&self, memo_dir: &Path) -> bool {
        let file = memo_dir.join(LINK_MEMO);
        if memo_says_no_link(&self.root, &file) {
            return false;
        }
        let started = std::time::SystemTime::now();
        let seen = std::sync::Mutex::new(Vec::new());
        let found = link_under(&self.root, Some(&seen));
        if !found && let Ok(seen) = seen.into_inner() {
            remember_no_link(&self.root, &file, &seen, started);
        }
        found
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
/// falls back to the walk. With `seen`, each directory read is added to it
/// with its stamp as it was just before the read.
///
/// Reading a directory is kernel work on one core: breadth first until
/// there are [`SCAN_SHARES`] directories, whose subtrees are then scanned in
/// parallel (the answer is the same: any link, or any unreadable entry).
fn link_under(dir: &Path, seen: Option<&Seen>) -> bool {
    use rayon::prelude::*;
    let mut frontier = vec![dir.to_path_buf()];
    while !frontier.is_empty() && frontier.len() < SCAN_SHARES {
        let mut next = Vec::new();
        for dir in &frontier {
            if link_in(dir, &mut next, seen) {
                return true;
            }
        }
        frontier = next;
    }
    frontier.par_iter().any(|dir| {
        let mut pending = vec![dir.clone()];
        while let Some(dir) = pending.pop() {
            if link_in(&dir, &mut pending, seen) {
                return true;
            }
        }
        false
    })
}

/// Directories enough to share a scan out over the cores.
const SCAN_SHARES: usize = 8;

/// The directories a scan read, each with its stamp (`None`: not known).
type Seen = std::sync::Mutex<Vec<(PathBuf, Option<DirStamp>)>>;

/// Whether `dir` itself holds a symbolic link (`.git` excluded) or cannot
/// be read; its subdirectories are added to `subdirs`.
fn link_in(dir: &Path, subdirs: &mut Vec<PathBuf>, seen: Option<&Seen>) -> bool {
    if let Some(seen) = seen {
        let stamp = std::fs::symlink_metadata(dir)
            .ok()
            .and_then(|m| DirStamp::of(&m));
        if let Ok(mut seen) = seen.lock() {
            seen.push((dir.to_path_buf(), stamp));
        }
    }
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

/// What decides a directory's entries: adding, removing or renaming one (a
/// link, a subdirectory) sets the directory's mtime and ctime to the
/// current time. A user can set an mtime back, never a ctime; another
/// directory put in its place has another inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DirStamp {
    dev: u64,
    ino: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl DirStamp {
    /// The stamp of a directory (not of a link to one).
    fn of(meta: &std::fs::Metadata) -> Option<DirStamp> {
        use std::os::unix::fs::MetadataExt;
        meta.file_type().is_dir().then(|| DirStamp {
            dev: meta.dev(),
            ino: meta.ino(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        })
    }
}

/// The file, beside the check cache's packs, that remembers the last scan
/// that found no link: its first line [`LINK_MEMO_MAGIC`], then the root as
/// given, then per directory read `dev ino mtime mtime_ns ctime ctime_ns`,
/// a tab and its path under the root (empty for the root).
const LINK_MEMO: &str = "links1";
const LINK_MEMO_MAGIC: &str = "ringmaster-link-scan 1";

/// A directory changed within this long before a scan is not remembered:
/// a change in the same clock tick as the scan's read could leave its
/// stamp as it was (git's racy-entry rule, with a wide margin).
const LINK_MEMO_MARGIN: std::time::Duration = std::time::Duration::from_secs(2);

/// Whether the memo at `file` says the tree under `root` has no link: it
/// names the root, and every directory it lists (the root among them)
/// still has the stamp the scan saw. Anything else (no memo, another root,
/// a line that does not parse, a path that climbs out, one stamp differing)
/// is `false`, and the tree is scanned.
fn memo_says_no_link(root: &Path, file: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(file) else {
        return false;
    };
    let mut lines = text.lines();
    if lines.next() != Some(LINK_MEMO_MAGIC) || lines.next() != root.to_str() {
        return false;
    }
    let mut saw_root = false;
    for line in lines {
        let Some((fields, rel)) = line.split_once('\t') else {
            return false;
        };
        let fields: Vec<&str> = fields.split(' ').collect();
        let [dev, ino, m, mn, c, cn] = fields[..] else {
            return false;
        };
        let times = [m, mn, c, cn].map(|t| t.parse::<i64>().ok());
        let recorded = match (dev.parse::<u64>(), ino.parse::<u64>(), times) {
            (Ok(dev), Ok(ino), [Some(m), Some(mn), Some(c), Some(cn)]) => DirStamp {
                dev,
                ino,
                mtime: (m, mn),
                ctime: (c, cn),
            },
            _ => return false,
        };
        let path = if rel.is_empty() {
            saw_root = true;
            root.to_path_buf()
        } else {
            match confine(rel) {
                Ok(rel) if !rel.split('/').any(|s| s == ".git") => root.join(rel),
                _ => return false,
            }
        };
        let now = std::fs::symlink_metadata(&path)
            .ok()
            .and_then(|m| DirStamp::of(&m));
        if now != Some(recorded) {
            return false;
        }
    }
    saw_root
}

/// Writes the memo of a scan of `root` that found no link (whole, by a
/// rename), unless a directory's stamp is unknown, its name cannot be
/// written on one line, or it changed within [`LINK_MEMO_MARGIN`] of the
/// scan's start. Failing to write is not an error: the next run scans.
fn remember_no_link(
    root: &Path,
    file: &Path,
    seen: &[(PathBuf, Option<DirStamp>)],
    started: std::time::SystemTime,
) {
    use std::fmt::Write as _;
    let Some(limit) = started
        .checked_sub(LINK_MEMO_MARGIN)
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
    else {
        return;
    };
    let limit = (limit.as_secs() as i64, i64::from(limit.subsec_nanos()));
    let (Some(root_text), Some(dir)) = (root.to_str(), file.parent()) else {
        return;
    };
    let mut out = format!("{LINK_MEMO_MAGIC}\n{root_text}\n");
    for (path, stamp) in seen {
        let Some(stamp) = stamp else {
            return;
        };
        if stamp.mtime >= limit || stamp.ctime >= limit {
            return;
        }
        let Some(rel) = path
            .strip_prefix(root)
            .ok()
            .and_then(|r| r.to_str())
            .filter(|r| !r.contains(['\n', '\t', '\r']))
        else {
            return;
        };
        let _ = writeln!(
            out,
            "{} {} {} {} {} {}\t{rel}",
            stamp.dev, stamp.ino, stamp.mtime.0, stamp.mtime.1, stamp.ctime.0, stamp.ctime.1
        );
    }
    let written = tempfile::NamedTempFile::new_in(dir).and_then(|mut tmp| {
        use std::io::Write as _;
        tmp.write_all(out.as_bytes())?;
        tmp.persist(file).map_err(|e| e.error)?;
        Ok(())
    });
    drop(written);
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

    fn start_link_scan(&self, memo_dir: Option<&Path>) {
        match memo_dir {
            Some(dir) if self.walked.get().is_none() => {
                let _ = self.any_link.get_or_init(|| self.scan_links(dir));
            }
            _ => {
                let _ = self.may_have_links();
            }
        }
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
        assert!(!link_under(dir.path(), None));
        // Links under `.git` are not the tree's, wherever that directory is.
        std::os::unix::fs::symlink("/", dir.path().join(".git/refs/out")).unwrap();
        std::fs::create_dir_all(dir.path().join("config/team-3/.git")).unwrap();
        std::os::unix::fs::symlink("/", dir.path().join("config/team-3/.git/out")).unwrap();
        assert!(!link_under(dir.path(), None));
        // One link, dangling, in the deepest directory of the last subtree.
        let last = format!("config/team-{}/svc/v1/link.yaml", SCAN_SHARES * 3 - 1);
        std::os::unix::fs::symlink("missing.yaml", dir.path().join(last)).unwrap();
        assert!(link_under(dir.path(), None));
        // Near the top, before the scan shares out.
        let dir = tree(2);
        assert!(!link_under(dir.path(), None));
        std::os::unix::fs::symlink("config", dir.path().join("config/team-1/up")).unwrap();
        assert!(link_under(dir.path(), None));
    }

    /// [`WorkTree::scan_links`] as if the scan had started `ahead` from now
    /// (so the tree counts as old enough to be remembered).
    fn remember(root: &Path, file: &Path, ahead: std::time::Duration) -> bool {
        let seen = std::sync::Mutex::new(Vec::new());
        let found = link_under(root, Some(&seen));
        let seen = seen.into_inner().unwrap();
        if !found {
            remember_no_link(root, file, &seen, std::time::SystemTime::now() + ahead);
        }
        found
    }

    #[test]
    fn the_link_memo_answers_only_while_no_directory_changed() {
        let tree = tree(SCAN_SHARES * 2);
        let root = tree.path();
        let cache = tempfile::tempdir().unwrap();
        let file = cache.path().join(LINK_MEMO);
        let ahead = std::time::Duration::from_secs(10);
        // Changed within the margin before the scan: not remembered.
        assert!(!remember(root, &file, std::time::Duration::ZERO));
        assert!(!file.exists());
        assert!(!remember(root, &file, ahead));
        assert!(memo_says_no_link(root, &file));
        // Another root, a mangled memo, a path that climbs out, no root line.
        assert!(!memo_says_no_link(&root.join("config"), &file));
        let memo = std::fs::read_to_string(&file).unwrap();
        assert_eq!(memo.lines().count(), 2 + 1 + 1 + SCAN_SHARES * 2 * 3);
        let root_line = memo.lines().nth(2).unwrap().to_owned();
        assert!(root_line.ends_with('\t'), "{root_line}");
        for bad in [
            memo.replacen(LINK_MEMO_MAGIC, "ringmaster-link-scan 0", 1),
            memo.replacen(" ", "  ", 1),
            memo.replace("\tconfig/team-1\n", "\tconfig/team-1/../../..\n"),
            memo.replace(&format!("{root_line}\n"), ""),
        ] {
            std::fs::write(&file, bad).unwrap();
            assert!(!memo_says_no_link(root, &file));
        }
        std::fs::write(&file, &memo).unwrap();
        assert!(memo_says_no_link(root, &file));
        // A link in the deepest directory of one subtree: that directory's
        // stamp changes (after a clock tick), and the memo no longer answers.
        std::thread::sleep(std::time::Duration::from_millis(50));
        let link = root.join("config/team-5/svc/v1/out.yaml");
        std::os::unix::fs::symlink("/etc/hostname", &link).unwrap();
        assert!(!memo_says_no_link(root, &file));
        assert!(remember(root, &file, ahead), "the scan finds it");
        // The memo is left as it was (a scan that finds a link is not
        // remembered), and still does not answer.
        assert!(!memo_says_no_link(root, &file));
        std::fs::remove_file(&link).unwrap();
        assert!(!remember(root, &file, ahead));
        assert!(memo_says_no_link(root, &file));
        // A new directory (holding a link) changes its parent's stamp.
        std::thread::sleep(std::time::Duration::from_millis(50));
        std::fs::create_dir(root.join("config/team-2/new")).unwrap();
        std::os::unix::fs::symlink("/", root.join("config/team-2/new/out")).unwrap();
        assert!(!memo_says_no_link(root, &file));
        assert!(remember(root, &file, ahead));
    }

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

    /// The fixture's files reached without a link, in normal form.
    const PLAIN: &[&str] = &["a.yaml", "config/team/b.yaml", "big.yaml"];

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
        for path in PLAIN {
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
        // Every other path of the fixture: links, climbs, `.git`, a
        // directory, a missing file, a path not in normal form.
        for path in PATHS.iter().filter(|p| !PLAIN.contains(p)) {
            assert_eq!(tree.open_beneath(path, 1000), None, "{path}");
        }
    }
}
