//! `ringmaster import hiera`: see `config::adopt::hiera` for how the
//! manifest it writes is read.

use std::path::Path;

use super::ImportedManifest;
use crate::cmd::Globals;
use crate::exit::Failure;

pub(super) fn manifest(
    _globals: &Globals,
    _dir: &Path,
    _config: Option<&Path>,
    _nodes: &Path,
) -> anyhow::Result<ImportedManifest> {
    Err(Failure::usage("import hiera: not built yet"))
}
