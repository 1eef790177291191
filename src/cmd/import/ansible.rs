//! `ringmaster import ansible`: see `config::adopt::ansible` for how the
//! manifest it writes is read.

use std::path::Path;

use super::ImportedManifest;
use crate::cmd::Globals;
use crate::exit::Failure;

pub(super) fn manifest(
    _globals: &Globals,
    _dir: &Path,
    _inventory: &Path,
) -> anyhow::Result<ImportedManifest> {
    Err(Failure::usage("import ansible: not built yet"))
}
