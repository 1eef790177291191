//! `ringmaster import hiera`: the imported repo renders, for every node and
//! every key its data files define, what Puppet's own `lookup()` returns —
//! asked of the real Puppet (Debian's `puppet`, with `hiera-eyaml` for the
//! eyaml level) on the same fixture, key by key.

use std::path::Path;
use std::process::Command;

use serde_json::{Map, Value};

use crate::support::{TestRepo, run_tool};

fn fixture(name: &str) -> TestRepo {
    TestRepo::from_fixture(&format!("import/hiera/{name}"))
}

/// `import hiera` of the `subdir` fixture, whose hiera.yaml is not at the root.
fn import_subdir(repo: &TestRepo) -> crate::support::Output {
    repo.run(&[
        "import",
        "hiera",
        "--config",
        "puppet/hiera.yaml",
        "--nodes",
        "nodes.yaml",
    ])
}

/// The nodes file as JSON (read by Ruby's YAML, as Puppet reads YAML).
fn nodes_json(path: &Path) -> Map<String, Value> {
    let out = run_tool(
        Command::new("ruby")
            .args([
                "-ryaml",
                "-rjson",
                "-e",
                "puts JSON.generate(YAML.load_file(ARGV[0]) || {})",
            ])
            .arg(path),
        "ruby (nodes file to JSON)",
    );
    match serde_json::from_slice(&out.stdout) {
        Ok(Value::Object(m)) => m,
        other => panic!("nodes file is no mapping: {other:?}"),
    }
}

