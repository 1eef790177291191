//! `ringmaster import hiera|ansible|helm`: adopt a repo that another tool's
//! hierarchy already describes. Each importer reads what the user has and
//! writes one `ringmaster.yaml`; the shared part here resolves the target
//! directory, keeps every input inside it, and writes the manifest
//! atomically, never over an existing one without `--force`.
//!
//! Hiera and Ansible manifests *reference* the tool's own files
//! (`hiera.yaml`, the inventory) rather than copying them: the hierarchy is
//! read from them at every revision (`config::adopt`), so a pull request that
//! edits them shows its effect in `diff`. What the tool has no file for (the
//! facts of Hiera's nodes, Helm's class names) is written into the manifest.

mod ansible;
mod helm;
mod hiera;

use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::{Globals, Outcome};
use crate::cli::{Format, ImportCommand, ImportTarget};
use crate::config::manifest::MANIFEST_FILE;
use crate::exit::{Exit, Failure};

pub(crate) fn run(globals: &Globals, command: &ImportCommand) -> anyhow::Result<Outcome> {
    let written = match command {
        ImportCommand::Hiera {
            config,
            nodes,
            target,
        } => {
            let dir = target_dir(globals, target)?;
            let manifest = hiera::manifest(globals, &dir, config.as_deref(), nodes)?;
            write(&dir, manifest, target.force)?
        }
        ImportCommand::Ansible { inventory, target } => {
            let dir = target_dir(globals, target)?;
            let manifest = ansible::manifest(globals, &dir, inventory)?;
            write(&dir, manifest, target.force)?
        }
        ImportCommand::Helm {
            chart,
            values,
            class,
            target,
        } => {
            let dir = target_dir(globals, target)?;
            let manifest = helm::manifest(globals, &dir, chart, values, class)?;
            write(&dir, manifest, target.force)?
        }
    };
    Ok(Outcome {
        stdout: report(globals, &written),
        exit: Exit::Clean,
    })
}

/// What an importer produced: the manifest text and a summary for people.
pub(crate) struct ImportedManifest {
    /// Which tool's hierarchy this is ("Hiera", "Ansible", "Helm").
    pub tool: &'static str,
    pub text: String,
    /// The host classes the manifest defines, in name order.
    pub classes: Vec<String>,
    /// The files the manifest reads (repo-relative), for the summary.
    pub reads: Vec<String>,
}

struct Written {
    path: PathBuf,
    replaced: bool,
    manifest: ImportedManifest,
}

/// `--into`, else `--repo`, else the current directory; it must exist.
fn target_dir(globals: &Globals, target: &ImportTarget) -> anyhow::Result<PathBuf> {
    let dir = match (&target.into, &globals.repo) {
        (Some(d), _) | (None, Some(d)) => globals.cwd.join(d),
        (None, None) => globals.cwd.clone(),
    };
    if !dir.is_dir() {
        return Err(Failure::usage(format!(
            "{}: not a directory; --into names the repo that holds the files to import",
            dir.display()
        )));
    }
    Ok(dir.canonicalize()?)
}

/// `path` (relative to the current directory) as a repo-relative path with
/// `/` separators, or a usage error when it is missing or outside `dir`:
/// the manifest reads it at every revision, so it must live in the repo.
pub(crate) fn inside_repo(
    globals: &Globals,
    dir: &Path,
    path: &Path,
    what: &str,
) -> anyhow::Result<String> {
    let full = globals.cwd.join(path);
    let canonical = full
        .canonicalize()
        .map_err(|e| Failure::usage(format!("{what} {}: {e}", full.display())))?;
    let rel = canonical.strip_prefix(dir).map_err(|_| {
        Failure::usage(format!(
            "{what} {} is outside {}; ringmaster reads it from the repo at every revision, so move it into the repo (or import --into the directory that holds it)",
            full.display(),
            dir.display()
        ))
    })?;
    Ok(crate::source::slash_path(rel))
}

/// Writes `DIR/ringmaster.yaml` through a temporary file and a rename, so a
/// failed run leaves the old manifest (or none) behind, never half of one.
fn write(dir: &Path, manifest: ImportedManifest, force: bool) -> anyhow::Result<Written> {
    let path = dir.join(MANIFEST_FILE);
    let existing = std::fs::symlink_metadata(&path).ok();
    if let Some(meta) = &existing {
        if meta.file_type().is_symlink() {
            return Err(Failure::usage(format!(
                "{} is a symbolic link; ringmaster never writes through one: remove it first",
                path.display()
            )));
        }
        if !force {
            return Err(Failure::usage(format!(
                "{} already exists; pass --force to replace it",
                path.display()
            )));
        }
    }
    let mut tmp = tempfile::Builder::new()
        .prefix(".ringmaster.yaml.")
        .tempfile_in(dir)
        .map_err(|e| Failure::operational(format!("cannot write in {}: {e}", dir.display())))?;
    tmp.write_all(manifest.text.as_bytes())
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| Failure::operational(format!("cannot write {}: {e}", path.display())))?;
    tmp.persist(&path).map_err(|e| {
        Failure::operational(format!("cannot write {}: {}", path.display(), e.error))
    })?;
    Ok(Written {
        path,
        replaced: existing.is_some(),
        manifest,
    })
}

fn report(globals: &Globals, written: &Written) -> String {
    let m = &written.manifest;
    if globals.format == Some(Format::Json) {
        let value = serde_json::json!({
            "manifest": written.path.display().to_string(),
            "tool": m.tool.to_lowercase(),
            "replaced": written.replaced,
            "classes": m.classes,
            "reads": m.reads,
        });
        return format!("{value:#}\n");
    }
    let mut out = format!(
        "{} {} from {}: {} host class{}, reading {}\n",
        if written.replaced {
            "replaced"
        } else {
            "wrote"
        },
        written.path.display(),
        m.tool,
        m.classes.len(),
        if m.classes.len() == 1 { "" } else { "es" },
        if m.reads.is_empty() {
            "no files".to_owned()
        } else {
            m.reads.join(", ")
        },
    );
    if !globals.quiet {
        let first = m.classes.first().map_or("CLASS", String::as_str);
        out.push_str(&format!(
            "next: ringmaster --repo {dir} check; ringmaster --repo {dir} render --class {first}\n",
            dir = written
                .path
                .parent()
                .map_or_else(|| ".".into(), |p| p.display().to_string()),
        ));
    }
    crate::report::escape::terminal_lines(&out)
}
