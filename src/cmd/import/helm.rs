//! `ringmaster import helm`.

use std::path::{Path, PathBuf};

use super::ImportedManifest;
use crate::cmd::Globals;
use crate::exit::Failure;

pub(super) fn manifest(
    _globals: &Globals,
    _dir: &Path,
    _chart: &Path,
    _values: &[PathBuf],
    _classes: &[String],
) -> anyhow::Result<ImportedManifest> {
    Err(Failure::usage("import helm: not built yet"))
}
