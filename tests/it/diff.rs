//! `ringmaster diff [--base REV] [--head REV] [--class GLOB]`: effective-value
//! changes per host class between two revisions, read from git objects
//! (SPEC §4, §5; README "Choices the SPEC leaves open"). On the layered
//! fixture of `support::LAYERED_FILES` and on a copy of `examples/shop`.
//!
//! Expected change sets are written by hand from the edits each test makes.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::render::shop;
use crate::support::{Output, TestRepo, flatten, items, keys, redactions, run_at, text};

fn diff(repo: &TestRepo, args: &[&str]) -> Output {
    let mut all = vec!["diff"];
    all.extend_from_slice(args);
    repo.run(&all)
}

/// `diff ARGS… --format json`, expecting exit 0.
fn diff_json(repo: &TestRepo, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend_from_slice(&["--format", "json"]);
    let out = diff(repo, &all).expect_code(0);
    out.json()
}

/// The JSON Pointer beside a dotted `path` (SPEC §8). The keys in this
/// module hold no dots, so each dot separates two keys.
fn pointer(path: &str) -> String {
    assert!(!path.contains('"'), "{path} is a plain dotted path");
    format!("/{}", path.replace('.', "/"))
}

fn changed(path: &str, old: Value, new: Value, source: &str) -> Value {
    json!({"path": path, "pointer": pointer(path), "op": "changed", "old": old, "new": new, "source": source})
}

fn added(path: &str, new: Value, source: &str) -> Value {
    json!({"path": path, "pointer": pointer(path), "op": "added", "new": new, "source": source})
}

fn removed(path: &str, old: Value, source: &str) -> Value {
    json!({"path": path, "pointer": pointer(path), "op": "removed", "old": old, "source": source})
}

/// A change as the tests compare it: `old` on an added leaf and `new` on a
/// removed one may be absent or null.
fn normal(change: &Value) -> Value {
    let mut c = change.as_object().cloned().unwrap_or_default();
    c.retain(|_, v| !v.is_null());
    Value::Object(c)
}

/// `class → (status, changes)` of a JSON report.
fn by_class(report: &Value) -> BTreeMap<String, (String, Vec<Value>)> {
    items(report, "classes")
        .iter()
        .map(|c| {
            let changes = items(c, "changes").iter().map(normal).collect();
            (text(c, "class"), (text(c, "status"), changes))
        })
        .collect()
}

fn expect(entries: Vec<(&str, &str, Vec<Value>)>) -> BTreeMap<String, (String, Vec<Value>)> {
    entries
        .into_iter()
        .map(|(class, status, changes)| {
            (
                class.to_owned(),
                (status.to_owned(), changes.iter().map(normal).collect()),
            )
        })
        .collect()
}

fn summary(report: &Value) -> (u64, u64, u64) {
    let s = &report["summary"];
    (
        s["classes_total"].as_u64().unwrap_or(u64::MAX),
        s["classes_changed"].as_u64().unwrap_or(u64::MAX),
        s["changes"].as_u64().unwrap_or(u64::MAX),
    )
}

const WEB_81: &str = "# web front ends\nserver:\n  port: 81\n  tls:\n    enabled: true\nlogging:\n  sinks: [file, stdout]\n";

/// The edits of the "B" revision, on top of the layered fixture:
/// - role/web.yaml:3: port 80 → 81 (web-eu, web-us);
/// - region/eu.yaml:6: a new `server.tls.min_version` (web-eu, db-eu);
/// - class/web-eu.yaml: the `features.search: false` override goes, so the
///   default `true` (defaults.yaml:12) comes through;
/// - tenant/acme.yaml:4-5: `logging.level` is knocked out for web-us.
fn edit_b(repo: &TestRepo) {
    repo.file("config/role/web.yaml", WEB_81)
        .file(
            "config/region/eu.yaml",
            "logging:\n  level: warn\nserver:\n  tls:\n    ciphers: [chacha20]\n    min_version: tls12\n",
        )
        .file("config/class/web-eu.yaml", "server:\n  host: !unset\n")
        .file(
            "config/tenant/acme.yaml",
            "name: acme\nfeatures:\n  beta: true\nlogging:\n  level: !unset\n",
        );
}

fn expected_b() -> BTreeMap<String, (String, Vec<Value>)> {
    expect(vec![
        (
            "db-eu",
            "changed",
            vec![added(
                "server.tls.min_version",
                json!("tls12"),
                "config/region/eu.yaml:6",
            )],
        ),
        (
            "web-eu",
            "changed",
            vec![
                changed(
                    "features.search",
                    json!(false),
                    json!(true),
                    "config/defaults.yaml:12",
                ),
                changed(
                    "server.port",
                    json!(80),
                    json!(81),
                    "config/role/web.yaml:3",
                ),
                added(
                    "server.tls.min_version",
                    json!("tls12"),
                    "config/region/eu.yaml:6",
                ),
            ],
        ),
        (
            "web-us",
            "changed",
            vec![
                removed("logging.level", json!("info"), "config/defaults.yaml:9"),
                changed(
                    "server.port",
                    json!(80),
                    json!(81),
                    "config/role/web.yaml:3",
                ),
            ],
        ),
    ])
}

/// The layered fixture as commit A, the B edits as commit B.
fn two_commits() -> (TestRepo, String, String) {
    let repo = TestRepo::layered();
    let a = repo.rev_parse("HEAD");
    edit_b(&repo);
    repo.commit("B");
    let b = repo.rev_parse("HEAD");
    (repo, a, b)
}

