//! The manifest's `yaml:` section: which YAML version and duplicate-key
//! policy each repo file is read with.
//!
//! ```yaml
//! yaml:
//!   version: "1.2"            # or "1.1": read as Puppet, Ansible and Helm read it
//!   duplicate_keys: error     # or last-wins: a warning, the later value wins
//!   reader: psych             # under 1.1: pyyaml, psych or go-yaml reads what the tools disagree on
//!   files:                    # per-file overrides; the first matching glob wins
//!     - files: "hieradata/**"
//!       version: "1.1"
//!       duplicate_keys: last-wins
//! ```
//!
//! An override leaves out what it does not set: that comes from the repo
//! level. ringmaster's own files (the manifest, `flags/*`, `rings/*`) are
//! always read as YAML 1.2 with duplicate keys an error, whatever the globs say.

use globset::GlobBuilder;

use crate::config::document::{
    DuplicateKeys, Node, ParseOptions, Value, YamlPolicy, YamlReader, YamlVersion,
};
use crate::diag::{Diagnostic, Rule};
use crate::source::normalize;

/// Reads the `yaml:` section of a manifest that passed the manifest schema;
/// what the schema cannot refuse (a bad glob) is a `manifest` finding on
/// `manifest_file`, which is itself always read as today.
pub(crate) fn from_manifest(
    root: &Node,
    manifest_file: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> YamlPolicy {
    let mut policy = YamlPolicy::default();
    let Some(section) = root.get("yaml").map(|e| &e.value) else {
        return policy;
    };
    policy.default = options(section, ParseOptions::default());
    // The manifest is read before its own policy is known, and flag and ring
    // files are ringmaster's own formats, read as 1.2 by the commands that use
    // them: `check` must see them the same way, whatever the globs say.
    let own_dirs = ["flags", "rings"].into_iter().filter_map(|key| {
        let dir = normalize(root.get(key)?.value.value.as_str()?);
        Some(format!("{}/*", dir.trim_end_matches('/')))
    });
    for own in std::iter::once(manifest_file.to_owned()).chain(own_dirs) {
        if let Ok(glob) = GlobBuilder::new(&own).literal_separator(true).build() {
            policy
                .files
                .push((glob.compile_matcher(), ParseOptions::default()));
        }
    }
    let Some(Value::Seq(items)) = section.get("files").map(|e| &e.value.value) else {
        return policy;
    };
    for (i, item) in items.iter().enumerate() {
        let Some(files) = item.get("files") else {
            continue;
        };
        let Some(pattern) = files.value.value.as_str() else {
            continue;
        };
        match GlobBuilder::new(&normalize(pattern))
            .literal_separator(true)
            .build()
        {
            Ok(glob) => policy
                .files
                .push((glob.compile_matcher(), options(item, policy.default))),
            Err(e) => diagnostics.push(
                Diagnostic::new(
                    Rule::Manifest,
                    manifest_file,
                    files.value.pos,
                    format!("bad glob `{pattern}`: {}", e.kind()),
                )
                .with_path(format!("/yaml/files/{i}/files"))
                .with_help("globs use `*` within a directory and `**` across directories"),
            ),
        }
    }
    policy
}

/// `version`, `duplicate_keys` and `reader` of one mapping, over `base`.
fn options(node: &Node, base: ParseOptions) -> ParseOptions {
    let mut out = base;
    if let Some(v) = node.get("version") {
        // `version: 1.1` unquoted is a number; the schema allows both.
        match &v.value.value {
            Value::Str(s) if s == "1.1" => out.version = YamlVersion::V1_1,
            Value::Float(f) if *f == 1.1 => out.version = YamlVersion::V1_1,
            _ => out.version = YamlVersion::V1_2,
        }
    }
    if let Some(d) = node.get("duplicate_keys") {
        out.duplicate_keys = match d.value.value.as_str() {
            Some("last-wins") => DuplicateKeys::LastWins,
            _ => DuplicateKeys::Error,
        };
    }
    if let Some(r) = node.get("reader") {
        out.reader = match r.value.value.as_str() {
            Some("pyyaml") => YamlReader::PyYaml,
            Some("psych") => YamlReader::Psych,
            Some("go-yaml") => YamlReader::GoYaml,
            _ => YamlReader::Agreed,
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::document::{Limits, parse};
    use crate::diag::Pos;

    const MANIFEST_FILE: &str = "ringmaster.yaml";

    fn policy(text: &str) -> (YamlPolicy, Vec<Diagnostic>) {
        let parsed = parse(MANIFEST_FILE, text.as_bytes(), &Limits::default());
        let root = parsed.single().cloned().unwrap_or(Node {
            value: Value::Null,
            pos: Pos::START,
        });
        let mut found = Vec::new();
        (from_manifest(&root, MANIFEST_FILE, &mut found), found)
    }

    #[test]
    fn first_matching_glob_wins_and_unset_fields_come_from_the_repo_level() {
        let (p, found) = policy(
            "yaml:\n  version: 1.1\n  duplicate_keys: last-wins\n  reader: psych\n  files:\n    - files: \"charts/**\"\n      version: \"1.2\"\n      reader: go-yaml\n    - files: \"charts/legacy/**\"\n      duplicate_keys: error\n",
        );
        assert!(found.is_empty(), "{found:?}");
        let last_wins = DuplicateKeys::LastWins;
        assert_eq!(
            p.options_for("hieradata/common.yaml"),
            ParseOptions {
                version: YamlVersion::V1_1,
                duplicate_keys: last_wins,
                reader: YamlReader::Psych,
            }
        );
        assert_eq!(
            p.options_for("charts/legacy/values.yaml"),
            ParseOptions {
                version: YamlVersion::V1_2,
                duplicate_keys: last_wins,
                reader: YamlReader::GoYaml,
            }
        );
        assert_eq!(p.options_for(MANIFEST_FILE), ParseOptions::default());
    }

    #[test]
    fn ringmasters_own_files_keep_todays_reading_under_any_glob() {
        let (p, _) = policy(
            "flags: flags/\nrings: ops/rings\nyaml:\n  version: \"1.1\"\n  files:\n    - files: \"**\"\n      duplicate_keys: last-wins\n",
        );
        for own in [
            MANIFEST_FILE,
            "flags/new-checkout.yaml",
            "ops/rings/canary.yaml",
        ] {
            assert_eq!(p.options_for(own), ParseOptions::default(), "{own}");
        }
        assert_eq!(
            p.options_for("ops/rings/data/x.yaml").version,
            YamlVersion::V1_1
        );
    }

    #[test]
    fn no_section_is_todays_reading_everywhere() {
        let (p, _) = policy("version: 1\n");
        assert_eq!(p.options_for("a/b.yaml"), ParseOptions::default());
        assert!(p.files.is_empty());
    }

    #[test]
    fn a_bad_glob_is_a_manifest_finding_at_it() {
        let (_, found) = policy("yaml:\n  files:\n    - files: \"a/[b\"\n      version: \"1.1\"\n");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].rule, Rule::Manifest);
        assert_eq!(found[0].pos, Pos::new(3, 14));
    }
}
