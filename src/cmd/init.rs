//! `ringmaster init [DIR]`: scaffold a config repo that `check` passes, with
//! the default rings (dogfood, single-tenant, multi-tenant). Never
//! overwrites a file.

use std::fmt::Write;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::{Globals, Outcome};
use crate::config::manifest::MANIFEST_FILE;
use crate::exit::{Exit, Failure};

const MANIFEST: &str = r#"# ringmaster manifest: see `ringmaster --help` and the README.
version: 1

# Layers, least specific first: later layers override earlier ones.
# `{fact}` is the host class's fact; `{class}` is the class's own name.
hierarchy:
  - config/defaults.yaml
  - config/role/{role}.yaml
  - config/ring/{ring}.yaml
  - config/class/{class}.yaml

# Every host in a class gets the same effective config; `ring` puts it in a ring.
host_classes:
  app-dogfood: { role: app, ring: dogfood }
  app-example: { role: app, ring: single-tenant, tenant: example }
  app-shared: { role: app, ring: multi-tenant }

# Each layer file on its own, against a JSON Schema.
schemas:
  - files: "config/**/*.yaml"
    schema: schemas/layer.schema.json

flags: flags/
rings: rings/
"#;

const DEFAULTS: &str = "# Every class starts from these values.
server:
  port: 8080
  max_connections: 512
logging:
  level: info
";

const ROLE: &str = "# Overrides for every host class with `role: app`.
server:
  max_connections: 1024
";

const RING: &str = "# Overrides for every host class in the dogfood ring: our own staff.
logging:
  level: debug
";

const CLASS: &str = "# Overrides for the one host class `app-example` (tenant `example`).
server:
  max_connections: 2048
";

const LAYER_SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "config layer",
  "description": "One layer file under config/. Layers are partial: nothing is required.",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "server": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "port": { "type": "integer", "minimum": 1, "maximum": 65535 },
        "max_connections": { "type": "integer", "minimum": 1 }
      }
    },
    "logging": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "level": { "enum": ["debug", "info", "warn", "error"] }
      }
    }
  }
}
"#;

fn flag(expires: &str) -> String {
    format!(
        "# One file per flag; the file name is the flag's name.
name: example-flag
owner: my-team
description: An example flag; remove it once you have your own.
type: bool
default: false
expires: \"{expires}\"
rings:
  dogfood: true
"
    )
}

/// The files of a new config repo, relative to its root.
pub(crate) fn scaffold() -> Vec<(&'static str, String)> {
    let expires = crate::flags::today()
        .checked_add(jiff::Span::new().days(180))
        .map(|d| d.to_string())
        .unwrap_or_else(|_| "2099-12-31".into());
    vec![
        (MANIFEST_FILE, MANIFEST.to_owned()),
        ("config/defaults.yaml", DEFAULTS.to_owned()),
        ("config/role/app.yaml", ROLE.to_owned()),
        ("config/ring/dogfood.yaml", RING.to_owned()),
        ("config/class/app-example.yaml", CLASS.to_owned()),
        ("schemas/layer.schema.json", LAYER_SCHEMA.to_owned()),
        ("flags/example-flag.yaml", flag(&expires)),
        (
            "rings/dogfood.yaml",
            include_str!("../../rings/dogfood.yaml").to_owned(),
        ),
        (
            "rings/single-tenant.yaml",
            include_str!("../../rings/single-tenant.yaml").to_owned(),
        ),
        (
            "rings/multi-tenant.yaml",
            include_str!("../../rings/multi-tenant.yaml").to_owned(),
        ),
    ]
}

pub(crate) fn run(globals: &Globals, dir: Option<&Path>) -> anyhow::Result<Outcome> {
    let root = match dir {
        Some(d) => globals.cwd.join(d),
        None => globals
            .repo
            .as_ref()
            .map_or_else(|| globals.cwd.clone(), |r| globals.cwd.join(r)),
    };
    // The manifest goes last: a run stopped by an error (a full disk) leaves
    // no manifest, so running init again finishes the scaffold.
    let mut files = scaffold();
    files.sort_by_key(|(path, _)| *path == MANIFEST_FILE);
    // Nothing is written through a symbolic link: a link planted where a
    // file or directory goes (dangling or not) could send the write anywhere.
    for (path, _) in &files {
        if let Some(link) = symlink_on_the_way(&root, path) {
            return Err(Failure::usage(format!(
                "{} is a symbolic link; init never writes through one: remove it, or init another directory",
                link.display()
            )));
        }
    }
    if root.join(MANIFEST_FILE).exists() {
        return Err(Failure::usage(format!(
            "{} already has a {MANIFEST_FILE}; init never overwrites it",
            root.display()
        )));
    }
    let mut out = String::new();
    for (path, content) in files {
        let target = root.join(path);
        if target.exists() {
            let _ = writeln!(out, "kept     {path} (already there)");
            continue;
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| cannot_write(parent, &e))?;
        }
        // `create_new` is O_CREAT|O_EXCL: it fails on anything already
        // there, a symbolic link included, instead of following it.
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&target)
            .map_err(|e| cannot_write(&target, &e))?;
        file.write_all(content.as_bytes())
            .map_err(|e| cannot_write(&target, &e))?;
        let _ = writeln!(out, "created  {path}");
    }
    let _ = writeln!(
        out,
        "\nNext: `ringmaster check` to validate, `ringmaster render --class app-dogfood` to see a class's config."
    );
    Ok(Outcome {
        stdout: out,
        exit: Exit::Clean,
    })
}

/// The first symbolic link among `rel`'s components under `root` (the
/// directories to create and the file itself), if any.
fn symlink_on_the_way(root: &Path, rel: &str) -> Option<PathBuf> {
    let mut here = root.to_path_buf();
    for segment in rel.split('/') {
        here.push(segment);
        match std::fs::symlink_metadata(&here) {
            Ok(meta) if meta.file_type().is_symlink() => return Some(here),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
    None
}

/// A file or directory init cannot create (read-only, full disk, a file where
/// a directory goes): exit 3, naming it.
fn cannot_write(path: &Path, error: &std::io::Error) -> anyhow::Error {
    Failure::operational(format!("cannot create {}: {error}", path.display()))
}
