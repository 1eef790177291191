//! `ringmaster import ansible`: see `config::adopt::ansible` for how the
//! manifest it writes is read.
//!
//! The manifest names the inventory and nothing else: hosts, groups and
//! variables are read from the inventory, `group_vars/` and `host_vars/` at
//! every revision. Importing reads the inventory once here so that a
//! problem (a parse error, a host name that cannot be a class) is reported
//! now, at its file and line, and the summary can name the hosts.

use std::path::Path;

use super::{ImportedManifest, inside_repo};
use crate::cmd::Globals;
use crate::config::adopt::inventory;
use crate::exit::Failure;
use crate::source::{Source, WorkTree};

pub(super) fn manifest(
    globals: &Globals,
    dir: &Path,
    inventory_path: &Path,
) -> anyhow::Result<ImportedManifest> {
    let mut rel = inside_repo(globals, dir, inventory_path, "inventory")?;
    // Ansible does not resolve a symlinked inventory (unfrackpath with
    // follow=False): group_vars/ are looked up beside the link.
    let full = globals.cwd.join(inventory_path);
    if full
        .symlink_metadata()
        .is_ok_and(|m| m.file_type().is_symlink())
        && let (Some(parent), Some(name)) = (full.parent(), full.file_name())
        && let Ok(parent) = parent.canonicalize()
        && let Ok(under) = parent.strip_prefix(dir)
    {
        rel = under
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .chain([name.to_string_lossy().into_owned()])
            .collect::<Vec<_>>()
            .join("/");
    }
    if rel.is_empty() {
        return Err(Failure::usage(
            "--inventory names the repo itself; name the inventory file or directory inside it",
        ));
    }
    let source = WorkTree::new(dir);
    let inv = inventory::load(&source, &rel).map_err(|found| {
        Failure::usage(
            found
                .iter()
                .map(|d| format!("{}:{}: {}", d.file, d.pos, d.message))
                .collect::<Vec<_>>()
                .join("\n"),
        )
    })?;
    // Ansible skips a file of an inventory directory that no plugin can
    // parse, with a warning; ringmaster does the same, and says so here.
    for d in &inv.skipped {
        let warning = crate::report::escape::terminal_lines(&format!(
            "warning: {}:{}: {}; Ansible skips this file (keeping what it declared before the error), and so does ringmaster\n",
            d.file, d.pos, d.message
        ));
        let _ = std::io::Write::write_all(&mut std::io::stderr(), warning.as_bytes());
    }
    let found = crate::config::adopt::ansible::problems(&inv);
    if !found.is_empty() {
        return Err(Failure::usage(
            found
                .iter()
                .map(|d| {
                    let help = d
                        .help
                        .as_deref()
                        .map(|h| format!("; {h}"))
                        .unwrap_or_default();
                    format!("{}:{}: {}{help}", d.file, d.pos, d.message)
                })
                .collect::<Vec<_>>()
                .join("\n"),
        ));
    }
    let is_file = matches!(source.size(&rel), Ok(Some(_)));
    let base = inventory::vars_base(&rel, is_file);
    let mut reads = inv.files.clone();
    for sub in ["group_vars", "host_vars"] {
        let d = if base.is_empty() {
            sub.to_owned()
        } else {
            format!("{base}/{sub}")
        };
        if source.dir_exists(&d).unwrap_or(false) {
            reads.push(format!("{d}/"));
        }
    }
    if source.size(inventory::ANSIBLE_CFG).ok().flatten().is_some() {
        reads.push(inventory::ANSIBLE_CFG.to_owned());
    }
    // JSON's string syntax is YAML's double-quoted scalar: any path is safe.
    let quoted = serde_json::Value::String(rel.clone()).to_string();
    let text = format!(
        "# Written by `ringmaster import ansible`. Hosts, groups and variables are\n\
         # read from the inventory, group_vars/ and host_vars/ at every revision,\n\
         # as `ansible-inventory --host` computes them (hash_behaviour from\n\
         # ansible.cfg at the repo root; replace when it says nothing).\n\
         version: 1\n\
         ansible:\n  inventory: {quoted}\n\
         rules:\n\
         \x20 # Any group may introduce a variable: there is no default to override.\n\
         \x20 unknown-override: off\n\
         \x20 # Ansible replaces a variable whatever its type; still worth a look.\n\
         \x20 type-change: warning\n\
         \x20 # The hierarchy comes from the inventory: a level without files is normal.\n\
         \x20 unused-layer: off\n"
    );
    Ok(ImportedManifest {
        tool: "Ansible",
        text,
        classes: inv.hosts.keys().cloned().collect(),
        reads,
    })
}
