//! The manifest's `yaml:` section: YAML 1.1 or 1.2 scalars per repo and per
//! file glob, and what a duplicate key does (`error`, or `last-wins`).
//!
//! The expected values are what the consuming tools compute, from their
//! YAML readers:
//! - Ansible reads with PyYAML: `lib/yaml/resolver.py` types
//!   `yes|Yes|YES|no|No|NO|true|…|on|On|ON|off|Off|OFF` as `bool` and
//!   `[-+]?0[0-7_]+` as an octal `int`; Ansible's "Boolean variables" docs
//!   (playbooks_variables) list `yes/no` among the native booleans.
//! - Puppet (Hiera's YAML backend) reads with Ruby's Psych:
//!   `scalar_scanner.rb` maps `/^(yes|true|on)$/i` to true,
//!   `/^(no|false|off)$/i` to false, and `0[0-7_]+` through `Integer()`, octal.
//! - Helm reads values with sigs.k8s.io/yaml over go-yaml v2: `resolve.go`'s
//!   table has yes/on/no/off in three casings, and `strconv.ParseInt(s, 0,
//!   64)` reads `0755` as octal 493. Helm's "Make Types Clear" best practice
//!   (chart_best_practices/values) warns of exactly this coercion.
//! - Duplicate keys: PyYAML, Psych and go-yaml v2 keep the last value;
//!   Ansible warns "found a duplicate dict key (…). Using last defined value
//!   only." (its `DUPLICATE_YAML_DICT_KEY` setting defaults to `warn`).

use serde_json::{Value, json};

use crate::support::{Output, TestRepo, brief, change_row, changes_by_class};

const HIERARCHY: &str = "\
version: 1
hierarchy:
  - common.yaml
  - hieradata/{role}.yaml
host_classes:
  web: { role: web }
";

/// Defaults for every key, written so that 1.1 and 1.2 read them alike.
const COMMON: &str = "\
ntp_enable: true
apache_keepalive: true
manage_repo: false
listen_on_ipv6: false
file_mode: 420
motd: \"hello\"
";

/// The role layer, in YAML 1.1 style (Hiera data and group_vars look like this).
const WEB: &str = "\
ntp_enable: no
apache_keepalive: off
manage_repo: yes
listen_on_ipv6: on
file_mode: 0755
motd: \"no\"
";

fn repo(yaml_section: &str, web: &str) -> TestRepo {
    let repo = TestRepo::new();
    repo.file("ringmaster.yaml", &format!("{HIERARCHY}{yaml_section}"))
        .file("common.yaml", COMMON)
        .file("hieradata/web.yaml", web);
    repo
}

fn render_json(repo: &TestRepo) -> Value {
    repo.run(&["render", "--class", "web", "--format", "json"])
        .expect_code(0)
        .json()
}

/// `(path, op, old, new)` of each change `diff --format json` reports for
/// `web` (an unchanged class is not listed).
fn changes(out: &Output) -> Vec<(String, String, Value, Value)> {
    let report = out.json();
    assert_eq!(report["summary"]["classes_total"], json!(1), "{report}");
    changes_by_class(&report)
        .get("web")
        .map_or_else(Vec::new, |changes| changes.iter().map(change_row).collect())
}

#[test]
fn a_yaml_11_layer_renders_no_off_yes_on_and_0755_as_puppet_ansible_and_helm_read_them() {
    let repo = repo("yaml:\n  version: \"1.1\"\n", WEB);
    assert_eq!(
        render_json(&repo),
        json!({
            "ntp_enable": false,       // `no`: false in PyYAML, Psych and go-yaml v2
            "apache_keepalive": false, // `off`
            "manage_repo": true,       // `yes`
            "listen_on_ipv6": true,    // `on`
            "file_mode": 493,          // `0755`: octal, 0o755 = 493
            "motd": "no",              // quoted: a string in every reader
        })
    );
    // The file is read as 1.1 on purpose: no ambiguity to warn about, and the
    // booleans override booleans, so no type change either.
    let check = repo.run(&["check", "--format", "json"]);
    check.assert_code(0);
    assert_eq!(check.findings(), Vec::<Value>::new());
}