#[test]
fn json_between_two_revisions_is_as_in_the_spec() {
    let (repo, a, b) = two_commits();
    let out = diff(&repo, &["--base", &a, "--head", &b, "--format", "json"]).expect_code(0);
    let report = out.json();
    assert_eq!(
        keys(&report),
        ["base", "head", "classes", "summary"],
        "{report:#}"
    );
    assert_eq!(report["base"], a.as_str());
    assert_eq!(report["head"], b.as_str());
    // Every class: `class`, `changes`, and the `status` extension; every
    // change: path, op, old/new, source.
    for class in report["classes"].as_array().unwrap() {
        let mut own = keys(class);
        own.sort_unstable();
        assert_eq!(own, ["changes", "class", "status"], "{class}");
        for change in class["changes"].as_array().unwrap() {
            let c = change.as_object().unwrap();
            for key in ["path", "pointer", "op", "source"] {
                assert!(c[key].is_string(), "{change}");
            }
            match c["op"].as_str().unwrap() {
                "changed" => assert!(c.contains_key("old") && c.contains_key("new"), "{change}"),
                "added" => assert!(c.contains_key("new"), "{change}"),
                "removed" => assert!(c.contains_key("old"), "{change}"),
                op => panic!("unknown op {op}"),
            }
        }
    }
    assert_eq!(by_class(&report), expected_b());
    // Classes sorted by name, changes by path.
    let names: Vec<&str> = report["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["class"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["db-eu", "web-eu", "web-us"]);
    assert_eq!(summary(&report), (3, 3, 6));
    let mut summary_keys: Vec<&str> = keys(&report["summary"]);
    summary_keys.sort_unstable();
    assert_eq!(
        summary_keys,
        ["changes", "classes_changed", "classes_total"]
    );
}

#[test]
fn revisions_by_name_and_the_reverse_direction() {
    let (repo, _, _) = two_commits();
    let report = diff_json(&repo, &["--base", "HEAD~1", "--head", "HEAD"]);
    assert_eq!(by_class(&report), expected_b());
    assert_eq!(report["base"], repo.rev_parse("HEAD~1").as_str());
    assert_eq!(report["head"], repo.rev_parse("HEAD").as_str());
    // B → A: added becomes removed (with the base side's source), and so on.
    let back = diff_json(&repo, &["--base", "HEAD", "--head", "HEAD~1"]);
    assert_eq!(
        by_class(&back),
        expect(vec![
            (
                "db-eu",
                "changed",
                vec![removed(
                    "server.tls.min_version",
                    json!("tls12"),
                    "config/region/eu.yaml:6"
                )],
            ),
            (
                "web-eu",
                "changed",
                vec![
                    changed(
                        "features.search",
                        json!(true),
                        json!(false),
                        "config/class/web-eu.yaml:4"
                    ),
                    changed(
                        "server.port",
                        json!(81),
                        json!(80),
                        "config/role/web.yaml:3"
                    ),
                    removed(
                        "server.tls.min_version",
                        json!("tls12"),
                        "config/region/eu.yaml:6"
                    ),
                ],
            ),
            (
                "web-us",
                "changed",
                vec![
                    added("logging.level", json!("info"), "config/defaults.yaml:9"),
                    changed(
                        "server.port",
                        json!(81),
                        json!(80),
                        "config/role/web.yaml:3"
                    ),
                ],
            ),
        ])
    );
}

#[test]
fn identical_revisions_have_no_changes() {
    let (repo, _, b) = two_commits();
    let report = diff_json(&repo, &["--base", &b, "--head", "HEAD"]);
    assert_eq!(report["classes"], json!([]));
    assert_eq!(summary(&report), (3, 0, 0));
    let human = diff(&repo, &["--base", &b, "--head", "HEAD"]).expect_code(0);
    assert!(
        human
            .stdout
            .contains("changes 0 values in 0 of 3 host classes"),
        "{}",
        human.stdout
    );
}

/// Everything `git` can tell about the working tree and the index.
fn tree_state(repo: &TestRepo, files: &[&str]) -> Vec<String> {
    let mut state = vec![
        repo.git(&["status", "--porcelain=v1", "--untracked-files=all"]),
        repo.git(&["diff"]),
        repo.git(&["diff", "--cached"]),
        repo.git(&["rev-parse", "HEAD"]),
        repo.git(&["ls-files", "--stage"]),
    ];
    state.extend(files.iter().map(|f| {
        std::fs::read(repo.path().join(f))
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_else(|e| format!("{f}: {e}"))
    }));
    state
}

#[test]
fn diffing_two_revisions_never_touches_the_working_tree() {
    let (repo, a, b) = two_commits();
    // A dirty tree: an unstaged edit, a staged edit, an untracked class file
    // and a deleted file.
    repo.file("config/role/web.yaml", &WEB_81.replace("81", "99"))
        .file(
            "config/role/db.yaml",
            "server:\n  port: 6000\nfeatures: !unset\n",
        )
        .stage("config/role/db.yaml")
        .file("config/class/web-us.yaml", "ratio: 0.75\n")
        .remove("config/tenant/acme.yaml");
    let files = [
        "config/role/web.yaml",
        "config/role/db.yaml",
        "config/class/web-us.yaml",
        "config/region/eu.yaml",
        "config/defaults.yaml",
        "ringmaster.yaml",
    ];
    let before = tree_state(&repo, &files);
    let index = || std::fs::read(repo.path().join(".git/index")).expect("read .git/index");
    for format in ["json", "human", "markdown"] {
        // The index file byte for byte, read right around the run (a `git
        // status` in between may refresh it by itself).
        let index_before = index();
        let out = diff(&repo, &["--base", &a, "--head", &b, "--format", format]);
        assert!(index() == index_before, "the index was rewritten");
        out.assert_code(0);
        assert_eq!(tree_state(&repo, &files), before, "after --format {format}");
    }
    diff(&repo, &["--base", &a, "--head", &b, "--text"]).assert_code(0);
    assert_eq!(tree_state(&repo, &files), before, "after --text");
    // And the answer is the revisions', not the working tree's.
    let report = diff_json(&repo, &["--base", &a, "--head", &b]);
    assert_eq!(by_class(&report), expected_b());
    assert!(!repo.path().join("config/tenant/acme.yaml").exists());
}

#[test]
fn default_is_head_against_the_working_tree() {
    let repo = TestRepo::layered();
    let head = repo.rev_parse("HEAD");
    repo.file("config/role/web.yaml", &WEB_81.replace("81", "82"))
        // Staged, and then the working tree moves on again: the working tree counts.
        .file(
            "config/role/db.yaml",
            "server:\n  port: 5433\nfeatures: !unset\n",
        )
        .stage("config/role/db.yaml")
        .file(
            "config/role/db.yaml",
            "server:\n  port: 5434\nfeatures: !unset\n",
        )
        // Untracked: a new class file for web-us.
        .file("config/class/web-us.yaml", "# web-us only\nname: custom\n");
    let expected = expect(vec![
        (
            "db-eu",
            "changed",
            vec![changed(
                "server.port",
                json!(5432),
                json!(5434),
                "config/role/db.yaml:2",
            )],
        ),
        (
            "web-eu",
            "changed",
            vec![changed(
                "server.port",
                json!(80),
                json!(82),
                "config/role/web.yaml:3",
            )],
        ),
        (
            "web-us",
            "changed",
            vec![
                changed(
                    "name",
                    json!("acme"),
                    json!("custom"),
                    "config/class/web-us.yaml:2",
                ),
                changed(
                    "server.port",
                    json!(80),
                    json!(82),
                    "config/role/web.yaml:3",
                ),
            ],
        ),
    ]);
    let report = diff_json(&repo, &[]);
    assert_eq!(report["base"], head.as_str());
    assert_eq!(report["head"], "working-tree");
    assert_eq!(by_class(&report), expected);
    assert_eq!(summary(&report), (3, 3, 4));
    // Spelled out, the same.
    let explicit = diff_json(&repo, &["--base", "HEAD"]);
    assert_eq!(by_class(&explicit), expected);
    // A deleted layer file in the working tree counts too: without
    // tenant acme, web-us's beta falls back to the default.
    repo.remove("config/tenant/acme.yaml");
    let report = diff_json(&repo, &["--class", "web-us"]);
    assert_eq!(
        by_class(&report),
        expect(vec![(
            "web-us",
            "changed",
            vec![
                changed(
                    "features.beta",
                    json!(true),
                    json!(false),
                    "config/defaults.yaml:13"
                ),
                changed(
                    "name",
                    json!("acme"),
                    json!("custom"),
                    "config/class/web-us.yaml:2"
                ),
                changed(
                    "server.port",
                    json!(80),
                    json!(82),
                    "config/role/web.yaml:3"
                ),
            ],
        )])
    );
}

#[test]
fn class_glob_filters_the_classes() {
    let (repo, a, b) = two_commits();
    let report = diff_json(&repo, &["--base", &a, "--head", &b, "--class", "web-*"]);
    let mut expected = expected_b();
    expected.remove("db-eu");
    assert_eq!(by_class(&report), expected);
    assert_eq!(summary(&report), (2, 2, 5));
    let one = diff_json(&repo, &["--base", &a, "--head", &b, "--class", "db-eu"]);
    let mut expected = expected_b();
    expected.retain(|k, _| k == "db-eu");
    assert_eq!(by_class(&one), expected);
    assert_eq!(summary(&one), (1, 1, 1));
    let human = diff(&repo, &["--base", &a, "--head", &b, "--class", "*-eu"]).expect_code(0);
    assert!(!human.stdout.contains("web-us"), "{}", human.stdout);
    assert!(
        human
            .stdout
            .contains("changes 4 values in 2 of 2 host classes"),
        "{}",
        human.stdout
    );
}

#[test]
fn untracked_layer_file_in_a_new_directory_counts_for_the_working_tree() {
    let repo = TestRepo::new();
    repo.layered_files()
        .remove("config/tenant/acme.yaml")
        .commit("no tenants yet");
    // config/tenant/ is new and untracked as a whole.
    repo.file("config/tenant/zeta.yaml", "# zeta\nratio: 0.9\n");
    let report = diff_json(&repo, &[]);
    assert_eq!(
        by_class(&report),
        expect(vec![(
            "db-eu",
            "changed",
            vec![changed(
                "ratio",
                json!(0.25),
                json!(0.9),
                "config/tenant/zeta.yaml:2"
            )],
        )])
    );
}

/// `(path, op, old, new)` of the changes from one render to another.
fn render_difference(old: &Value, new: &Value) -> Vec<(String, String, Value, Value)> {
    let (mut a, mut b) = (BTreeMap::new(), BTreeMap::new());
    flatten("", old, &mut a);
    flatten("", new, &mut b);
    let mut out = Vec::new();
    for (path, n) in &b {
        match a.get(path) {
            None => out.push((path.clone(), "added".into(), Value::Null, n.clone())),
            Some(o) if o != n => out.push((path.clone(), "changed".into(), o.clone(), n.clone())),
            _ => {}
        }
    }
    for (path, o) in &a {
        if !b.contains_key(path) {
            out.push((path.clone(), "removed".into(), o.clone(), Value::Null));
        }
    }
    out.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    out
}

/// `diff` HEAD → working tree must say what the two renders say, whether or
/// not another change happens to reach the class. Here a layer file is
/// git-ignored (a local override): `render` reads it from the working tree,
/// so `diff` must count it; leaving the class out because git does not
/// list the file as changed makes the answer depend on unrelated edits.
#[test]
fn diff_agrees_with_two_renders_for_a_git_ignored_layer_file() {
    let repo = TestRepo::new();
    repo.file(
        "ringmaster.yaml",
        "version: 1\nhierarchy:\n  - a.yaml\n  - local/{class}.yaml\nhost_classes:\n  k: {}\n  j: {}\n",
    )
    .file("a.yaml", "x: 1\ny: 1\n")
    .file(".gitignore", "local/\n")
    .commit("a");
    repo.file("local/k.yaml", "x: 2\n");
    let render = |class: &str, rev: Option<&str>| {
        let mut args = vec!["render", "--class", class, "--format", "json"];
        if let Some(rev) = rev {
            args.extend_from_slice(&["--rev", rev]);
        }
        let out = repo.run(&args).expect_code(0);
        out.json()
    };
    let diff_changes = |report: &Value, class: &str| -> Vec<(String, String, Value, Value)> {
        let mut v: Vec<_> = by_class(report)
            .get(class)
            .map(|(_, changes)| {
                changes
                    .iter()
                    .map(|c| {
                        (
                            c["path"].as_str().unwrap_or_default().to_owned(),
                            c["op"].as_str().unwrap_or_default().to_owned(),
                            c.get("old").cloned().unwrap_or(Value::Null),
                            c.get("new").cloned().unwrap_or(Value::Null),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        v.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        v
    };
    // Nothing else changed.
    let report = diff_json(&repo, &[]);
    assert_eq!(
        diff_changes(&report, "k"),
        render_difference(&render("k", Some("HEAD")), &render("k", None)),
        "{report:#}"
    );
    // An unrelated edit that reaches every class: the answer for x is the same.
    repo.file("a.yaml", "x: 1\ny: 2\n");
    let report = diff_json(&repo, &[]);
    assert_eq!(
        diff_changes(&report, "k"),
        render_difference(&render("k", Some("HEAD")), &render("k", None)),
        "{report:#}"
    );
    assert_eq!(
        diff_changes(&report, "j"),
        vec![("y".to_owned(), "changed".to_owned(), json!(1), json!(2))]
    );
}

#[test]
fn invalid_class_glob_exits_2() {
    let (repo, a, b) = two_commits();
    let out = diff(&repo, &["--base", &a, "--head", &b, "--class", "web-[eu"]).expect_code(2);
    out.assert_stderr_has("web-[eu");
}

#[test]
fn manifest_that_cannot_be_read_at_one_revision_exits_2() {
    let (repo, a, _) = two_commits();
    repo.file(
        "ringmaster.yaml",
        "version: 1\nhierarchy: [config/defaults.yaml\n",
    )
    .commit("broken manifest");
    let out = diff(&repo, &["--base", &a, "--head", "HEAD", "--format", "json"]).expect_code(2);
    out.assert_stderr_has("ringmaster.yaml");
}

#[test]
fn class_glob_matching_nothing_exits_2() {
    let (repo, a, b) = two_commits();
    let out = diff(&repo, &["--base", &a, "--head", &b, "--class", "cache-*"]).expect_code(2);
    out.assert_stderr_has("cache-*");
    assert!(out.stdout.is_empty(), "{}", out.stdout);
}

/// Commit C on top of A: the defaults file changes `name` (which tenant acme
/// overrides for web-us) and `ratio` (which nobody overrides).
fn defaults_change() -> (TestRepo, String, String) {
    let repo = TestRepo::layered();
    let a = repo.rev_parse("HEAD");
    let defaults = repo
        .read("config/defaults.yaml")
        .replace("name: base", "name: shop")
        .replace("ratio: 0.25", "ratio: 0.5");
    repo.file("config/defaults.yaml", &defaults).commit("C");
    let c = repo.rev_parse("HEAD");
    (repo, a, c)
}

#[test]
fn a_change_to_the_defaults_file_changes_every_class() {
    let (repo, a, c) = defaults_change();
    let report = diff_json(&repo, &["--base", &a, "--head", &c]);
    let name = changed(
        "name",
        json!("base"),
        json!("shop"),
        "config/defaults.yaml:1",
    );
    let ratio = changed("ratio", json!(0.25), json!(0.5), "config/defaults.yaml:14");
    assert_eq!(
        by_class(&report),
        expect(vec![
            ("db-eu", "changed", vec![name.clone(), ratio.clone()]),
            ("web-eu", "changed", vec![name, ratio.clone()]),
            ("web-us", "changed", vec![ratio]),
        ])
    );
    assert_eq!(summary(&report), (3, 3, 5));
}

#[test]
fn human_output_groups_classes_with_identical_change_sets() {
    let (repo, a, c) = defaults_change();
    let out = diff(&repo, &["--base", &a, "--head", &c]).expect_code(0);
    let text = &out.stdout;
    // db-eu and web-eu share one change set: one heading names both, and
    // their `name` change is printed once.
    let headings: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with(' ') && (l.contains("db-eu") || l.contains("web-")))
        .collect();
    assert_eq!(headings.len(), 2, "{text}");
    assert!(
        headings
            .iter()
            .any(|h| h.contains("db-eu") && h.contains("web-eu") && !h.contains("web-us")),
        "{text}"
    );
    assert!(
        headings
            .iter()
            .any(|h| h.contains("web-us") && !h.contains("db-eu")),
        "{text}"
    );
    let name_lines: Vec<&str> = text
        .lines()
        .filter(|l| l.trim_start().contains(" name "))
        .collect();
    assert_eq!(name_lines.len(), 1, "{text}");
    assert!(
        name_lines[0].contains("base") && name_lines[0].contains("shop"),
        "{text}"
    );
    assert!(name_lines[0].contains("config/defaults.yaml:1"), "{text}");
    let ratio_lines = text.lines().filter(|l| l.contains("ratio")).count();
    assert_eq!(ratio_lines, 2, "{text}");
    assert!(
        text.contains("changes 5 values in 3 of 3 host classes"),
        "{text}"
    );
}

#[test]
fn human_output_lists_every_change_with_its_source() {
    let (repo, a, b) = two_commits();
    let out = diff(&repo, &["--base", &a, "--head", &b, "--format", "human"]).expect_code(0);
    let text = &out.stdout;
    let line_with =
        |path: &str, source: &str| text.lines().any(|l| l.contains(path) && l.contains(source));
    assert!(line_with("server.port", "config/role/web.yaml:3"), "{text}");
    assert!(
        line_with("server.tls.min_version", "config/region/eu.yaml:6"),
        "{text}"
    );
    assert!(
        line_with("logging.level", "config/defaults.yaml:9"),
        "{text}"
    );
    assert!(
        line_with("features.search", "config/defaults.yaml:12"),
        "{text}"
    );
    // web-eu and web-us share the port change but not the whole set: three groups.
    assert_eq!(
        text.lines().filter(|l| l.contains("server.port")).count(),
        2,
        "{text}"
    );
    assert!(
        text.contains("changes 6 values in 3 of 3 host classes"),
        "{text}"
    );
    assert!(!text.contains('\u{1b}'), "colour with NO_COLOR: {text:?}");
}

#[test]
fn markdown_has_the_summary_line_and_details_groups() {
    let (repo, a, c) = defaults_change();
    // The markdown (a pull-request comment): the summary line "changes 5
    // values in 3 of 3 host classes" before two <details> groups, each
    // <summary> naming its classes (one shared by db-eu and web-eu, one for
    // web-us), values and sources (config/defaults.yaml:1 and :14) in the
    // bodies. The human and JSON formats of the same change beside it.
    let mut shown = String::new();
    for format in ["markdown", "human", "json"] {
        let out = diff(&repo, &["--base", &a, "--head", &c, "--format", format]).expect_code(0);
        shown.push_str(&format!("--- {format}\n{}", out.stdout));
    }
    insta::with_settings!({filters => redactions()}, {
        insta::assert_snapshot!(shown);
    });
}

#[test]
fn text_prints_a_unified_diff_of_the_rendered_yaml() {
    let (repo, a, b) = two_commits();
    let out = diff(
        &repo,
        &["--base", &a, "--head", &b, "--class", "web-us", "--text"],
    )
    .expect_code(0);
    let text = &out.stdout;
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.iter().any(|l| l.starts_with("--- ")), "{text}");
    assert!(lines.iter().any(|l| l.starts_with("+++ ")), "{text}");
    assert!(lines.iter().any(|l| l.starts_with("@@ ")), "{text}");
    assert!(lines.contains(&"-  port: 80"), "{text}");
    assert!(lines.contains(&"+  port: 81"), "{text}");
    assert!(lines.contains(&"-  level: info"), "{text}");
    // Unchanged context is marked with a space, never as a change.
    assert!(lines.contains(&"   host: localhost"), "{text}");
    assert!(
        !lines
            .iter()
            .any(|l| l.starts_with(['-', '+']) && l.contains("host: localhost")),
        "{text}"
    );
    // Only the filtered class.
    assert!(
        !text.contains("web-eu") && !text.contains("db-eu"),
        "{text}"
    );
    // Every class of an unfiltered run has its own header.
    let all = diff(&repo, &["--base", &a, "--head", &b, "--text"]).expect_code(0);
    assert_eq!(
        all.stdout.lines().filter(|l| l.starts_with("--- ")).count(),
        3,
        "{}",
        all.stdout
    );
    assert_eq!(
        all.stdout.lines().filter(|l| l.starts_with("+++ ")).count(),
        3,
        "{}",
        all.stdout
    );
    for class in ["db-eu", "web-eu", "web-us"] {
        assert!(
            all.stdout
                .lines()
                .any(|l| l.starts_with("--- ") && l.contains(class)),
            "{}",
            all.stdout
        );
    }
}

/// A layer file only `db-eu` uses is broken at both revisions; the change
/// touches `web-eu`'s class file only. Rendering db-eu would fail, so a
/// clean run proves it was not rendered.
#[test]
fn only_classes_the_change_reaches_are_rendered() {
    let repo = TestRepo::layered();
    repo.file(
        "config/class/db-eu.yaml",
        "server:\n  port: 1\nlogging: level: x\n",
    )
    .commit("db-eu's broken class file");
    let a = repo.rev_parse("HEAD");
    // The fixture really is broken for db-eu.
    let render = repo
        .run(&["render", "--class", "db-eu", "--rev", &a])
        .expect_code(2);
    render.assert_stderr_has("config/class/db-eu.yaml:3");

    repo.file(
        "config/class/web-eu.yaml",
        "server:\n  host: !unset\nfeatures:\n  search: true\n",
    )
    .commit("web-eu searches");
    let b = repo.rev_parse("HEAD");
    let only_web_eu = expect(vec![(
        "web-eu",
        "changed",
        vec![changed(
            "features.search",
            json!(false),
            json!(true),
            "config/class/web-eu.yaml:4",
        )],
    )]);
    let report = diff_json(&repo, &["--base", &a, "--head", &b]);
    assert_eq!(by_class(&report), only_web_eu);
    assert!(
        report.get("errors").is_none_or(|e| e == &json!([])),
        "{report}"
    );
    assert_eq!(summary(&report), (3, 1, 1));
    // HEAD → working tree, with the same kind of change.
    repo.file(
        "config/class/web-eu.yaml",
        "server:\n  host: !unset\nfeatures:\n  search: false\n",
    );
    let report = diff_json(&repo, &[]);
    assert_eq!(
        by_class(&report),
        expect(vec![(
            "web-eu",
            "changed",
            vec![changed(
                "features.search",
                json!(true),
                json!(false),
                "config/class/web-eu.yaml:4"
            )],
        )])
    );

    // Control: a change that reaches db-eu does render it, and reports the broken file.
    repo.file(
        "config/role/db.yaml",
        "server:\n  port: 5433\nfeatures: !unset\n",
    );
    let out = diff(&repo, &["--format", "json"]).expect_code(1);
    out.assert_stdout_has("config/class/db-eu.yaml:3");
}

#[test]
fn unknown_revision_exits_2_naming_it() {
    let (repo, a, _) = two_commits();
    for (args, name) in [
        (vec!["--base", "no-such-base"], "no-such-base"),
        (vec!["--base", &a, "--head", "no-such-head"], "no-such-head"),
        (vec!["--head", "v9.9.9"], "v9.9.9"),
    ] {
        for format in ["human", "json"] {
            let mut all = args.clone();
            all.extend_from_slice(&["--format", format]);
            let out = diff(&repo, &all).expect_code(2);
            assert!(out.stderr.contains(name), "{args:?}: {}", out.stderr);
            assert!(out.stdout.is_empty(), "{args:?}: {}", out.stdout);
        }
    }
}

/// Region eu's file fails to parse at B only. web-eu and db-eu cannot be
/// rendered at B; web-us can, and its change is still reported.
#[test]
fn layer_that_fails_to_parse_at_one_revision_is_reported_and_others_still_diffed() {
    let repo = TestRepo::layered();
    let a = repo.rev_parse("HEAD");
    repo.file(
        "config/region/eu.yaml",
        "logging:\n  level: warn\nserver: tls: x\n",
    )
    .file("config/role/web.yaml", WEB_81)
    .commit("broken eu");
    repo.git(&["tag", "broken-eu"]);
    let b = repo.rev_parse("HEAD");
    let names_rev = |s: &str, rev: &str, sha: &str| {
        s.contains(rev) || s.contains(sha) || s.contains(&sha[..10])
    };

    let out = diff(
        &repo,
        &["--base", &a, "--head", "broken-eu", "--format", "json"],
    )
    .expect_code(1);
    let report = out.json();
    assert_eq!(
        by_class(&report),
        expect(vec![(
            "web-us",
            "changed",
            vec![changed(
                "server.port",
                json!(80),
                json!(81),
                "config/role/web.yaml:3"
            )],
        )])
    );
    let errors: Vec<&str> = report["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors array: {report}"))
        .iter()
        .map(|e| e.as_str().unwrap_or_default())
        .collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    for (e, class) in errors.iter().zip(["db-eu", "web-eu"]) {
        assert!(e.contains(class), "{e}");
        assert!(e.contains("config/region/eu.yaml:3"), "{e}");
        assert!(names_rev(e, "broken-eu", &b), "{e}");
    }

    // Human and markdown say so too, and still show web-us.
    for format in ["human", "markdown"] {
        let out = diff(
            &repo,
            &["--base", &a, "--head", "broken-eu", "--format", format],
        )
        .expect_code(1);
        let all = out.all_output();
        assert!(all.contains("config/region/eu.yaml:3"), "{all}");
        assert!(names_rev(&all, "broken-eu", &b), "{all}");
        assert!(
            all.contains("web-us") && all.contains("server.port"),
            "{all}"
        );
    }

    // Broken at the base side instead: named with the base revision.
    let out = diff(
        &repo,
        &["--base", "broken-eu", "--head", &a, "--format", "json"],
    )
    .expect_code(1);
    let report = out.json();
    let errors = report["errors"].to_string();
    assert!(errors.contains("config/region/eu.yaml:3"), "{errors}");
    assert!(names_rev(&errors, "broken-eu", &b), "{errors}");
    assert!(by_class(&report).contains_key("web-us"), "{report}");
}

/// The manifest at B drops db-eu and adds web-ap; web-eu and web-us are as before.
#[test]
fn classes_added_and_removed_by_the_manifest_are_reported_as_such() {
    let repo = TestRepo::layered();
    let a = repo.rev_parse("HEAD");
    let manifest = repo.read("ringmaster.yaml").replace(
        "  db-eu: { role: db, region: eu, tenant: zeta }\n",
        "  web-ap: { role: web, region: ap }\n",
    );
    repo.file("ringmaster.yaml", &manifest)
        .commit("web-ap in, db-eu out");
    let b = repo.rev_parse("HEAD");
    let report = diff_json(&repo, &["--base", &a, "--head", &b]);
    // Sorted by path, every leaf of each side.
    let expected = expect(vec![
        (
            "db-eu",
            "removed",
            vec![
                removed("logging.level", json!("warn"), "config/region/eu.yaml:2"),
                removed(
                    "logging.sinks",
                    json!(["stdout"]),
                    "config/defaults.yaml:10",
                ),
                removed("name", json!("base"), "config/defaults.yaml:1"),
                removed("ratio", json!(0.25), "config/defaults.yaml:14"),
                removed("server.host", json!("localhost"), "config/defaults.yaml:4"),
                removed("server.port", json!(5432), "config/role/db.yaml:2"),
                removed(
                    "server.tls.ciphers",
                    json!(["chacha20"]),
                    "config/region/eu.yaml:5",
                ),
                removed("server.tls.enabled", json!(false), "config/defaults.yaml:6"),
            ],
        ),
        (
            "web-ap",
            "added",
            vec![
                added("features.beta", json!(false), "config/defaults.yaml:13"),
                added("features.search", json!(true), "config/defaults.yaml:12"),
                added("logging.level", json!("info"), "config/defaults.yaml:9"),
                added(
                    "logging.sinks",
                    json!(["file", "stdout"]),
                    "config/role/web.yaml:7",
                ),
                added("name", json!("base"), "config/defaults.yaml:1"),
                added("ratio", json!(0.25), "config/defaults.yaml:14"),
                added("server.host", json!("localhost"), "config/defaults.yaml:4"),
                added("server.port", json!(80), "config/role/web.yaml:3"),
                added(
                    "server.tls.ciphers",
                    json!(["aes128", "aes256"]),
                    "config/defaults.yaml:7",
                ),
                added("server.tls.enabled", json!(true), "config/role/web.yaml:5"),
            ],
        ),
    ]);
    assert_eq!(by_class(&report), expected);
    assert_eq!(summary(&report), (4, 2, 18));
    let human = diff(&repo, &["--base", &a, "--head", &b]).expect_code(0);
    let heading = |class: &str| {
        human
            .stdout
            .lines()
            .find(|l| !l.starts_with(' ') && l.contains(class))
            .unwrap_or_else(|| panic!("no heading for {class}:\n{}", human.stdout))
            .to_owned()
    };
    assert!(heading("db-eu").contains("removed"), "{}", human.stdout);
    assert!(heading("web-ap").contains("new"), "{}", human.stdout);
    // Filtering by class still sees classes that exist on one side only.
    let only = diff_json(&repo, &["--base", &a, "--head", &b, "--class", "db-*"]);
    assert_eq!(by_class(&only)["db-eu"].0, "removed");
    assert_eq!(summary(&only), (1, 1, 8));
}

#[test]
fn a_class_whose_facts_change_in_the_manifest_is_rediffed() {
    let repo = TestRepo::layered();
    let a = repo.rev_parse("HEAD");
    let manifest = repo.read("ringmaster.yaml").replace(
        "web-us: { role: web, region: us, tenant: acme }",
        "web-us: { role: web, region: eu, tenant: acme }",
    );
    repo.file("ringmaster.yaml", &manifest)
        .commit("web-us moves to eu");
    let report = diff_json(&repo, &["--base", &a, "--head", "HEAD"]);
    assert_eq!(
        by_class(&report),
        expect(vec![(
            "web-us",
            "changed",
            vec![
                changed(
                    "logging.level",
                    json!("info"),
                    json!("warn"),
                    "config/region/eu.yaml:2"
                ),
                changed(
                    "server.tls.ciphers",
                    json!(["aes128", "aes256"]),
                    json!(["chacha20"]),
                    "config/region/eu.yaml:5"
                ),
            ],
        )])
    );
}

/// The layered repo with `from` moved to `to` (`git mv`, uncommitted) and the
/// manifest edited by `manifest_edit` (what to replace, and with what);
/// returns the repo and the commit before the rename.
fn layered_with_renamed(from: &str, to: &str, manifest_edit: (&str, &str)) -> (TestRepo, String) {
    let repo = TestRepo::layered();
    let before = repo.rev_parse("HEAD");
    repo.git(&["mv", from, to]);
    let manifest = repo
        .read("ringmaster.yaml")
        .replace(manifest_edit.0, manifest_edit.1);
    repo.file("ringmaster.yaml", &manifest);
    (repo, before)
}

/// A report that lists no class and whose summary is (3, 0, 0).
fn assert_no_value_changes(report: &Value) {
    assert_eq!(report["classes"], json!([]), "{report:#}");
    assert_eq!(summary(report), (3, 0, 0));
}

#[test]
fn renaming_layer_files_with_the_hierarchy_updated_changes_no_value() {
    let (repo, a) = layered_with_renamed(
        "config/role",
        "config/roles",
        ("config/role/{role}.yaml", "config/roles/{role}.yaml"),
    );
    // Uncommitted: HEAD → working tree.
    assert_no_value_changes(&diff_json(&repo, &[]));
    // Committed: between the two revisions.
    repo.commit("role → roles");
    assert_no_value_changes(&diff_json(&repo, &["--base", &a, "--head", "HEAD"]));
    // The provenance did move with the file.
    let render = repo
        .run(&[
            "render",
            "--class",
            "web-eu",
            "--provenance",
            "--format",
            "json",
        ])
        .expect_code(0);
    assert_eq!(
        render.json()["leaves"]["server.port"]["file"],
        "config/roles/web.yaml"
    );
}

#[test]
fn renaming_a_layer_file_with_the_class_facts_updated_changes_no_value() {
    let (repo, a) = layered_with_renamed(
        "config/region/eu.yaml",
        "config/region/europe.yaml",
        ("region: eu", "region: europe"),
    );
    repo.commit("eu → europe");
    assert_no_value_changes(&diff_json(&repo, &["--base", &a, "--head", "HEAD"]));
    let human = diff(
        &repo,
        &["--base", &a, "--head", "HEAD", "--format", "markdown"],
    )
    .expect_code(0);
    assert!(
        human
            .stdout
            .contains("changes 0 values in 0 of 3 host classes"),
        "{}",
        human.stdout
    );
    assert!(!human.stdout.contains("<details>"), "{}", human.stdout);
}

#[test]
fn renaming_a_layer_file_out_of_the_hierarchy_changes_values() {
    let repo = TestRepo::layered();
    let a = repo.rev_parse("HEAD");
    repo.git(&["mv", "config/region/eu.yaml", "config/region/europe.yaml"]);
    repo.commit("eu.yaml renamed, hierarchy not");
    let report = diff_json(&repo, &["--base", &a, "--head", "HEAD"]);
    assert_eq!(
        by_class(&report),
        expect(vec![
            (
                "db-eu",
                "changed",
                vec![
                    changed(
                        "logging.level",
                        json!("warn"),
                        json!("info"),
                        "config/defaults.yaml:9"
                    ),
                    changed(
                        "server.tls.ciphers",
                        json!(["chacha20"]),
                        json!(["aes128", "aes256"]),
                        "config/defaults.yaml:7"
                    ),
                ],
            ),
            (
                "web-eu",
                "changed",
                vec![
                    changed(
                        "logging.level",
                        json!("warn"),
                        json!("info"),
                        "config/defaults.yaml:9"
                    ),
                    changed(
                        "server.tls.ciphers",
                        json!(["chacha20"]),
                        json!(["aes128", "aes256"]),
                        "config/defaults.yaml:7"
                    ),
                ],
            ),
        ])
    );
}

// ---------------------------------------------------------------------------
// A copy of the example repo, as a subdirectory of a git repository.

/// `examples/shop` copied to `ops/shop` of a fresh repository and committed.
fn shop_repo() -> TestRepo {
    let repo = TestRepo::new();
    repo.copy_dir(&shop(), "ops/shop")
        .file("README", "ops\n")
        .commit("shop");
    repo
}

fn in_copy(repo: &TestRepo, args: &[&str]) -> Output {
    let root = repo.path().join("ops/shop");
    let mut all: Vec<&str> = vec!["--repo", root.to_str().unwrap(), "diff"];
    all.extend_from_slice(args);
    run_at(&root, &all)
}

#[test]
fn example_repo_role_change_reaches_the_api_classes_only() {
    let repo = shop_repo();
    let a = repo.rev_parse("HEAD");
    let api = repo
        .read("ops/shop/config/role/api.yaml")
        .replace("max_connections: 1024", "max_connections: 2048");
    repo.file("ops/shop/config/role/api.yaml", &api);
    // A change outside the config repo is no concern of its diff.
    repo.file("README", "ops, changed\n")
        .commit("more API connections");

    let out = in_copy(&repo, &["--base", &a, "--head", "HEAD", "--format", "json"]).expect_code(0);
    let report = out.json();
    let change = changed(
        "server.max_connections",
        json!(1024),
        json!(2048),
        "config/role/api.yaml:4",
    );
    assert_eq!(
        by_class(&report),
        expect(vec![
            ("api-acme", "changed", vec![change.clone()]),
            ("api-dogfood", "changed", vec![change.clone()]),
            ("api-shared-eu", "changed", vec![change]),
        ])
    );
    assert_eq!(summary(&report), (5, 3, 3));

    let md = in_copy(
        &repo,
        &["--base", &a, "--head", "HEAD", "--format", "markdown"],
    )
    .expect_code(0);
    assert!(
        md.stdout
            .contains("changes 3 values in 3 of 5 host classes"),
        "{}",
        md.stdout
    );
    assert_eq!(md.stdout.matches("<details>").count(), 1, "{}", md.stdout);
    let summary_line = md.stdout.lines().find(|l| l.contains("<summary>")).unwrap();
    for class in ["api-acme", "api-dogfood", "api-shared-eu"] {
        assert!(summary_line.contains(class), "{summary_line}");
    }
    assert!(!md.stdout.contains("worker"), "{}", md.stdout);
    md.assert_stdout_has("config/role/api.yaml:4");
}

#[test]
fn example_repo_defaults_change_reaches_every_class() {
    let repo = shop_repo();
    let defaults = repo
        .read("ops/shop/config/defaults.yaml")
        .replace("  format: json", "  format: text");
    repo.file("ops/shop/config/defaults.yaml", &defaults);
    // HEAD → working tree, from inside the config repo without --repo.
    let out = repo
        .run_in("ops/shop", &["diff", "--format", "json"])
        .expect_code(0);
    let report = out.json();
    let change = changed(
        "logging.format",
        json!("json"),
        json!("text"),
        "config/defaults.yaml:25",
    );
    let classes = crate::render::shop_classes();
    assert_eq!(
        by_class(&report),
        classes
            .iter()
            .map(|c| (c.clone(), ("changed".to_owned(), vec![normal(&change)])))
            .collect::<BTreeMap<_, _>>()
    );
    assert_eq!(summary(&report), (5, 5, 5));
    let md = in_copy(&repo, &["--format", "markdown"]).expect_code(0);
    assert!(
        md.stdout
            .contains("changes 5 values in 5 of 5 host classes"),
        "{}",
        md.stdout
    );
    assert_eq!(md.stdout.matches("<details>").count(), 1, "{}", md.stdout);
}

/// A list written in block style is set on its key's line
/// (`rate_limits:` at class/api-acme.yaml:12; the items start on line 13),
/// the line `explain` names as its source.
#[test]
fn example_repo_block_list_change_names_the_line_of_its_key() {
    let repo = shop_repo();
    let acme = repo.read("ops/shop/config/class/api-acme.yaml").replace(
        "    per_second: 200\n    burst: 400\n  - route: /api/search",
        "    per_second: 300\n    burst: 400\n  - route: /api/search",
    );
    repo.file("ops/shop/config/class/api-acme.yaml", &acme);
    let out = in_copy(&repo, &["--format", "json"]).expect_code(0);
    assert_eq!(
        by_class(&out.json()),
        expect(vec![(
            "api-acme",
            "changed",
            vec![changed(
                "rate_limits",
                json!([
                    {"route": "/api/checkout", "per_second": 200, "burst": 400},
                    {"route": "/api/search", "per_second": 200, "burst": 400}
                ]),
                json!([
                    {"route": "/api/checkout", "per_second": 300, "burst": 400},
                    {"route": "/api/search", "per_second": 200, "burst": 400}
                ]),
                "config/class/api-acme.yaml:12"
            )],
        )])
    );
}

#[test]
fn example_repo_knockout_removed_from_the_class_file() {
    let repo = shop_repo();
    let acme = repo
        .read("ops/shop/config/class/api-acme.yaml")
        .replace("  endpoint: !unset\n", "");
    repo.file("ops/shop/config/class/api-acme.yaml", &acme);
    let out = in_copy(&repo, &["--format", "json"]).expect_code(0);
    assert_eq!(
        by_class(&out.json()),
        expect(vec![(
            "api-acme",
            "changed",
            vec![added(
                "tracing.endpoint",
                json!("http://otel-collector.eu-west.shop.internal:4317"),
                "config/region/eu-west.yaml:8"
            )],
        )])
    );
}
