//! The manifest's `merge:` section: each strategy and option on a small
//! hierarchy (`common.yaml` < `role/{role}.yaml` < `node/{class}.yaml`, later
//! layers more specific), with the value the modelled tool computes written
//! in the test and the document that says so cited beside it.

use serde_json::{Value, json};

use crate::support::{TestRepo, render_provenance, text};

/// A repo with one class `web1` (role `web`) and the given `merge:` section
/// (empty: none) and layer files.
fn repo(merge: &str, layers: &[(&str, &str)]) -> TestRepo {
    let repo = TestRepo::new();
    repo.file(
        "ringmaster.yaml",
        &format!(
            "version: 1\nhierarchy:\n  - common.yaml\n  - role/{{role}}.yaml\n  - node/{{class}}.yaml\nhost_classes:\n  web1: {{role: web}}\n{merge}"
        ),
    );
    for (path, text) in layers {
        repo.file(path, text);
    }
    repo
}

fn render(repo: &TestRepo) -> Value {
    repo.run(&["render", "--class", "web1", "--format", "json"])
        .expect_code(0)
        .json()
}

fn explain(repo: &TestRepo, key: &str) -> Value {
    repo.run(&["explain", "--class", "web1", key, "--format", "json"])
        .expect_code(0)
        .json()
}

const MONGO_COMMON: &str = "psick::mongo::tp::options:\n  bindIp: 127.0.0.1\n  port: 27017\n  dbPath: /var/lib/mongo\nprofile::web::settings:\n  workers: 4\n  timeout: 30\n";
const MONGO_NODE: &str =
    "psick::mongo::tp::options:\n  bindIp: 0.0.0.0\nprofile::web::settings:\n  workers: 8\n";

/// [`repo`] with Puppet's mongo options and a web profile in `common.yaml`,
/// both partly overridden in the node's file.
fn mongo_repo(merge: &str) -> TestRepo {
    repo(
        merge,
        &[
            ("common.yaml", MONGO_COMMON),
            ("node/web1.yaml", MONGO_NODE),
        ],
    )
}

// Hiera 5, "Merge behaviors" (help.puppet.com/osp/8/content/puppetcore/merge_behaviors.htm):
// "A first-found lookup doesn't merge anything: it returns the first value
// found for the key, and ignores the rest. This is Hiera's default behavior."
// The node's options hash is the whole answer: Puppet loses port and dbPath.
#[test]
fn first_gives_the_most_specific_layers_hash_whole_as_hieras_default_lookup() {
    let repo = mongo_repo("merge:\n  default: first\n");
    assert_eq!(
        render(&repo),
        json!({
            "psick::mongo::tp::options": {"bindIp": "0.0.0.0"},
            "profile::web::settings": {"workers": 8},
        })
    );
}

// The same lookup with a per-key rule (Hiera's lookup_options by exact key):
// only the named key is first-found, the rest stays deep-merged.
#[test]
fn a_rule_by_exact_key_path_applies_first_to_that_key_only() {
    let repo = mongo_repo(
        "merge:\n  keys:\n    - key: /psick::mongo::tp::options\n      strategy: first\n",
    );
    assert_eq!(
        render(&repo),
        json!({
            "psick::mongo::tp::options": {"bindIp": "0.0.0.0"},
            "profile::web::settings": {"workers": 8, "timeout": 30},
        })
    );
    let e = explain(&repo, "psick::mongo::tp::options.port");
    assert!(e["final"].is_null(), "{e}");
    let node_step = &e["layers"][2];
    assert_eq!(node_step["action"], "replaced", "{e}");
    assert_eq!(
        node_step["note"], "sets its parent `psick::mongo::tp::options` whole (first), without it",
        "{e}"
    );
}

// Ansible, DEFAULT_HASH_BEHAVIOUR (docs.ansible.com, configuration settings):
// the default `replace` has a dictionary variable from the higher-precedence
// source replace the lower one whole; `merge` is the deprecated opt-in
// (ansible/ansible#72669). group_vars/all < group_vars/web.
#[test]
fn first_models_ansibles_hash_behaviour_replace() {
    let repo = repo(
        "merge:\n  default: first\n",
        &[
            (
                "common.yaml",
                "ntp:\n  servers: [a.pool]\n  enabled: true\n",
            ),
            ("role/web.yaml", "ntp:\n  servers: [b.pool]\n"),
        ],
    );
    assert_eq!(render(&repo), json!({"ntp": {"servers": ["b.pool"]}}));
}

