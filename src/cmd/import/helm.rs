//! `ringmaster import helm`: a chart's `values.yaml`, then the value files
//! in the order `helm install -f` takes them, as layers of one hierarchy,
//! merged the way Helm coalesces values (maps deep-merge, lists and scalars
//! replace, a `null` removes the key it overrides), with the chart's
//! `values.schema.json` as every class's effective schema.
//!
//! Unlike Hiera and Ansible, Helm has no file that lists classes or layers
//! (that is the command line of `helm install`), so the importer writes the
//! hierarchy itself. Value files shared by every class come first; files
//! given as `--class NAME=FILE[,FILE]` follow, for that class only: each
//! becomes a template `dir/{helm.values_N}` whose fact only that class sets.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::{ImportedManifest, inside_repo};
use crate::cmd::Globals;
use crate::config::document::{self, Limits, Value};
use crate::exit::Failure;

/// One `--class` argument: a name and the value files for it alone.
struct HelmClass {
    name: String,
    files: Vec<String>,
}

pub(super) fn manifest(
    globals: &Globals,
    dir: &Path,
    chart: &Path,
    values: &[PathBuf],
    classes: &[String],
) -> anyhow::Result<ImportedManifest> {
    let chart_dir = inside_repo(globals, dir, chart, "--chart")?;
    let chart_path = dir.join(&chart_dir);
    if !chart_path.is_dir() {
        return Err(Failure::usage(format!(
            "--chart {}: not a directory; name the chart's directory (it holds Chart.yaml and values.yaml)",
            chart.display()
        )));
    }
    let join = |name: &str| {
        if chart_dir.is_empty() {
            name.to_owned()
        } else {
            format!("{chart_dir}/{name}")
        }
    };
    let chart_name = chart_name(&chart_path, &join("Chart.yaml"))?;
    let chart_values = join("values.yaml");
    let has_values = chart_path.join("values.yaml").is_file();
    let schema = join("values.schema.json");
    let has_schema = chart_path.join("values.schema.json").is_file();

    let mut shared = Vec::new();
    for file in values {
        shared.push(value_file(globals, dir, file)?);
    }
    let mut helm_classes = Vec::new();
    for arg in classes {
        let (name, files) = match arg.split_once('=') {
            Some((name, files)) => {
                let mut list = Vec::new();
                for file in files.split(',').filter(|f| !f.is_empty()) {
                    list.push(value_file(globals, dir, Path::new(file))?);
                }
                (name.to_owned(), list)
            }
            None => (arg.clone(), Vec::new()),
        };
        check_class_name(&name)?;
        if helm_classes.iter().any(|c: &HelmClass| c.name == name) {
            return Err(Failure::usage(format!(
                "--class {name} is given twice; give it once, with all its files: --class {name}=a.yaml,b.yaml"
            )));
        }
        helm_classes.push(HelmClass { name, files });
    }
    if helm_classes.is_empty() {
        check_class_name(&chart_name).map_err(|_| {
            Failure::usage(format!(
                "the chart's name `{}` cannot be a class name; pass --class NAME",
                crate::config::boundary::shown(&chart_name)
            ))
        })?;
        helm_classes.push(HelmClass {
            name: chart_name.clone(),
            files: Vec::new(),
        });
    }
    helm_classes.sort_by(|a, b| a.name.cmp(&b.name));

    // Class-only files: position N of a class's list, in directory D, is the
    // template `D/{helm.values_N}`; ordered by N, so each class's own files
    // keep their order after the shared ones.
    let mut class_templates: BTreeMap<(usize, String), ()> = BTreeMap::new();
    for class in &helm_classes {
        for (n, file) in class.files.iter().enumerate() {
            class_templates.insert((n + 1, parent_of(file).to_owned()), ());
        }
    }

    let mut text = String::new();
    let _ = writeln!(
        text,
        "# Written by `ringmaster import helm`: the chart {chart_name}'s values, then the value
# files in `helm install -f` order, merged as Helm coalesces values. Edit freely;
# re-running the import with --force writes this file again.
version: 1
"
    );
    text.push_str(
        "# Least specific first, as `helm install -f a.yaml -f b.yaml` applies them.\nhierarchy:\n",
    );
    if has_values {
        let _ = writeln!(text, "  - {}", yaml_str(&chart_values));
    }
    for file in &shared {
        let _ = writeln!(text, "  - {}", yaml_str(file));
    }
    for (n, parent) in class_templates.keys() {
        let template = if parent.is_empty() {
            format!("{{helm.values_{n}}}")
        } else {
            format!("{parent}/{{helm.values_{n}}}")
        };
        let _ = writeln!(text, "  - {}", yaml_str(&template));
    }
    text.push_str("\nhost_classes:\n");
    for class in &helm_classes {
        if class.files.is_empty() {
            let _ = writeln!(text, "  {}: {{}}", class.name);
            continue;
        }
        let _ = writeln!(text, "  {}:\n    helm:", class.name);
        for (n, file) in class.files.iter().enumerate() {
            let name = file.rsplit('/').next().unwrap_or(file);
            let _ = writeln!(text, "      values_{}: {}", n + 1, yaml_str(name));
        }
    }
    text.push_str(
        "
# Helm's coalescing: maps merge key by key, a list or a scalar replaces the
# one below it, and a `null` removes the key it overrides.
merge:
  default: deep
  lists: replace
  nulls: delete

# Helm reads values with go-yaml v2: YAML 1.1 scalars (`yes` is true, `0644` is 420,
# `y` is true, `1e3` is 1000).
yaml:
  version: \"1.1\"
  reader: go-yaml
",
    );
    let mut reads = Vec::new();
    if has_values {
        reads.push(chart_values.clone());
    }
    if has_schema {
        let _ = write!(
            text,
            "
# Helm validates the final values against the chart's schema; so does `check`.
effective:
  schema: {}
",
            yaml_str(&schema)
        );
        reads.push(schema);
    }
    reads.extend(shared.iter().cloned());
    for class in &helm_classes {
        for file in &class.files {
            if !reads.contains(file) {
                reads.push(file.clone());
            }
        }
    }
    Ok(ImportedManifest {
        tool: "Helm",
        text,
        classes: helm_classes.into_iter().map(|c| c.name).collect(),
        reads,
    })
}