#[test]
fn the_same_layer_under_yaml_12_renders_strings_and_decimal_ints_as_today() {
    // No `yaml:` section, and an explicit "1.2": both are today's reading.
    for section in ["", "yaml:\n  version: \"1.2\"\n"] {
        let repo = repo(section, WEB);
        let check = repo.run(&["check", "--format", "json"]);
        // `no` over `true` is a string over a boolean: today's type-change errors.
        let type_changes: Vec<String> = check
            .findings_of("type-change")
            .iter()
            .map(|f| f["path"].as_str().unwrap_or_default().to_owned())
            .collect();
        assert_eq!(
            type_changes,
            [
                "/ntp_enable",
                "/apache_keepalive",
                "/manage_repo",
                "/listen_on_ipv6"
            ],
            "{section:?}"
        );
        let ambiguous = check.findings_of("ambiguous-scalar");
        assert_eq!(ambiguous.len(), 5, "{section:?}: {ambiguous:?}");
        let file_mode = ambiguous
            .iter()
            .find(|f| f["path"] == "/file_mode")
            .unwrap_or_else(|| panic!("no finding on /file_mode in {ambiguous:?}"));
        assert_eq!(
            file_mode["message"],
            "`0755` is the integer 755 in YAML 1.2 but the octal integer 493 in YAML 1.1 tools"
        );
    }
    // Without the conflicting defaults it renders, with 1.2's values.
    let repo = TestRepo::new();
    repo.file("ringmaster.yaml", HIERARCHY)
        .file("common.yaml", "motd: x\n")
        .file("hieradata/web.yaml", WEB);
    assert_eq!(
        render_json(&repo),
        json!({
            "motd": "no",
            "ntp_enable": "no",
            "apache_keepalive": "off",
            "manage_repo": "yes",
            "listen_on_ipv6": "on",
            "file_mode": 755,
        })
    );
}