// Hiera 5, "Merge behaviors", Hash: "combines the keys and values of any
// number of hashes"; for a key in several of them the highest-priority
// source's value is taken whole (one level, unlike `deep`).
#[test]
fn hash_merges_one_level_and_replaces_each_keys_value_whole() {
    let repo = repo(
        "merge:\n  default: hash\n",
        &[
            ("common.yaml", "h:\n  a: {x: 1, y: 2}\n  b: 1\n"),
            ("node/web1.yaml", "h:\n  a: {x: 9}\n  c: 3\n"),
        ],
    );
    assert_eq!(render(&repo), json!({"h": {"a": {"x": 9}, "b": 1, "c": 3}}));
    let e = explain(&repo, "h");
    assert_eq!(e["strategy"], "hash", "{e}");
    assert_eq!(e["source"], "common.yaml:1, node/web1.yaml:1", "{e}");
}

// Hiera 1, "Lookup Types", Array Merge (the same `unique` in Hiera 5): with
// web01 `mykey: one` and common `mykey: [two, three]`, "an array merge lookup
// would return a value of [one, two, three]"; Hiera 5: "flattened ... All
// duplicate values are removed ... ordered from highest priority to lowest".
#[test]
fn unique_flattens_dedups_and_puts_the_most_specific_layer_first_as_hiera() {
    let repo = repo(
        "merge:\n  keys:\n    - key: mykey\n      strategy: unique\n    - key: roles\n      strategy: unique\n",
        &[
            (
                "common.yaml",
                "mykey:\n  - two\n  - three\nroles: [base, [ntp]]\n",
            ),
            ("node/web1.yaml", "mykey: one\nroles: [web, base]\n"),
        ],
    );
    assert_eq!(
        render(&repo),
        json!({"mykey": ["one", "two", "three"], "roles": ["web", "base", "ntp"]})
    );
    // Both layers are in the value, and provenance says so.
    let prov = repo.run(&render_provenance("web1")).expect_code(0).json();
    let leaf = &prov["leaves"]["mykey"];
    assert_eq!(leaf["strategy"], "unique", "{prov}");
    assert_eq!(
        leaf["contributors"],
        json!([
            {"file": "common.yaml", "line": 1, "column": 1, "layer": 1},
            {"file": "node/web1.yaml", "line": 1, "column": 1, "layer": 3},
        ]),
        "{prov}"
    );
    let yaml = repo
        .run(&["render", "--class", "web1", "--provenance"])
        .expect_code(0);
    yaml.assert_stdout_has("mykey:  # common.yaml:1, node/web1.yaml:1 (unique)");
}

// deep_merge as Hiera's deep uses it (Puppet::Pops::DeepMergeStrategy docs,
// rubydoc.info): source (higher) {x: [1,2,3], y: 2} into dest (lower)
// {x: [4,5,'6'], y: [7,8,9]} "Results: {:x => [1,2,3,4,5,'6'], :y => 2}".
#[test]
fn deep_with_unique_lists_merges_arrays_higher_priority_first_as_hiera_deep() {
    let repo = repo(
        "merge:\n  lists: unique\n",
        &[
            ("common.yaml", "d:\n  x: [4, 5, '6']\n  y: [7, 8, 9]\n"),
            ("node/web1.yaml", "d:\n  x: [1, 2, 3]\n  y: 2\n"),
        ],
    );
    assert_eq!(
        render(&repo),
        json!({"d": {"x": [1, 2, 3, 4, 5, "6"], "y": 2}})
    );
}

// Ansible's combine filter (ansible.builtin.combine docs), list_merge
// "append": "append newer entries to the older ones".
#[test]
fn deep_with_append_lists_puts_the_later_layers_items_after() {
    let repo = repo(
        "merge:\n  lists: append\n",
        &[
            ("common.yaml", "pkgs: [curl, git]\n"),
            ("role/web.yaml", "pkgs: [nginx, git]\n"),
        ],
    );
    assert_eq!(
        render(&repo),
        json!({"pkgs": ["curl", "git", "nginx", "git"]})
    );
}

