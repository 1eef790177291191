//! Hierarchies read from another tool's own files at load time.
//!
//! A manifest written by `ringmaster import hiera|ansible` names the tool's
//! files (`hiera: {config: hiera.yaml}`, `ansible: {inventory: …}`) instead
//! of a `hierarchy:`. When the manifest is loaded — from the working tree or
//! from any git revision, through the same `Source` — those files are read
//! and expanded here into the sections the rest of ringmaster already
//! understands (`hierarchy`, `host_classes`, `merge`, `interpolation`,
//! `limits.yaml`), so check, render, explain, diff and rollouts need no
//! tool-specific code, and a change to `hiera.yaml` or the inventory shows
//! in `diff` like any other change.

pub mod ansible;
pub mod hiera;
pub(crate) mod inventory;
mod pylit;

use crate::config::document::Node;
use crate::diag::Diagnostic;
use crate::source::Source;

/// Expands a `hiera:` or `ansible:` section of `root` in place. Problems
/// with the tool's files are errors that keep the manifest from loading
/// (exit 2), at the file and line they come from.
pub fn expand(root: &mut Node, source: &dyn Source, errors: &mut Vec<Diagnostic>) {
    if root.get("hiera").is_some() {
        hiera::expand(root, source, errors);
    }
    if root.get("ansible").is_some() {
        ansible::expand(root, source, errors);
    }
}