/// A value file, which must exist inside the repo.
fn value_file(globals: &Globals, dir: &Path, file: &Path) -> anyhow::Result<String> {
    let rel = inside_repo(globals, dir, file, "--values")?;
    if !dir.join(&rel).is_file() {
        return Err(Failure::usage(format!(
            "--values {}: not a file",
            file.display()
        )));
    }
    Ok(rel)
}

fn parent_of(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(dir, _)| dir)
}

/// The chart's `name` from Chart.yaml.
fn chart_name(chart_path: &Path, shown: &str) -> anyhow::Result<String> {
    let file = chart_path.join("Chart.yaml");
    let bytes = std::fs::read(&file).map_err(|e| {
        Failure::usage(format!(
            "{shown}: {e}; --chart names a Helm chart's directory"
        ))
    })?;
    let parsed = document::parse(shown, &bytes, &Limits::default());
    let name = parsed
        .single()
        .and_then(|root| root.get("name"))
        .and_then(|e| match &e.value.value {
            Value::Str(s) => Some(s.clone()),
            _ => None,
        });
    name.ok_or_else(|| {
        Failure::usage(format!(
            "{shown}: no `name` (a chart's Chart.yaml names it)"
        ))
    })
}

fn check_class_name(name: &str) -> anyhow::Result<()> {
    let ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(Failure::usage(format!(
            "--class `{}`: a class name is letters, digits, `.`, `_` and `-`, starting with a letter or digit",
            crate::config::boundary::shown(name)
        )))
    }
}

/// A path written into the manifest: quoted when YAML would read it otherwise.
fn yaml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
}