// Hiera 5, deep option knockout_prefix ("Mastering Puppet 5"; deep_merge's
// docs: "prefix which deletes elements from existing element"): `--bob`
// removes the key bob, `--b` removes the array item b.
#[test]
fn knockout_prefix_removes_keys_and_array_items_as_hieras_deep_merge() {
    let repo = repo(
        "merge:\n  lists: unique\n  knockout_prefix: \"--\"\n",
        &[
            (
                "common.yaml",
                "users:\n  alice: {uid: 1}\n  bob: {uid: 2}\ngroups: [a, b, c]\n",
            ),
            (
                "node/web1.yaml",
                "users:\n  --bob: ~\n  carol: {uid: 3}\ngroups: [\"--b\", d]\n",
            ),
        ],
    );
    assert_eq!(
        render(&repo),
        json!({"users": {"alice": {"uid": 1}, "carol": {"uid": 3}}, "groups": ["d", "a", "c"]})
    );
    let e = explain(&repo, "users.bob");
    assert!(e["final"].is_null(), "{e}");
    assert_eq!(e["layers"][2]["action"], "removed", "{e}");
    assert_eq!(e["layers"][2]["note"], "`--bob`", "{e}");
}

// Hiera 5 deep options sort_merged_arrays and merge_hash_arrays ("Merge
// behaviors": "'sort_merged_arrays' - Boolean", "'merge_hash_arrays' -
// Boolean"), chosen by a regex rule as lookup_options allows.
#[test]
fn a_regex_rule_sorts_merged_arrays_and_merges_hash_arrays() {
    let repo = repo(
        "merge:\n  keys:\n    - match: '^profile::.*::plugins$'\n      lists: unique\n      sort_merged_arrays: true\n    - match: '::mounts$'\n      merge_hash_arrays: true\n",
        &[
            (
                "common.yaml",
                "profile::ci::plugins: [git, blue]\nprofile::ci::mounts: [{path: /a, ro: true}]\nother: [z, y]\n",
            ),
            (
                "node/web1.yaml",
                "profile::ci::plugins: [ansi, git]\nprofile::ci::mounts: [{ro: false}]\nother: [x]\n",
            ),
        ],
    );
    assert_eq!(
        render(&repo),
        json!({
            "profile::ci::plugins": ["ansi", "blue", "git"],
            "profile::ci::mounts": [{"path": "/a", "ro": false}],
            "other": ["x"],
        })
    );
}

// Helm, "Values Files" (chart template guide): "If you need to delete a key
// from the default values, you may override the value of the key to be
// null, in which case Helm will remove the key from the overridden values
// merge." The guide's Drupal example: httpGet goes, exec and
// initialDelaySeconds stay.
#[test]
fn nulls_delete_removes_the_overridden_key_as_helm() {
    let layers = [
        (
            "common.yaml",
            "livenessProbe:\n  httpGet:\n    path: /user/login\n    port: http\n  initialDelaySeconds: 120\n",
        ),
        (
            "node/web1.yaml",
            "livenessProbe:\n  httpGet: null\n  exec:\n    command: [cat, docroot/CHANGELOG.txt]\n",
        ),
    ];
    let helm = repo("merge:\n  nulls: delete\n", &layers);
    assert_eq!(
        render(&helm),
        json!({"livenessProbe": {"initialDelaySeconds": 120, "exec": {"command": ["cat", "docroot/CHANGELOG.txt"]}}})
    );
    let e = explain(&helm, "livenessProbe.httpGet");
    assert_eq!(e["layers"][2]["action"], "removed", "{e}");
    // Without the option the null is the value, as before.
    let keep = repo("", &layers);
    assert_eq!(render(&keep)["livenessProbe"]["httpGet"], Value::Null);
}

// SPEC §3.2's merge is what `deep` names: spelling out the defaults changes
// nothing in any output.
#[test]
fn spelling_out_the_default_policy_changes_no_output() {
    let layers = [
        (
            "common.yaml",
            "server:\n  port: 80\n  tls: {on: true}\nlist: [1, 2]\n",
        ),
        (
            "node/web1.yaml",
            "server:\n  port: 8080\n  tls: !unset\nlist: [3]\nx: 1\n",
        ),
    ];
    let plain = repo("", &layers);
    let spelled = repo(
        "merge:\n  default: deep\n  lists: replace\n  nulls: keep\n",
        &layers,
    );
    for args in [
        &["render", "--class", "web1", "--provenance"][..],
        &render_provenance("web1"),
        &["explain", "--class", "web1", "server", "--format", "json"],
        &["check", "--format", "json"],
    ] {
        let (a, b) = (plain.run(args), spelled.run(args));
        assert_eq!(a.stdout, b.stdout, "{args:?}");
    }
}

