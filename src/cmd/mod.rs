//! One small function per command, over library code. Phase two of argument
//! handling: resolve what was typed into a repo root and sources.

pub(crate) mod audit;
pub(crate) mod check;
pub(crate) mod diff;
pub(crate) mod docs;
pub(crate) mod explain;
pub(crate) mod flags;
pub(crate) mod gates;
pub(crate) mod import;
pub(crate) mod init;
pub(crate) mod render;
pub(crate) mod rollout;

use std::path::{Path, PathBuf};

use crate::cli::Format;
use crate::exit::{Exit, Failure};

/// What a command produced: text for stdout and how the run ended.
#[derive(Debug)]
pub struct Outcome {
    pub stdout: String,
    pub exit: Exit,
}

/// Global options every command sees.
#[derive(Debug, Clone)]
pub(crate) struct Globals {
    pub repo: Option<PathBuf>,
    pub format: Option<Format>,
    pub quiet: bool,
    pub verbose: bool,
    /// Where relative paths on the command line are relative to.
    pub cwd: PathBuf,
    /// Shared mode: etcd endpoints, prefix, TLS and user.
    pub etcd: crate::cli::EtcdArgs,
}

/// Finds the config repo root: `--repo`, else the nearest directory upwards
/// that holds `ringmaster.yaml`, stopping at the git work tree's top (which is
/// the answer when no manifest is found, so the error names the right place).
pub(crate) fn repo_root(globals: &Globals) -> anyhow::Result<PathBuf> {
    if let Some(dir) = &globals.repo {
        let dir = globals.cwd.join(dir);
        if !dir.is_dir() {
            return Err(Failure::usage(format!(
                "--repo {}: not a directory",
                dir.display()
            )));
        }
        return Ok(dir.canonicalize()?);
    }
    let start = globals.cwd.canonicalize()?;
    for dir in start.ancestors() {
        if dir.join(crate::config::manifest::MANIFEST_FILE).is_file() {
            return Ok(dir.to_path_buf());
        }
        if dir.join(".git").exists() {
            return Ok(dir.to_path_buf());
        }
    }
    Err(Failure::usage(
        "no ringmaster.yaml found here or above, and not inside a git repository; pass --repo DIR or run `ringmaster init`",
    ))
}

/// The config repo's path inside its git work tree, found without opening
/// the repository (cheap enough for every pre-commit run).
pub(crate) fn git_prefix(root: &Path) -> String {
    for dir in root.ancestors() {
        if dir.join(".git").exists() {
            let rel = root.strip_prefix(dir).unwrap_or(Path::new(""));
            return crate::source::slash_path(rel);
        }
    }
    String::new()
}

/// Turns a path typed on the command line into a repo-relative one; `None`
/// when it lies outside the repo.
pub(crate) fn repo_relative(root: &Path, cwd: &Path, path: &Path) -> Option<String> {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        cwd.join(path)
    };
    // Canonicalise what exists; keep lexical form for what does not.
    let absolute = absolute.canonicalize().unwrap_or(absolute);
    let rel = absolute.strip_prefix(root).ok()?;
    let parts: Vec<_> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    Some(crate::source::normalize(&parts.join("/")))
}

/// Rejects a `--format` the command does not support.
pub(crate) fn pick_format(
    globals: &Globals,
    allowed: &[Format],
    default: Format,
) -> anyhow::Result<Format> {
    let format = globals.format.unwrap_or(default);
    if allowed.contains(&format) {
        Ok(format)
    } else {
        let names: Vec<_> = allowed
            .iter()
            .map(|f| format!("{f:?}").to_lowercase())
            .collect();
        Err(Failure::usage(format!(
            "--format {} is not available for this command; use one of: {}",
            format!("{format:?}").to_lowercase(),
            names.join(", ")
        )))
    }
}

/// Writes `bytes` to `path` atomically: a temp file in the same directory,
/// flushed, then renamed over the target. A reader (a browser reloading a
/// report, a web server serving it) sees the old file or the new one, never
/// half of one; a failure leaves no temp file behind.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    // Exit 2 when the path the user gave cannot be a file (no such
    // directory); exit 3 when the system refuses (permissions, a full or
    // read-only disk).
    let fail = |e: std::io::Error| {
        let message = format!(
            "cannot write {}: {e} (does the directory exist and is it writable?)",
            path.display()
        );
        match e.kind() {
            std::io::ErrorKind::NotFound
            | std::io::ErrorKind::NotADirectory
            | std::io::ErrorKind::IsADirectory
            | std::io::ErrorKind::InvalidInput => Failure::usage(message),
            _ => Failure::operational(message),
        }
    };
    let mut temp = tempfile::Builder::new()
        .prefix(".ringmaster-")
        .tempfile_in(dir)
        .map_err(fail)?;
    temp.write_all(bytes).map_err(fail)?;
    // A temp file is private (0600); a report is for reading: keep the
    // mode of the file it replaces, else the usual 0644.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(path).map_or(0o644, |m| m.permissions().mode() & 0o7777);
        temp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(fail)?;
    }
    temp.as_file().sync_all().map_err(fail)?;
    temp.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}