/// What Puppet's `lookup(KEY)` gives for `node`, for every top-level key of
/// every data file under `repo` (but `lookup_options`; a key holding a dot
/// is looked up quoted, as its own name): `{"value": v}` or
/// `{"error": message}`. One `puppet apply` per node; the node's facts are
/// structured external facts (they override the core facts, e.g. `os`).
fn puppet_lookups(
    repo: &Path,
    hiera_config: &str,
    node: &str,
    facts: &Value,
) -> Map<String, Value> {
    let work = tempfile::tempdir().expect("temp dir");
    let facts_d = work.path().join("var/facts.d");
    std::fs::create_dir_all(&facts_d).expect("facts.d");
    let facts = match facts {
        Value::Null => Value::Object(Map::new()),
        other => other.clone(),
    };
    std::fs::write(facts_d.join("node.json"), facts.to_string()).expect("write facts");
    // Puppet 7 has no to_json: an ERB template prints the answers as JSON.
    let template = r#"<%= require "json"; require "yaml"; skip = ["ringmaster.yaml", "nodes.yaml", "hiera.yaml"]; keys = Dir.glob(File.join(@root, "**", "*.{yaml,yml,eyaml,json}")).reject { |f| skip.include?(File.basename(f)) }.flat_map { |f| d = (YAML.safe_load(File.read(f), aliases: true) rescue nil); d.is_a?(Hash) ? d.keys.map(&:to_s) : [] }.uniq - ["lookup_options"]; JSON.generate(keys.map { |k| begin; [k, {"value" => scope.call_function("lookup", [k.include?(".") ? 34.chr + k + 34.chr : k])}]; rescue => e; [k, {"error" => e.message}]; end }.to_h) %>"#;
    let code = format!(
        "$root = '{}'\nnotice(inline_template('{}'))\n",
        repo.display(),
        template
    );
    let out = Command::new("puppet")
        .arg("apply")
        .args(["--certname", node])
        .arg("--hiera_config")
        .arg(repo.join(hiera_config))
        .arg("--vardir")
        .arg(work.path().join("var"))
        .arg("--confdir")
        .arg(work.path().join("conf"))
        .arg("--codedir")
        .arg(work.path().join("code"))
        .args(["--color", "false", "-e", &code])
        .output()
        .unwrap_or_else(|e| panic!("puppet: cannot run it ({e}); install Debian's puppet"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let marker = "Notice: Scope(Class[main]): ";
    let Some(line) = stdout
        .lines()
        .find_map(|l| l.split_once(marker).map(|(_, j)| j))
    else {
        panic!(
            "puppet apply printed no answer for {node} ({}):\n{stdout}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    };
    match serde_json::from_str(line) {
        Ok(Value::Object(m)) => m,
        other => panic!("puppet's answer is no JSON object: {other:?}\n{line}"),
    }
}

/// Imports a fixture, then compares `render` with Puppet for every node,
/// failing with one line per key that differs.
fn assert_matches_puppet(name: &str, config: Option<&str>) {
    let repo = fixture(name);
    let mut args = vec!["import", "hiera", "--nodes", "nodes.yaml"];
    if let Some(c) = config {
        args.extend(["--config", c]);
    }
    repo.run(&args).assert_code(0);
    let hiera_config = config.unwrap_or("hiera.yaml");
    let nodes = nodes_json(&repo.path().join("nodes.yaml"));
    assert!(!nodes.is_empty(), "fixture {name} has no nodes");
    let mut diffs = Vec::new();
    let mut compared = 0;
    for (node, facts) in &nodes {
        let puppet = puppet_lookups(repo.path(), hiera_config, node, facts);
        let rendered = repo
            .run(&["render", "--class", node, "--format", "json"])
            .assert_code(0)
            .json();
        let Value::Object(rendered) = rendered else {
            panic!("render of {node} is no JSON object: {rendered}");
        };
        for (key, answer) in &puppet {
            let ours = rendered.get(key);
            match (answer.get("value"), answer.get("error")) {
                (Some(theirs), _) => {
                    compared += 1;
                    if ours != Some(theirs) {
                        diffs.push(format!(
                            "{node} {key}: puppet {theirs}, ringmaster {}",
                            ours.map_or("(not set)".to_owned(), Value::to_string)
                        ));
                    }
                }
                (None, Some(Value::String(error))) if error.contains("did not find a value") => {
                    if let Some(ours) = ours {
                        diffs.push(format!(
                            "{node} {key}: puppet finds nothing, ringmaster {ours}"
                        ));
                    }
                }
                // Puppet holds no key to decrypt with; ringmaster keeps the
                // encrypted value as written (its documented behaviour).
                (None, Some(Value::String(error))) if error.contains("decrypting ENC[") => {
                    if !ours.is_some_and(|v| v.to_string().contains("ENC[")) {
                        diffs.push(format!(
                            "{node} {key}: encrypted in the data, ringmaster {}",
                            ours.map_or("(not set)".to_owned(), Value::to_string)
                        ));
                    }
                }
                (None, Some(Value::String(error))) if error.contains("eyaml_lookup_key") => {
                    panic!(
                        "puppet cannot read the eyaml level: install Debian's hiera-eyaml ({error})"
                    )
                }
                _ => diffs.push(format!("{node} {key}: puppet fails: {answer}")),
            }
        }
        for key in rendered.keys() {
            if !puppet.contains_key(key) {
                diffs.push(format!(
                    "{node} {key}: no data file defines it, ringmaster renders it"
                ));
            }
        }
    }
    assert!(
        diffs.is_empty(),
        "fixture {name}: render differs from Puppet's lookup:\n{}",
        diffs.join("\n")
    );
    assert!(compared >= nodes.len(), "fixture {name}: nothing compared");
}

/// First found over path/paths/glob/globs/mapped_paths levels, a datadir
/// with `%{}`, lookup_options merged across levels (a `hash` in common.yaml
/// over two more specific files), exact and regex keys, every interpolation
/// form, an eyaml level, a symlinked data file, an empty one, YAML 1.1,
/// duplicate keys and a flow collection closed at column 0.
#[test]
fn imported_hiera_repo_renders_what_puppet_looks_up_for_every_node_and_key() {
    assert_matches_puppet("full", None);
}

/// Every strategy's exact semantics: deep (arrays `lower | higher`, nulls,
/// new keys), knockout_prefix (items, a lone prefix, knocked scalars), unique
/// (flattened, a scalar, one level), hash, sort_merged_arrays,
/// merge_hash_arrays, an exact key before a regex, and a more specific
/// level's lookup_options replacing the common one.
#[test]
fn every_lookup_options_strategy_merges_as_puppet_does() {
    assert_matches_puppet("strategies", None);
}

/// The deep merge's corners: a false or null lower value replaced whole, a
/// null or empty higher one keeping the lower, `false` over a list, and
/// knockouts of a whole list, of a lower scalar (the array without its
/// knockout items, as Puppet returns it) and of nested items.
#[test]
fn deep_merge_corners_merge_as_puppet_does() {
    assert_matches_puppet("corners", None);
}

/// hiera.yaml in a subdirectory (`--config`), datadir relative to it, a
/// json_data level and lookup_options in a JSON file.
#[test]
fn hiera_config_in_a_subdirectory_with_json_data_matches_puppet() {
    assert_matches_puppet("subdir", Some("puppet/hiera.yaml"));
}

#[test]
fn import_refuses_to_overwrite_a_manifest_without_force_and_leaves_it_unchanged() {
    let repo = fixture("subdir");
    repo.file("ringmaster.yaml", "version: 1\n");
    let out = import_subdir(&repo);
    out.assert_code(2).assert_stderr_has("--force");
    assert_eq!(repo.read("ringmaster.yaml"), "version: 1\n");
}

#[test]
fn import_prints_what_it_wrote_and_a_second_import_is_byte_identical() {
    let repo = fixture("full");
    let out = repo.run(&["import", "hiera", "--nodes", "nodes.yaml"]);
    out.assert_code(0)
        .assert_stdout_has("ringmaster.yaml from Hiera: 4 host classes, reading hiera.yaml")
        .assert_stderr_has("the `trusted` given for `bare-node` is left out");
    let first = repo.read("ringmaster.yaml");
    // The data changes; the manifest only names hiera.yaml and the facts.
    repo.file("data/common.yaml", "plain: changed\n");
    repo.run(&["import", "hiera", "--nodes", "nodes.yaml", "--force"])
        .assert_code(0)
        .assert_stdout_has("replaced");
    assert_eq!(repo.read("ringmaster.yaml"), first);
    assert!(
        first.contains("hiera:\n  config: \"hiera.yaml\"\n"),
        "{first}"
    );
    assert!(
        first.contains("\"is_virtual\":\"false\""),
        "a boolean fact is kept as its text: {first}"
    );
}

#[test]
fn check_passes_on_an_imported_repo() {
    let repo = fixture("full");
    repo.run(&["import", "hiera", "--nodes", "nodes.yaml"])
        .assert_code(0);
    repo.run(&["check"]).assert_code(0);
}

#[test]
fn nodes_file_outside_the_repo_is_embedded_as_host_classes() {
    let repo = fixture("subdir");
    let elsewhere = tempfile::tempdir().expect("temp dir");
    let nodes = elsewhere.path().join("nodes.yaml");
    std::fs::write(&nodes, "app1:\n  location: {site: ams, rack: r1}\n").expect("write nodes");
    repo.run(&[
        "import",
        "hiera",
        "--config",
        "puppet/hiera.yaml",
        "--nodes",
        nodes.to_str().expect("utf-8 path"),
    ])
    .assert_code(0);
    let rendered = repo
        .run(&["render", "--class", "app1", "--format", "json"])
        .assert_code(0)
        .json();
    assert_eq!(rendered["rack_key"], "r1");
    assert_eq!(rendered["motd"], "Welcome to ams (app1, production)");
}

#[test]
fn hiera_version_3_is_refused_with_a_clear_error() {
    let repo = TestRepo::new();
    repo.file(
        "hiera.yaml",
        ":backends:\n  - yaml\n:hierarchy:\n  - common\n:yaml:\n  :datadir: data\n",
    )
    .file("nodes.yaml", "n1: {}\n");
    let out = repo.run(&["import", "hiera", "--nodes", "nodes.yaml"]);
    out.assert_code(2).assert_stderr_has("not a Hiera 5 config");
    assert!(!repo.path().join("ringmaster.yaml").exists());
}

#[test]
fn a_level_ringmaster_cannot_read_is_a_warning_naming_it_and_is_left_out() {
    let repo = TestRepo::new();
    repo.file(
        "hiera.yaml",
        "version: 5\ndefaults: {datadir: data, data_hash: yaml_data}\nhierarchy:\n  - name: Vault secrets\n    lookup_key: vault_lookup\n    path: vault\n  - name: HOCON\n    data_hash: hocon_data\n    path: common.conf\n  - name: Local data\n    path: /etc/puppetlabs/puppet/local.yaml\n  - name: No path\n  - name: Common\n    path: common.yaml\n",
    )
    .file("data/common.yaml", "a: 1\n")
    .file("data/common.conf", "a = 2\n")
    .file("nodes.yaml", "n1: {}\n");
    let out = repo.run(&["import", "hiera", "--nodes", "nodes.yaml"]);
    out.assert_code(0)
        .assert_stderr_has("hierarchy level `Vault secrets` is left out")
        .assert_stderr_has("lookup_key: vault_lookup")
        .assert_stderr_has("hierarchy level `HOCON` is left out")
        .assert_stderr_has("hierarchy level `Local data` is left out: `/etc/puppetlabs/puppet/local.yaml` is an absolute path")
        .assert_stderr_has("hierarchy level `No path` is left out: it names no path");
    let rendered = repo
        .run(&["render", "--class", "n1", "--format", "json"])
        .assert_code(0)
        .json();
    assert_eq!(rendered, serde_json::json!({"a": 1}));
}

#[test]
fn a_hierarchy_written_beside_the_hiera_section_is_refused() {
    let repo = fixture("subdir");
    import_subdir(&repo).assert_code(0);
    let text = repo.read("ringmaster.yaml");
    repo.file(
        "ringmaster.yaml",
        &format!("{text}hierarchy:\n  - puppet/hieradata/common.yaml\n"),
    );
    repo.run(&["check"])
        .assert_code(2)
        .assert_stdout_has("`hierarchy` is set beside `hiera:`");
}

/// The manifest reads hiera.yaml at the revision asked for: a change to it
/// shows in `diff` like a change to data.
#[test]
fn a_change_to_hiera_yaml_shows_in_diff() {
    let repo = fixture("subdir");
    import_subdir(&repo).assert_code(0);
    repo.commit("imported");
    // Drop the Location level.
    let config = repo.read("puppet/hiera.yaml");
    let start = config
        .find("  - name: \"Location\"")
        .expect("location level");
    let end = config.find("  - name: \"Common\"").expect("common level");
    repo.file(
        "puppet/hiera.yaml",
        &format!("{}{}", &config[..start], &config[end..]),
    );
    let out = repo.run(&["diff", "--format", "json"]);
    let text = out.stdout.clone();
    assert!(
        text.contains("rack_key"),
        "diff shows the level's keys going: {text}"
    );
}

/// From another directory, `--config` may name hiera.yaml relative to the
/// `--into` directory.
#[test]
fn config_may_be_relative_to_the_into_directory() {
    let repo = fixture("subdir");
    let elsewhere = tempfile::tempdir().expect("temp dir");
    let into = repo.path().to_str().expect("utf-8 path");
    let nodes = repo.path().join("nodes.yaml");
    crate::support::run_at(
        elsewhere.path(),
        &[
            "import",
            "hiera",
            "--into",
            into,
            "--config",
            "puppet/hiera.yaml",
            "--nodes",
            nodes.to_str().expect("utf-8 path"),
        ],
    )
    .assert_code(0)
    .assert_stdout_has("reading puppet/hiera.yaml");
    repo.run(&["check"]).assert_code(0);
}