// A merged map's source is every layer that contributed to it (it named
// only the first before).
#[test]
fn explain_names_every_contributor_of_a_merged_map() {
    let repo = repo(
        "",
        &[
            ("common.yaml", "server:\n  port: 80\n"),
            ("role/web.yaml", "# web\nserver:\n  port: 81\n"),
            ("node/web1.yaml", "server:\n  port: 82\n"),
        ],
    );
    let e = explain(&repo, "server");
    assert_eq!(e["strategy"], "deep", "{e}");
    assert_eq!(
        e["source"], "common.yaml:1, role/web.yaml:2, node/web1.yaml:1",
        "{e}"
    );
    let layers: Vec<u64> = e["contributors"]
        .as_array()
        .map(|c| c.iter().filter_map(|x| x["layer"].as_u64()).collect())
        .unwrap_or_default();
    assert_eq!(layers, [1, 2, 3], "{e}");
    let human = repo
        .run(&["explain", "--class", "web1", "server"])
        .expect_code(0);
    human.assert_stdout_has("(from common.yaml:1, role/web.yaml:2, node/web1.yaml:1)");
}

fn refused(merge: &str) -> Value {
    let repo = repo(merge, &[("common.yaml", "a: 1\n")]);
    let out = repo.run(&["check", "--format", "json"]).expect_code(2);
    let f = out.findings()[0].clone();
    assert_eq!(f["rule"], "manifest", "{f}");
    f
}

#[test]
fn an_unknown_strategy_is_a_manifest_error_at_its_line_with_a_suggestion() {
    let f = refused("merge:\n  keys:\n    - key: a\n      strategy: uniq\n");
    assert_eq!(f["line"], 11, "{f}");
    let message = f["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("`uniq`") && message.contains("`unique`"),
        "{f}"
    );
}

#[test]
fn an_invalid_regex_is_a_manifest_error_at_its_line() {
    let f = refused("merge:\n  default: deep\n  keys:\n    - match: '^profile::(.*$'\n");
    assert_eq!(f["line"], 11, "{f}");
    assert!(
        f["message"]
            .as_str()
            .unwrap_or_default()
            .contains("not a valid regex"),
        "{f}"
    );
}

#[test]
fn render_refuses_a_manifest_with_an_unknown_list_merge() {
    let repo = repo("merge:\n  lists: concat\n", &[("common.yaml", "a: 1\n")]);
    let out = repo.run(&["render", "--class", "web1"]).expect_code(2);
    out.assert_stderr_has("ringmaster.yaml:9");
}

// The whole human answer for a first-found key: each layer's part, the
// replacing layer's note, the final value and the strategy that applied.
#[test]
fn explain_human_walks_a_first_found_key_and_names_the_strategy() {
    let repo = mongo_repo(
        "merge:\n  keys:\n    - key: /psick::mongo::tp::options\n      strategy: first\n",
    );
    let port = repo
        .run(&[
            "explain",
            "--class",
            "web1",
            "psick::mongo::tp::options.port",
        ])
        .expect_code(0);
    let options = repo
        .run(&["explain", "--class", "web1", "psick::mongo::tp::options"])
        .expect_code(0);
    insta::assert_snapshot!(format!(
        "--- port\n{}--- options\n{}",
        port.stdout, options.stdout
    ));
}

// Keys may hold dots and slashes: a finding's pointer is built from the key
// segments (RFC 6901: `/` → `~1`), not by splitting a dotted string.
#[test]
fn findings_point_at_keys_with_dots_and_slashes_segment_by_segment() {
    let repo = repo(
        "",
        &[
            (
                "common.yaml",
                "sysctl:\n  net.ipv4.ip_forward: 1\nlabels:\n  app.kubernetes.io/name: web\n",
            ),
            (
                "node/web1.yaml",
                "sysctl:\n  net.ipv4.ip_forward: [1]\nlabels:\n  app.kubernetes.io/part-of: shop\n",
            ),
        ],
    );
    let out = repo.run(&["check", "--format", "json"]);
    let paths: Vec<(String, String)> = out
        .findings()
        .iter()
        .map(|f| (text(f, "rule"), text(f, "path")))
        .collect();
    assert!(
        paths.contains(&("type-change".into(), "/sysctl/net.ipv4.ip_forward".into())),
        "{paths:?}"
    );
    assert!(
        paths.contains(&(
            "unknown-override".into(),
            "/labels/app.kubernetes.io~1part-of".into()
        )),
        "{paths:?}"
    );
}