#[test]
fn a_per_glob_override_reads_only_the_matching_files_as_yaml_11() {
    let manifest = "\
yaml:
  version: \"1.2\"
  files:
    - files: \"hieradata/**\"
      version: \"1.1\"
";
    let repo = repo(manifest, WEB);
    // common.yaml stays 1.2: its `legacy: no` is the string "no".
    repo.file("common.yaml", &format!("{COMMON}legacy: no\n"))
        .file("hieradata/web.yaml", &format!("{WEB}legacy: nope\n"));
    let rendered = render_json(&repo);
    assert_eq!(rendered["ntp_enable"], json!(false));
    assert_eq!(rendered["file_mode"], json!(493));
    assert_eq!(rendered["legacy"], json!("nope"));
    let check = repo.run(&["check", "--format", "json"]);
    check.assert_code(0);
    // Only the 1.2 file gets the ambiguity warning for its `no`.
    let warned: Vec<(String, u64)> = check
        .findings()
        .iter()
        .map(|f| {
            (
                format!(
                    "{} {}",
                    f["rule"].as_str().unwrap_or_default(),
                    f["file"].as_str().unwrap_or_default()
                ),
                f["line"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(warned, [("ambiguous-scalar common.yaml".to_owned(), 7)]);
    // The first matching glob wins: an earlier, narrower entry keeps 1.2.
    repo.file(
        "ringmaster.yaml",
        &format!(
            "{HIERARCHY}yaml:\n  files:\n    - files: \"hieradata/web.yaml\"\n      version: \"1.2\"\n    - files: \"hieradata/**\"\n      version: \"1.1\"\n"
        ),
    );
    let check = repo.run(&["check", "--format", "json"]);
    assert_eq!(check.findings_of("type-change").len(), 4);
}

const DUPLICATED: &str = "\
ntp_enable: false
apache_keepalive: false
ntp_enable: true
";

#[test]
fn last_wins_duplicate_keys_warn_at_the_second_key_and_render_and_diff_use_the_later_value() {
    let repo = repo("yaml:\n  duplicate_keys: last-wins\n", DUPLICATED);
    repo.commit("duplicate key");
    // PyYAML, Psych and go-yaml v2 all keep the last value: true.
    assert_eq!(
        render_json(&repo),
        json!({
            "ntp_enable": true,
            "apache_keepalive": false,
            "manage_repo": false,
            "listen_on_ipv6": false,
            "file_mode": 420,
            "motd": "hello",
        })
    );
    let check = repo.run(&["check", "--format", "json"]);
    check.assert_code(0);
    let found = check.findings();
    assert_eq!(found.len(), 1, "{found:?}");
    let d = &found[0];
    assert_eq!(
        (
            &d["rule"],
            &d["severity"],
            &d["file"],
            &d["line"],
            &d["column"]
        ),
        (
            &json!("duplicate-key"),
            &json!("warning"),
            &json!("hieradata/web.yaml"),
            &json!(3),
            &json!(1)
        )
    );
    assert_eq!(d["related"][0]["line"], json!(1));
    // A change to the later value is a change; to the earlier one, none.
    repo.file(
        "hieradata/web.yaml",
        &DUPLICATED.replace("ntp_enable: true", "ntp_enable: \"x\""),
    );
    let out = repo.run(&["diff", "--format", "json"]).expect_code(0);
    assert_eq!(
        changes(&out),
        [(
            "ntp_enable".to_owned(),
            "changed".to_owned(),
            json!(true),
            json!("x")
        )]
    );
    repo.file(
        "hieradata/web.yaml",
        &DUPLICATED.replace("ntp_enable: false", "ntp_enable: 7"),
    );
    let out = repo.run(&["diff", "--format", "json"]).expect_code(0);
    assert_eq!(changes(&out), []);
}

#[test]
fn duplicate_keys_stay_an_error_that_blocks_render_by_default() {
    for section in ["", "yaml:\n  duplicate_keys: error\n  version: \"1.1\"\n"] {
        let repo = repo(section, DUPLICATED);
        let check = repo.run(&["check", "--format", "json"]);
        check.assert_code(1);
        let found = check.findings_of("duplicate-key");
        assert_eq!(found.len(), 1, "{section:?}");
        let (_, severity, _, line, column, _) = brief(&found[0]);
        assert_eq!((severity.as_str(), line, column), ("error", 3, 1));
        assert_eq!(
            found[0]["message"],
            "duplicate key `ntp_enable`: it is already defined at line 1"
        );
        repo.run(&["render", "--class", "web", "--format", "json"])
            .assert_code(2)
            .assert_stderr_has("hieradata/web.yaml:3:1");
    }
}

#[test]
fn a_bad_yaml_section_is_refused_with_the_manifest_line() {
    let repo = repo("yaml:\n  version: \"1.3\"\n", WEB);
    repo.run(&["render", "--class", "web"])
        .assert_code(2)
        .assert_stderr_has("ringmaster.yaml:8");
    let repo = repo_with_bad_glob();
    let check = repo.run(&["check", "--format", "json"]);
    let found = check.findings_of("manifest");
    assert_eq!(found.len(), 1, "{}", check.stdout);
    assert_eq!(
        (&found[0]["line"], &found[0]["column"]),
        (&json!(9), &json!(14))
    );
}

fn repo_with_bad_glob() -> TestRepo {
    repo(
        "yaml:\n  files:\n    - files: \"a/[b\"\n      version: \"1.1\"\n",
        WEB,
    )
}

#[test]
fn check_shows_a_last_wins_duplicate_and_a_yaml_11_disagreement_as_warnings() {
    let manifest = "\
yaml:
  version: \"1.1\"
  duplicate_keys: last-wins
";
    // `y`: a boolean to go-yaml v2 only (resolve.go's table), a string to
    // PyYAML and Psych: read as a string, and reported.
    let repo = repo(manifest, &format!("{DUPLICATED}motd: y\n"));
    let out = repo.run(&["check"]).expect_code(0);
    insta::with_settings!({filters => crate::support::redactions()}, {
        insta::assert_snapshot!(out.stdout);
    });
}
