//! `ringmaster check`: every rule on a fixture with its exact file:line:col,
//! the JSON shape of SPEC §5, exit codes, the three input modes (whole repo,
//! PATH…, --staged), repo discovery, and the human and GitHub formats.
//!
//! Positions are 1-based; columns count characters. Each fixture's comment
//! says which character a finding must point at.

use serde_json::{Value, json};

use crate::support::{
    Output, TYPO_FACT_MANIFEST, TestRepo, assert_location, keys, redactions, run_at,
};

/// Asserts the document is exactly SPEC §5's shape: `findings[]` whose
/// members have rule, severity, file, line, column, message, path, class
/// (plus `help` and `related` when there are any), and a `summary` with
/// files, classes, errors, warnings whose counts agree with the findings.
#[track_caller]
fn assert_spec_shape(doc: &Value) {
    assert_eq!(keys(doc), ["findings", "summary"], "top-level keys");
    let findings = doc["findings"].as_array().expect("findings is an array");
    let (mut errors, mut warnings) = (0, 0);
    for f in findings {
        let obj = f.as_object().expect("a finding is an object");
        for key in [
            "rule", "severity", "file", "line", "column", "message", "path", "class",
        ] {
            assert!(obj.contains_key(key), "finding lacks `{key}`: {f}");
        }
        for key in obj.keys() {
            assert!(
                [
                    "rule", "severity", "file", "line", "column", "message", "path", "class",
                    "help", "related"
                ]
                .contains(&key.as_str()),
                "finding has an unexpected key `{key}`: {f}"
            );
        }
        assert!(f["rule"].is_string(), "{f}");
        let severity = f["severity"].as_str().expect("severity is a string");
        assert!(
            ["error", "warning", "notice"].contains(&severity),
            "severity {severity}"
        );
        errors += usize::from(severity == "error");
        warnings += usize::from(severity == "warning");
        let file = f["file"].as_str().expect("file is a string");
        assert!(
            !file.starts_with('/') && !file.contains('\\'),
            "file is repo-relative with forward slashes: {file}"
        );
        assert!(f["line"].as_u64().expect("line is an integer") >= 1, "{f}");
        assert!(
            f["column"].as_u64().expect("column is an integer") >= 1,
            "{f}"
        );
        assert!(!f["message"].as_str().expect("message").is_empty(), "{f}");
        assert!(f["path"].is_string() || f["path"].is_null(), "{f}");
        assert!(f["class"].is_string() || f["class"].is_null(), "{f}");
        if let Some(help) = obj.get("help") {
            assert!(help.is_string(), "{f}");
        }
        if let Some(related) = obj.get("related") {
            for r in related.as_array().expect("related is an array") {
                assert!(r["file"].is_string() && r["message"].is_string(), "{r}");
                assert!(r["line"].as_u64().unwrap_or(0) >= 1, "{r}");
                assert!(r["column"].as_u64().unwrap_or(0) >= 1, "{r}");
            }
        }
    }
    let summary = doc["summary"].as_object().expect("summary is an object");
    for key in ["files", "classes", "errors", "warnings"] {
        assert!(
            summary.get(key).is_some_and(Value::is_u64),
            "summary.{key} is a count: {summary:?}"
        );
    }
    for key in summary.keys() {
        // `notices` counts the third severity; SPEC §5 names the other four.
        assert!(
            ["files", "classes", "errors", "warnings", "notices"].contains(&key.as_str()),
            "summary has an unexpected key `{key}`"
        );
    }
    assert_eq!(summary["errors"], json!(errors), "summary.errors");
    assert_eq!(summary["warnings"], json!(warnings), "summary.warnings");
}

// ---------------------------------------------------------------- fixtures

/// What a fixture's repo holds before its own files are added.
#[derive(Clone, Copy)]
enum Base {
    /// `TestRepo::standard()`: the support manifest and layer schema.
    Standard,
    /// Nothing: the fixture brings its own `ringmaster.yaml`.
    Empty,
    /// A manifest naming `rings/` and `flags/`, one valid ring and one valid flag.
    RingsAndFlags,
}