// A schema error inside a list merged from two layers is reported at the
// list's key in the layer that set it last, not at a line of the other file.
#[test]
fn a_schema_error_inside_a_merged_list_points_at_the_list_not_at_another_files_line() {
    let repo = repo(
        "effective:\n  schema: schemas/eff.json\nmerge:\n  lists: append\n",
        &[
            (
                "schemas/eff.json",
                r#"{"type": "object", "properties": {"ports": {"type": "array", "items": {"type": "integer"}}}}"#,
            ),
            ("common.yaml", "# ports\n\n\nports:\n  - 80\n  - x\n"),
            ("node/web1.yaml", "ports: [443]\n"),
        ],
    );
    let out = repo.run(&["check", "--format", "json"]);
    let schema: Vec<(String, u64)> = out
        .findings()
        .iter()
        .filter(|f| f["rule"] == "schema")
        .map(|f| {
            (
                f["file"].as_str().unwrap_or_default().to_owned(),
                f["line"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(schema, [("node/web1.yaml".to_owned(), 1)], "{}", out.stdout);
}

// The review the issue starts from: a plugin added to a role's hash. Under
// Hiera's first-found lookup (merge_behaviors.htm above) a node that sets the
// key itself never sees the role's hash, so Puppet changes nothing for it;
// only the node without its own value gets the plugin. A deep merge would
// report the change for every node of the role.
#[test]
fn diff_under_first_found_reports_only_the_nodes_whose_value_changes() {
    let repo = TestRepo::new();
    let manifest = |merge: &str| {
        format!(
            "version: 1\nhierarchy:\n  - role/{{role}}.yaml\n  - node/{{class}}.yaml\nhost_classes:\n  web1: {{role: web}}\n  web2: {{role: web}}\n  web3: {{role: web}}\n{merge}"
        )
    };
    repo.file("ringmaster.yaml", &manifest("merge:\n  default: first\n"))
        .file(
            "role/web.yaml",
            "profile::plugins:\n  auth: {enabled: true}\n",
        )
        .file(
            "node/web1.yaml",
            "profile::plugins:\n  auth: {enabled: false}\n",
        )
        .file(
            "node/web2.yaml",
            "profile::plugins:\n  metrics: {enabled: true}\n",
        )
        .commit("base");
    repo.file(
        "role/web.yaml",
        "profile::plugins:\n  auth: {enabled: true}\n  cache: {enabled: true}\n",
    );
    let changed = |repo: &TestRepo| -> Vec<(String, String, String)> {
        let report = repo
            .run(&["diff", "--format", "json"])
            .expect_code(0)
            .json();
        let mut out = Vec::new();
        for class in report["classes"].as_array().expect("classes") {
            for change in class["changes"].as_array().expect("changes") {
                out.push((
                    class["class"].as_str().unwrap_or_default().to_owned(),
                    change["path"].as_str().unwrap_or_default().to_owned(),
                    change["op"].as_str().unwrap_or_default().to_owned(),
                ));
            }
        }
        out
    };
    assert_eq!(
        changed(&repo),
        [(
            "web3".to_owned(),
            "profile::plugins.cache.enabled".to_owned(),
            "added".to_owned()
        )],
        "first-found: the nodes with their own profile::plugins see no change"
    );
    // The same edit under today's deep merge reaches every node of the role.
    repo.file("ringmaster.yaml", &manifest("")).commit("deep");
    repo.file("role/web.yaml", "profile::plugins:\n  auth: {enabled: true}\n  cache: {enabled: true}\n  tls: {enabled: true}\n");
    let classes: Vec<String> = changed(&repo).into_iter().map(|(c, _, _)| c).collect();
    assert_eq!(classes, ["web1", "web2", "web3"]);
}