/// One `check` fixture: the files it writes over its base, and the exit
/// code every format must give. Its comment says which character each
/// finding must point at; the snapshot `check__<name>` shows it.
struct Fixture {
    name: &'static str,
    base: Base,
    files: &'static [(&'static str, &'static str)],
    code: i32,
}

impl Fixture {
    fn repo(&self) -> TestRepo {
        let repo = match self.base {
            Base::Standard => TestRepo::standard(),
            Base::Empty => TestRepo::new(),
            Base::RingsAndFlags => rings_and_flags_repo(),
        };
        for (path, text) in self.files {
            repo.file(path, text);
        }
        repo
    }
}

const FIXTURES: &[Fixture] = &[
    // The clean standard repo: "no findings"; 2 files (manifest, schema).
    Fixture {
        name: "the_standard_fixture_repo_is_clean",
        base: Base::Standard,
        files: &[],
        code: 0,
    },
    // 3 files (the manifest, the schema and the layer), no findings.
    Fixture {
        name: "exit_0_when_clean",
        base: Base::Standard,
        files: &[("config/a.yaml", "server:\n  host: a\n  port: 80\n")],
        code: 0,
    },
    // Warnings only: exit 0, 2 warnings, 0 errors.
    Fixture {
        name: "exit_0_with_only_warnings",
        base: Base::Standard,
        files: &[("config/a.yaml", "name: off\n"), ("config/b.yaml", "")],
        code: 0,
    },
    // SPEC §5's own example: `eighty` is reported at its first character,
    // line 4, column 9; 3 files checked, no classes.
    Fixture {
        name: "schema_wrong_type_points_at_the_value",
        base: Base::Standard,
        files: &[(
            "config/role/api.yaml",
            "# the api role\nserver:\n  host: api.internal\n  port: eighty\n",
        )],
        code: 1,
    },
    // `"80"` starts at line 4, column 13 (the opening quote).
    Fixture {
        name: "schema_wrong_type_in_a_json_file_points_at_the_value",
        base: Base::Standard,
        files: &[(
            "config/api.json",
            "{\n  \"server\": {\n    \"host\": \"a\",\n    \"port\": \"80\"\n  }\n}\n",
        )],
        code: 1,
    },
    // The key `prot` at line 3, column 3, with "did you mean `port`?".
    Fixture {
        name: "schema_unexpected_key_points_at_the_key_and_suggests_the_right_one",
        base: Base::Standard,
        files: &[("config/a.yaml", "server:\n  host: a\n  prot: 8080\n")],
        code: 1,
    },
    // `server` (line 2, column 1) is the mapping without `host`.
    Fixture {
        name: "schema_missing_required_key_points_at_the_key_of_the_mapping_that_lacks_it",
        base: Base::Standard,
        files: &[("config/a.yaml", "name: svc\nserver:\n  port: 8080\n")],
        code: 1,
    },
    // Only the schema is reported, at `12` (line 4, column 23); the layer
    // would be a `schema` error if the schema were used.
    Fixture {
        name: "schema_invalid_schema_is_reported_on_the_schema_file_at_the_bad_value",
        base: Base::Standard,
        files: &[
            (
                "schemas/layer.schema.json",
                "{\n  \"type\": \"object\",\n  \"properties\": {\n    \"port\": { \"type\": 12 }\n  }\n}\n",
            ),
            ("config/a.yaml", "port: eighty\n"),
        ],
        code: 1,
    },
    // The second `:` on line 3 (column 8) is not allowed there; a broken
    // file is not schema-checked.
    Fixture {
        name: "yaml_syntax_error_points_at_the_offending_character",
        base: Base::Standard,
        files: &[("config/a.yaml", "server:\n  host: a\nname: x: y\n")],
        code: 1,
    },
    // A comma is missing before `"mode"` (line 3, column 3).
    Fixture {
        name: "yaml_syntax_error_in_a_json_file",
        base: Base::Standard,
        files: &[(
            "config/a.json",
            "{\n  \"name\": \"x\"\n  \"mode\": \"y\"\n}\n",
        )],
        code: 1,
    },
    // At the second `host` (4:3), naming the first (2:3) as related.
    Fixture {
        name: "duplicate_key_points_at_the_second_key_and_names_the_first",
        base: Base::Standard,
        files: &[(
            "config/a.yaml",
            "server:\n  host: a\n  port: 80\n  host: b\n",
        )],
        code: 1,
    },
    // At the second `"name"` (3:3).
    Fixture {
        name: "duplicate_key_in_a_json_file",
        base: Base::Standard,
        files: &[(
            "config/a.json",
            "{\n  \"name\": \"x\",\n  \"name\": \"y\"\n}\n",
        )],
        code: 1,
    },
    // `NO`, `on`, `yes`, `Off` and `0755` read differently in YAML 1.1
    // (`NO` is boolean false, `on` true, 0755 octal 493); quoted scalars and
    // mapping keys are never reported. `NO` at 1:7, `on` at 5:9, `0755` at
    // 6:12, `yes` at 7:8 and `Off` at 7:19: five warnings, exit 0.
    Fixture {
        name: "ambiguous_scalars_warn_on_plain_values_only",
        base: Base::Standard,
        files: &[(
            "config/a.yaml",
            "\
name: NO
mode: \"on\"
server:
  host: 'off'
  mode: on
file_mode: 0755
tags: [yes, \"no\", Off]
labels:
  on: plain
  yes: \"y\"
  \"NO\": x
",
        )],
        code: 0,
    },
    Fixture {
        name: "empty_file_is_a_warning",
        base: Base::Standard,
        files: &[("config/empty.yaml", "")],
        code: 0,
    },
    // `!custom` starts at line 2, column 7; `!unset` is ringmaster's own tag.
    Fixture {
        name: "unknown_tag_is_a_warning_at_the_tag_and_unset_is_not_reported",
        base: Base::Standard,
        files: &[(
            "config/a.yaml",
            "mode: x\nname: !custom y\nserver: !unset\n",
        )],
        code: 0,
    },
    // Every finding on a key or value names it with a JSON Pointer (issue 2,
    // point 2): `/name` for the tag, `/schemas/0/schema` for the missing
    // schema (`schemas/missing.json` at 4:13).
    Fixture {
        name: "findings_on_a_key_or_value_carry_its_json_pointer",
        base: Base::Empty,
        files: &[
            (
                "ringmaster.yaml",
                "version: 1\nschemas:\n  - files: \"config/**/*.yaml\"\n    schema: schemas/missing.json\n",
            ),
            ("config/a.yaml", "mode: x\nname: !custom y\n"),
        ],
        code: 1,
    },
    // A reference problem is a finding (exit 1), not an unreadable repo (2):
    // the template at 4:5, "`rloe`… did you mean `{role}`"; one class.
    Fixture {
        name: "manifest_unknown_fact_in_a_template_suggests_the_known_one",
        base: Base::Empty,
        files: &[
            ("ringmaster.yaml", TYPO_FACT_MANIFEST),
            ("config/defaults.yaml", "name: x\n"),
        ],
        code: 1,
    },
    // `schemas/nope.json` at 4:13, named in the message.
    Fixture {
        name: "manifest_missing_schema_file_is_reported_at_its_path",
        base: Base::Empty,
        files: &[
            (
                "ringmaster.yaml",
                "version: 1\nschemas:\n  - files: \"config/**/*.yaml\"\n    schema: schemas/nope.json\n",
            ),
            ("config/a.yaml", "name: x\n"),
        ],
        code: 1,
    },
    // The quoted glob starts at 3:12, named in the message.
    Fixture {
        name: "manifest_bad_glob_is_reported_at_the_glob",
        base: Base::Empty,
        files: &[
            (
                "ringmaster.yaml",
                "\
version: 1
schemas:
  - files: \"config/[ab.yaml\"
    schema: schemas/layer.schema.json
",
            ),
            ("schemas/layer.schema.json", "{}\n"),
        ],
        code: 1,
    },
    // No findings; 3 files.
    Fixture {
        name: "valid_ring_and_flag_files_pass",
        base: Base::RingsAndFlags,
        files: &[],
        code: 0,
    },
    // Ring files are checked against ringmaster's ring schema: `explode` at
    // 4:12 (the message lists rollback and halt), the typo `sok` at 3:1 with
    // "did you mean `soak`?", and the missing `soak`: three findings.
    Fixture {
        name: "ring_files_are_checked_against_ringmasters_ring_schema",
        base: Base::RingsAndFlags,
        files: &[(
            "rings/multi-tenant.yaml",
            "name: multi-tenant\norder: 3\nsok: 1h\non_breach: explode\n",
        )],
        code: 1,
    },
    // Flag files against the flag schema: `boolean` at 2:7.
    Fixture {
        name: "flag_files_are_checked_against_ringmasters_flag_schema",
        base: Base::RingsAndFlags,
        files: &[(
            "flags/old-search.yaml",
            "name: old-search\ntype: boolean\ndefault: false\nowner: team-search\n",
        )],
        code: 1,
    },
    // `2` is at 1:10: exit 2, in the human output as `ringmaster.yaml:1:10`.
    Fixture {
        name: "exit_2_when_the_manifest_version_is_not_1",
        base: Base::Empty,
        files: &[("ringmaster.yaml", "version: 2\n")],
        code: 2,
    },
    // The key `schemaz` is at 2:1, with "did you mean `schemas`?".
    Fixture {
        name: "exit_2_when_the_manifest_has_an_unknown_top_level_key",
        base: Base::Empty,
        files: &[(
            "ringmaster.yaml",
            "version: 1\nschemaz:\n  - files: \"*.yaml\"\n    schema: s.json\n",
        )],
        code: 2,
    },
    // The human format: `file:4:9`, `[schema]`, the message, the source line
    // with its number and a caret under all of `eighty`; the second finding
    // (5:3) with its help "did you mean `host`?"; a summary of 2 errors.
    Fixture {
        name: "human_output_has_location_snippet_caret_and_rule",
        base: Base::Standard,
        files: &[(
            "config/role/api.yaml",
            "# the api role\nserver:\n  host: api.internal\n  port: eighty\n  hots: x\n",
        )],
        code: 1,
    },
    // A warning names its rule: `warning`, `config/a.yaml:1:7`, `[ambiguous-scalar]`.
    Fixture {
        name: "human_output_for_a_warning_names_the_rule",
        base: Base::Standard,
        files: &[("config/a.yaml", "name: yes\n")],
        code: 0,
    },
    // Workflow annotations: `::error file=config/role/api.yaml,line=3,col=9,
    // title=ringmaster schema::…` and a `::warning` at 4:7 for
    // ambiguous-scalar, each on one line (the help escaped as %0A).
    Fixture {
        name: "github_format_writes_workflow_annotations",
        base: Base::Standard,
        files: &[(
            "config/role/api.yaml",
            "server:\n  host: a\n  port: eighty\nname: on\n",
        )],
        code: 1,
    },
];

/// Every fixture in the JSON, human and GitHub formats: each exits with the
/// fixture's code, the JSON has SPEC §5's shape, the human output has no
/// colour (NO_COLOR), every GitHub annotation is one line; and the snapshot
/// pins the three outputs whole (rule, severity, file:line:col, message,
/// pointer, help, related, the snippet and its caret, the summary).
#[test]
fn every_fixture_matches_its_snapshot_in_json_human_and_github() {
    for fixture in FIXTURES {
        let repo = fixture.repo();
        let json = repo.run(&["check", "--format", "json"]);
        json.assert_code(fixture.code);
        assert_spec_shape(&json.json());
        let human = repo.run(&["check"]);
        human.assert_code(fixture.code);
        assert!(
            !human.all_output().contains('\x1b'),
            "no colour with NO_COLOR: {:?}",
            human.all_output()
        );
        let github = repo.run(&["check", "--format", "github"]);
        github.assert_code(fixture.code);
        for line in github.stdout.lines() {
            assert!(
                line.starts_with("::") || line.starts_with("ringmaster:"),
                "{}: an annotation is one line: {line:?}",
                fixture.name
            );
        }
        let shown = format!(
            "--- json\n{}--- human stdout\n{}--- human stderr\n{}--- github\n{}",
            json.stdout, human.stdout, human.stderr, github.stdout
        );
        insta::with_settings!({filters => redactions(), description => fixture.name}, {
            insta::assert_snapshot!(fixture.name, shown);
        });
    }
}

// ---------------------------------------------------------------- ring and flag files

const GOOD_RING: &str = "\
name: dogfood
order: 1
soak: 10m
interval: 30s
gates:
  - name: error-ratio
    query: sum(rate(errors[5m]))
    max: 0.01
on_breach: rollback
";

const GOOD_FLAG: &str = "\
name: new-checkout
owner: team-payments
type: bool
default: false
expires: \"2027-01-31\"
rings:
  dogfood: true
";

fn rings_and_flags_repo() -> TestRepo {
    let repo = TestRepo::new();
    repo.file(
        "ringmaster.yaml",
        "version: 1\nrings: rings/\nflags: flags/\n",
    );
    repo.file("rings/dogfood.yaml", GOOD_RING);
    repo.file("flags/new-checkout.yaml", GOOD_FLAG);
    repo
}

#[test]
fn a_ring_with_classes_but_no_enforcing_gate_is_a_notice_at_its_name() {
    let repo = TestRepo::new();
    repo.file(
        "ringmaster.yaml",
        "version: 1\nhost_classes:\n  a: {ring: dogfood}\n  b: {ring: canary}\n  c: {ring: wide}\nrings: rings/\n",
    )
    .file("rings/dogfood.yaml", "name: dogfood\norder: 1\nsoak: 1m\n")
    .file(
        "rings/canary.yaml",
        "name: canary\norder: 2\nsoak: 1m\ngates:\n  - name: errs\n    query: errs\n    max: 0.1\n    mode: shadow\n",
    )
    .file(
        "rings/wide.yaml",
        "name: wide\norder: 3\nsoak: 1m\ngates:\n  - name: errs\n    query: errs\n    max: 0.1\n",
    );
    let out = repo.run(&["check", "--format", "json"]).expect_code(0);
    let found = out.findings_of("ring-ungated");
    assert_eq!(found.len(), 2, "{found:?}");
    assert_location(
        &found[0],
        ("ring-ungated", "notice", "rings/canary.yaml", 1, 7),
    );
    assert!(
        found[0]["message"]
            .as_str()
            .unwrap()
            .contains("only shadow gates")
    );
    assert_location(
        &found[1],
        ("ring-ungated", "notice", "rings/dogfood.yaml", 1, 7),
    );
    assert!(found[1]["message"].as_str().unwrap().contains("no gates"));
    // Silenced like any rule.
    repo.file(
        "ringmaster.yaml",
        "version: 1\nhost_classes:\n  a: {ring: dogfood}\n  b: {ring: canary}\n  c: {ring: wide}\nrings: rings/\nrules:\n  ring-ungated: off\n",
    );
    let quiet = repo.run(&["check", "--format", "json"]);
    assert!(quiet.findings_of("ring-ungated").is_empty());
}

// ---------------------------------------------------------------- exit codes

#[test]
fn exit_1_with_an_error_in_every_format() {
    let repo = TestRepo::standard();
    repo.file("config/a.yaml", "server:\n  port: 80\n");
    for format in ["human", "json", "sarif", "github"] {
        repo.run(&["check", "--format", format]).assert_code(1);
    }
}

#[test]
fn exit_2_without_a_manifest() {
    let repo = TestRepo::new();
    repo.file("config/a.yaml", "name: x\n");
    let out = repo.run(&["check"]).expect_code(2);
    assert!(
        out.all_output().contains("ringmaster.yaml"),
        "the message names the missing file:\n{}",
        out.all_output()
    );
}

#[test]
fn exit_2_when_repo_is_not_a_directory() {
    let repo = TestRepo::standard();
    let missing = repo.path().join("no-such-dir");
    let out = run_at(repo.path(), &["--repo", missing.to_str().unwrap(), "check"]).expect_code(2);
    out.assert_stderr_has("no-such-dir");
}

// ---------------------------------------------------------------- inputs

#[test]
fn check_path_reports_only_that_file() {
    let repo = TestRepo::standard();
    repo.file("config/a.yaml", "server:\n  host: a\n  port: eighty\n");
    repo.file("config/b.yaml", "server:\n  port: 80\n");
    let out = repo
        .run(&["check", "--format", "json", "config/b.yaml"])
        .expect_code(1);
    assert_eq!(
        out.locations(),
        [("schema".into(), "config/b.yaml".into(), 1, 1)]
    );
    // Checked: the manifest and the one file.
    assert_eq!(out.json()["summary"]["files"], 2);
    // And the other one alone.
    let out = repo.run(&["check", "--format", "json", "config/a.yaml"]);
    assert_eq!(
        out.locations(),
        [("schema".into(), "config/a.yaml".into(), 3, 9)]
    );
}

#[test]
fn check_path_outside_the_manifest_globs_is_skipped() {
    let repo = TestRepo::standard();
    repo.file("notes/todo.yaml", "this: [is: not, valid\n");
    repo.file("README.md", "# hello\n");
    let out = repo
        .run(&["check", "--format", "json", "notes/todo.yaml", "README.md"])
        .expect_code(0);
    assert_eq!(out.findings(), Vec::<Value>::new());
    // The whole-repo check skips it too.
    let out = repo.run(&["check", "--format", "json"]).expect_code(0);
    assert_eq!(out.findings(), Vec::<Value>::new());
    // `-v` says so.
    let out = repo.run(&["-v", "check", "notes/todo.yaml"]).expect_code(0);
    out.assert_output_has("notes/todo.yaml");
}

/// The standard repo with a clean `config/a.yaml` committed, then `staged`
/// staged and `worktree` left in the working tree: `check --staged --format
/// json`, which must exit with `code`.
fn check_staged(staged: &str, worktree: &str, code: i32) -> (TestRepo, Output) {
    let repo = TestRepo::standard();
    repo.file("config/a.yaml", "server:\n  host: a\n  port: 80\n")
        .commit("clean");
    repo.file("config/a.yaml", staged)
        .stage("config/a.yaml")
        .file("config/a.yaml", worktree);
    let out = repo
        .run(&["check", "--staged", "--format", "json"])
        .expect_code(code);
    (repo, out)
}

#[test]
fn staged_reads_the_index_not_the_working_tree() {
    // Stage a bad version, then fix the working tree only.
    let (repo, out) = check_staged(
        "server:\n  host: a\n  port: eighty\n",
        "server:\n  host: a\n  port: 81\n",
        1,
    );
    assert_eq!(
        out.locations(),
        [("schema".into(), "config/a.yaml".into(), 3, 9)]
    );
    assert_eq!(
        out.findings()[0]["message"],
        "\"eighty\" is not of type \"integer\""
    );
    // Without --staged the working tree is read: clean.
    repo.run(&["check", "--format", "json"]).assert_code(0);
}

#[test]
fn staged_ignores_a_bad_working_tree_when_the_index_is_clean() {
    // Stage a good change, then break the working tree only.
    let (repo, out) = check_staged(
        "server:\n  host: b\n  port: 80\n",
        "server:\n  host: b\n  port: [broken\n",
        0,
    );
    assert_eq!(out.findings(), Vec::<Value>::new());
    // The working tree is broken.
    let out = repo.run(&["check", "--format", "json"]).expect_code(1);
    assert_eq!(out.findings()[0]["rule"], "yaml-syntax");
}

#[test]
fn staged_sees_a_new_file_that_is_not_on_disk_any_more() {
    let repo = TestRepo::standard();
    repo.file("config/a.yaml", "name: a\n").commit("clean");
    repo.file("config/new.yaml", "name: [1\n")
        .stage("config/new.yaml");
    std::fs::remove_file(repo.path().join("config/new.yaml")).unwrap();
    let out = repo
        .run(&["check", "--staged", "--format", "json"])
        .expect_code(1);
    assert_eq!(out.findings()[0]["rule"], "yaml-syntax");
    assert_eq!(out.findings()[0]["file"], "config/new.yaml");
}

#[test]
fn discovers_the_repo_from_a_subdirectory() {
    let repo = TestRepo::standard();
    repo.file(
        "config/role/api.yaml",
        "server:\n  host: a\n  port: eighty\n",
    );
    // Paths stay relative to the config repo, not to the cwd.
    assert_port_error_in(
        &repo,
        "config/role",
        &["check", "--format", "json"],
        "config/role/api.yaml",
    );
    // A path relative to the cwd, as a shell user types it.
    assert_port_error_in(
        &repo,
        "config/role",
        &["check", "--format", "json", "api.yaml"],
        "config/role/api.yaml",
    );
}

/// `args` run in `dir` of `repo` exit 1 with one finding: the schema error
/// of the non-integer port at `file`:3:9.
fn assert_port_error_in(repo: &TestRepo, dir: &str, args: &[&str], file: &str) {
    let out = repo.run_in(dir, args).expect_code(1);
    assert_eq!(out.locations(), [("schema".into(), file.into(), 3, 9)]);
}

#[test]
fn config_repo_in_a_subdirectory_of_the_git_repo() {
    let repo = TestRepo::new();
    repo.standard_files("ops");
    repo.file("ops/config/a.yaml", "server:\n  host: a\n  port: eighty\n");
    repo.file("app/main.rs", "fn main() {}\n");
    // Findings are relative to the config repo (where ringmaster.yaml is)…
    assert_port_error_in(
        &repo,
        "ops/config",
        &["check", "--format", "json"],
        "config/a.yaml",
    );
    // …and annotations relative to the checkout, where GitHub looks.
    let out = repo
        .run_in("ops", &["check", "--format", "github"])
        .expect_code(1);
    assert!(
        out.stdout
            .contains("::error file=ops/config/a.yaml,line=3,col=9,"),
        "{}",
        out.stdout
    );
    // --staged works there too.
    repo.stage("ops");
    assert_port_error_in(
        &repo,
        "ops",
        &["check", "--staged", "--format", "json"],
        "config/a.yaml",
    );
}

// ---------------------------------------------------------------- output formats

#[test]
fn json_output_is_exactly_the_spec_shape_for_every_rule() {
    // One repo where many rules fire at once: the shape holds for all of them.
    let repo = TestRepo::standard();
    repo.file("config/a.yaml", "server:\n  host: a\n  port: eighty\n")
        .file("config/b.yaml", "server:\n  host: a\n  host: b\n")
        .file("config/c.yaml", "name: NO\n")
        .file("config/d.yaml", "")
        .file("config/e.yaml", "name: [x\n")
        .file("config/f.yaml", "name: !x y\n")
        .bytes("config/g.yaml", b"name: \xff\n");
    let out = repo.run(&["check", "--format", "json"]).expect_code(1);
    assert_spec_shape(&out.json());
    // Every rule fires (schema, duplicate-key, ambiguous-scalar, empty-file,
    // yaml-syntax, unknown-tag, encoding), findings sorted by file then
    // position, and 9 files: the manifest, the schema and 7 layers. The
    // snapshot is the output byte for byte.
    insta::with_settings!({filters => redactions()}, {
        insta::assert_snapshot!(out.stdout);
    });
}

#[test]
fn list_rules_names_every_rule_the_tests_use() {
    let repo = TestRepo::standard();
    let out = repo.run(&["check", "--list-rules"]).expect_code(0);
    let missing: Vec<&str> = [
        "yaml-syntax",
        "duplicate-key",
        "ambiguous-scalar",
        "unknown-tag",
        "alias-limit",
        "nesting-too-deep",
        "encoding",
        "file-too-large",
        "empty-file",
        "schema",
        "schema-invalid",
        "manifest",
    ]
    .into_iter()
    .filter(|rule| !out.stdout.lines().any(|l| l.starts_with(rule)))
    .collect();
    assert_eq!(missing, Vec::<&str>::new(), "not listed in\n{}", out.stdout);
}

#[test]
fn a_directory_argument_checks_the_covered_files_under_it() {
    let repo = TestRepo::standard();
    repo.file("config/a/one.yaml", "name: 1\n")
        .file("config/a/deep/two.yaml", "name: [x]\n")
        .file("config/b/three.yaml", "name: 3\n")
        .file("config/a/ignored/four.yaml", "name: 4\n")
        .file(".gitignore", "config/a/ignored/\n");
    let out = repo
        .run(&["check", "config/a", "--format", "json"])
        .expect_code(1);
    let mut files: Vec<String> = out
        .findings()
        .iter()
        .map(|f| f["file"].as_str().unwrap_or_default().to_owned())
        .collect();
    files.sort();
    // Both files under config/a (recursively) are wrong; config/b and the
    // git-ignored file are not looked at.
    assert_eq!(
        files,
        ["config/a/deep/two.yaml", "config/a/one.yaml"],
        "{}",
        out.stdout
    );
}
