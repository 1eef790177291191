//! `ringmaster check`: every rule on a fixture with its exact file:line:col,
//! the JSON shape of SPEC §5, exit codes, the three input modes (whole repo,
//! PATH…, --staged), repo discovery, and the human and GitHub formats.
//!
//! Positions are 1-based; columns count characters. Each fixture's comment
//! says which character a finding must point at.

use serde_json::{Value, json};

use crate::support::{TestRepo, assert_location, at, brief, run_at};

/// Asserts the document is exactly SPEC §5's shape: `findings[]` whose
/// members have rule, severity, file, line, column, message, path, class
/// (plus `help` and `related` when there are any), and a `summary` with
/// files, classes, errors, warnings whose counts agree with the findings.
#[track_caller]
fn assert_spec_shape(doc: &Value) {
    let top: Vec<&str> = doc
        .as_object()
        .expect("top level is an object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(top, ["findings", "summary"], "top-level keys");
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

// ---------------------------------------------------------------- schema

/// SPEC §5's own example: a wrong value is reported at its first character.
#[test]
fn schema_wrong_type_points_at_the_value() {
    let repo = TestRepo::standard();
    repo.file(
        "config/role/api.yaml",
        "# the api role\nserver:\n  host: api.internal\n  port: eighty\n",
    );
    let out = repo.run(&["check", "--format", "json"]);
    out.assert_code(1);
    let doc = out.json();
    assert_spec_shape(&doc);
    // `eighty` starts at line 4, column 9.
    assert_eq!(
        doc["findings"],
        json!([{"rule": "schema", "severity": "error", "file": "config/role/api.yaml",
                "line": 4, "column": 9, "message": "\"eighty\" is not of type \"integer\"",
                "path": "/server/port", "class": null}])
    );
    // Checked: the manifest, the layer schema and the layer file.
    assert_eq!(doc["summary"]["files"], 3);
    assert_eq!(doc["summary"]["classes"], 0);
    assert_eq!(doc["summary"]["errors"], 1);
    assert_eq!(doc["summary"]["warnings"], 0);
}

#[test]
fn schema_wrong_type_in_a_json_file_points_at_the_value() {
    let repo = TestRepo::standard();
    repo.file(
        "config/api.json",
        "{\n  \"server\": {\n    \"host\": \"a\",\n    \"port\": \"80\"\n  }\n}\n",
    );
    let out = repo.run(&["check", "--format", "json"]);
    out.assert_code(1);
    let findings = out.findings();
    assert_eq!(findings.len(), 1, "{findings:?}");
    // `"80"` starts at line 4, column 13 (the opening quote).
    assert_eq!(
        brief(&findings[0]),
        at(
            "schema",
            "error",
            "config/api.json",
            4,
            13,
            Some("/server/port")
        )
    );
    assert_eq!(findings[0]["message"], "\"80\" is not of type \"integer\"");
}

#[test]
fn schema_unexpected_key_points_at_the_key_and_suggests_the_right_one() {
    let repo = TestRepo::standard();
    repo.file("config/a.yaml", "server:\n  host: a\n  prot: 8080\n");
    let out = repo.run(&["check", "--format", "json"]);
    out.assert_code(1);
    let doc = out.json();
    assert_spec_shape(&doc);
    let findings = out.findings();
    assert_eq!(findings.len(), 1, "{findings:?}");
    // The key `prot` is at line 3, column 3.
    assert_eq!(
        brief(&findings[0]),
        at(
            "schema",
            "error",
            "config/a.yaml",
            3,
            3,
            Some("/server/prot")
        )
    );
    assert_eq!(findings[0]["message"], "unexpected key `prot`");
    assert_eq!(findings[0]["help"], "did you mean `port`?");
}

#[test]
fn schema_missing_required_key_points_at_the_key_of_the_mapping_that_lacks_it() {
    let repo = TestRepo::standard();
    repo.file("config/a.yaml", "name: svc\nserver:\n  port: 8080\n");
    let out = repo.run(&["check", "--format", "json"]);
    out.assert_code(1);
    let findings = out.findings();
    assert_eq!(findings.len(), 1, "{findings:?}");
    // `server` (line 2, column 1) is the mapping without `host`.
    assert_eq!(
        brief(&findings[0]),
        at("schema", "error", "config/a.yaml", 2, 1, Some("/server"))
    );
    assert_eq!(findings[0]["message"], "missing required key `host`");
}

#[test]
fn schema_invalid_schema_is_reported_on_the_schema_file_at_the_bad_value() {
    let repo = TestRepo::standard();
    repo.file(
        "schemas/layer.schema.json",
        "{\n  \"type\": \"object\",\n  \"properties\": {\n    \"port\": { \"type\": 12 }\n  }\n}\n",
    );
    // Would be a `schema` error if the schema were used.
    repo.file("config/a.yaml", "port: eighty\n");
    let out = repo.run(&["check", "--format", "json"]);
    out.assert_code(1);
    let findings = out.findings();
    assert_eq!(
        findings.len(),
        1,
        "only the schema is reported: {findings:?}"
    );
    // `12`, the bad value, is at line 4, column 23.
    assert_eq!(
        brief(&findings[0]),
        at(
            "schema-invalid",
            "error",
            "schemas/layer.schema.json",
            4,
            23,
            Some("/properties/port/type")
        )
    );
}

// ---------------------------------------------------------------- YAML lints

#[test]
fn yaml_syntax_error_points_at_the_offending_character() {
    let repo = TestRepo::standard();
    // The second `:` on line 3 (column 8) is not allowed there.
    repo.file("config/a.yaml", "server:\n  host: a\nname: x: y\n");
    let out = repo.run(&["check", "--format", "json"]);
    out.assert_code(1);
    let findings = out.findings();
    assert_eq!(
        findings.len(),
        1,
        "a broken file is not schema-checked: {findings:?}"
    );
    assert_eq!(
        brief(&findings[0]),
        at("yaml-syntax", "error", "config/a.yaml", 3, 8, None)
    );
    assert!(
        findings[0]["message"]
            .as_str()
            .unwrap()
            .contains("mapping values are not allowed"),
        "{}",
        findings[0]
    );
}

#[test]
fn yaml_syntax_error_in_a_json_file() {
    let repo = TestRepo::standard();
    // A comma is missing before `"mode"` (line 3, column 3).
    repo.file(
        "config/a.json",
        "{\n  \"name\": \"x\"\n  \"mode\": \"y\"\n}\n",
    );
    let out = repo.run(&["check", "--format", "json"]);
    out.assert_code(1);
    assert_eq!(
        out.locations(),
        [("yaml-syntax".into(), "config/a.json".into(), 3, 3)]
    );
}

#[test]
fn duplicate_key_points_at_the_second_key_and_names_the_first() {
    let repo = TestRepo::standard();
    repo.file(
        "config/a.yaml",
        "server:\n  host: a\n  port: 80\n  host: b\n",
    );
    let out = repo.run(&["check", "--format", "json"]);
    out.assert_code(1);
    let doc = out.json();
    assert_spec_shape(&doc);
    let findings = out.findings();
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(
        brief(&findings[0]),
        at(
            "duplicate-key",
            "error",
            "config/a.yaml",
            4,
            3,
            Some("/server/host")
        )
    );
    let message = findings[0]["message"].as_str().unwrap();
    assert!(
        message.contains("`host`") && message.contains("line 2"),
        "{message}"
    );
    assert_eq!(
        findings[0]["related"],
        json!([{"file": "config/a.yaml", "line": 2, "column": 3, "message": "first defined here"}])
    );
}

#[test]
fn duplicate_key_in_a_json_file() {
    let repo = TestRepo::standard();
    repo.file(
        "config/a.json",
        "{\n  \"name\": \"x\",\n  \"name\": \"y\"\n}\n",
    );
    let out = repo.run(&["check", "--format", "json"]);
    out.assert_code(1);
    let findings = out.findings();
    assert_eq!(
        brief(&findings[0]),
        at(
            "duplicate-key",
            "error",
            "config/a.json",
            3,
            3,
            Some("/name")
        )
    );
    assert_eq!(findings.len(), 1, "{findings:?}");
}

/// `NO`, `on`, `yes`, `Off` and `0755` read differently in YAML 1.1; quoted
/// scalars and mapping keys are never reported.
#[test]
fn ambiguous_scalars_warn_on_plain_values_only() {
    let repo = TestRepo::standard();
    repo.file(
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
    );
    let out = repo.run(&["check", "--format", "json"]);
    // Warnings only: exit 0.
    out.assert_code(0);
    let doc = out.json();
    assert_spec_shape(&doc);
    let found: Vec<_> = out.findings().iter().map(brief).collect();
    assert_eq!(
        found,
        [
            // `NO` at line 1, column 7.
            at(
                "ambiguous-scalar",
                "warning",
                "config/a.yaml",
                1,
                7,
                Some("/name")
            ),
            // `on` at line 5, column 9.
            at(
                "ambiguous-scalar",
                "warning",
                "config/a.yaml",
                5,
                9,
                Some("/server/mode")
            ),
            // `0755` at line 6, column 12.
            at(
                "ambiguous-scalar",
                "warning",
                "config/a.yaml",
                6,
                12,
                Some("/file_mode")
            ),
            // `yes` at line 7, column 8; `Off` at column 19.
            at(
                "ambiguous-scalar",
                "warning",
                "config/a.yaml",
                7,
                8,
                Some("/tags/0")
            ),
            at(
                "ambiguous-scalar",
                "warning",
                "config/a.yaml",
                7,
                19,
                Some("/tags/2")
            ),
        ]
    );
    let messages: Vec<&str> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert!(
        messages[0].contains("`NO`") && messages[0].contains("boolean false"),
        "{}",
        messages[0]
    );
    assert!(
        messages[1].contains("`on`") && messages[1].contains("boolean true"),
        "{}",
        messages[1]
    );
    // 0755 is 755 in YAML 1.2 but octal 493 in YAML 1.1.
    assert!(
        messages[2].contains("755") && messages[2].contains("493"),
        "{}",
        messages[2]
    );
    assert_eq!(doc["summary"]["warnings"], 5);
    assert_eq!(doc["summary"]["errors"], 0);
}

#[test]
fn empty_file_is_a_warning() {
    let repo = TestRepo::standard();
    repo.file("config/empty.yaml", "");
    let out = repo.run(&["check", "--format", "json"]);
    out.assert_code(0);
    assert_spec_shape(&out.json());
    let findings = out.findings();
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_location(
        &findings[0],
        ("empty-file", "warning", "config/empty.yaml", 1, 1),
    );
}

#[test]
fn unknown_tag_is_a_warning_at_the_tag_and_unset_is_not_reported() {
    let repo = TestRepo::standard();
    // `!custom` starts at line 2, column 7; `!unset` is ringmaster's own tag.
    repo.file(
        "config/a.yaml",
        "mode: x\nname: !custom y\nserver: !unset\n",
    );
    let out = repo.run(&["check", "--format", "json"]);
    out.assert_code(0);
    let findings = out.findings();
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_location(
        &findings[0],
        ("unknown-tag", "warning", "config/a.yaml", 2, 7),
    );
    assert!(
        findings[0]["message"].as_str().unwrap().contains("!custom"),
        "{}",
        findings[0]
    );
}

/// Every finding on a key or value names it with a JSON Pointer (issue 2,
/// point 2: "rule, severity, file, line, column, message, JSON-pointer path").
#[test]
fn findings_on_a_key_or_value_carry_its_json_pointer() {
    let repo = TestRepo::new();
    repo.file(
        "ringmaster.yaml",
        "version: 1\nschemas:\n  - files: \"config/**/*.yaml\"\n    schema: schemas/missing.json\n",
    );
    repo.file("config/a.yaml", "mode: x\nname: !custom y\n");
    let out = repo.run(&["check", "--format", "json"]);
    out.assert_code(1);
    let tag = &out.findings_of("unknown-tag")[0];
    assert_eq!(
        tag["path"], "/name",
        "unknown-tag on the value of `name`: {tag}"
    );
    let manifest = &out.findings_of("manifest")[0];
    // `schemas/missing.json` at line 4, column 13.
    assert_eq!(
        (&manifest["line"], &manifest["column"]),
        (&json!(4), &json!(13))
    );
    assert_eq!(
        manifest["path"], "/schemas/0/schema",
        "the missing schema's manifest entry: {manifest}"
    );
}

// ---------------------------------------------------------------- manifest references

#[test]
fn manifest_unknown_fact_in_a_template_suggests_the_known_one() {
    let repo = TestRepo::new();
    repo.file(
        "ringmaster.yaml",
        "\
version: 1
hierarchy:
  - config/defaults.yaml
  - config/role/{rloe}.yaml
host_classes:
  api: { role: api }
",
    );
    repo.file("config/defaults.yaml", "name: x\n");
    let out = repo.run(&["check", "--format", "json"]);
    // A reference problem is a finding (exit 1), not an unreadable repo (2).
    out.assert_code(1);
    assert_spec_shape(&out.json());
    let found = out.findings_of("manifest");
    assert_eq!(found.len(), 1, "{found:?}");
    // The template starts at line 4, column 5.
    assert_eq!(
        brief(&found[0]),
        at(
            "manifest",
            "error",
            "ringmaster.yaml",
            4,
            5,
            Some("/hierarchy/1")
        )
    );
    let message = found[0]["message"].as_str().unwrap();
    assert!(message.contains("`rloe`"), "{message}");
    assert!(message.contains("did you mean `{role}`"), "{message}");
    assert_eq!(out.json()["summary"]["classes"], 1);
}

#[test]
fn manifest_missing_schema_file_is_reported_at_its_path() {
    let repo = TestRepo::new();
    repo.file(
        "ringmaster.yaml",
        "version: 1\nschemas:\n  - files: \"config/**/*.yaml\"\n    schema: schemas/nope.json\n",
    );
    repo.file("config/a.yaml", "name: x\n");
    let out = repo.run(&["check", "--format", "json"]);
    out.assert_code(1);
    let found = out.findings();
    assert_eq!(found.len(), 1, "{found:?}");
    // `schemas/nope.json` at line 4, column 13.
    assert_location(&found[0], ("manifest", "error", "ringmaster.yaml", 4, 13));
    assert!(
        found[0]["message"]
            .as_str()
            .unwrap()
            .contains("schemas/nope.json"),
        "{}",
        found[0]
    );
}

#[test]
fn manifest_bad_glob_is_reported_at_the_glob() {
    let repo = TestRepo::new();
    repo.file(
        "ringmaster.yaml",
        "\
version: 1
schemas:
  - files: \"config/[ab.yaml\"
    schema: schemas/layer.schema.json
",
    );
    repo.file("schemas/layer.schema.json", "{}\n");
    let out = repo.run(&["check", "--format", "json"]);
    out.assert_code(1);
    let found = out.findings();
    assert_eq!(found.len(), 1, "{found:?}");
    // The quoted glob starts at line 3, column 12.
    assert_eq!(
        brief(&found[0]),
        at(
            "manifest",
            "error",
            "ringmaster.yaml",
            3,
            12,
            Some("/schemas/0/files")
        )
    );
    assert!(
        found[0]["message"]
            .as_str()
            .unwrap()
            .contains("config/[ab.yaml"),
        "{}",
        found[0]
    );
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
fn valid_ring_and_flag_files_pass() {
    let repo = rings_and_flags_repo();
    let out = repo.run(&["check", "--format", "json"]);
    out.assert_code(0);
    assert_eq!(out.findings(), Vec::<Value>::new());
    assert_eq!(out.json()["summary"]["files"], 3);
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
    let out = repo.run(&["check", "--format", "json"]);
    out.assert_code(0);
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

#[test]
fn ring_files_are_checked_against_ringmasters_ring_schema() {
    let repo = rings_and_flags_repo();
    repo.file(
        "rings/multi-tenant.yaml",
        "name: multi-tenant\norder: 3\nsok: 1h\non_breach: explode\n",
    );
    let out = repo.run(&["check", "--format", "json"]);
    out.assert_code(1);
    assert_spec_shape(&out.json());
    let found = out.findings();
    let bad_value = found
        .iter()
        .find(|f| f["path"] == "/on_breach")
        .expect("a finding on on_breach");
    // `explode` starts at line 4, column 12.
    assert_eq!(
        brief(bad_value),
        at(
            "schema",
            "error",
            "rings/multi-tenant.yaml",
            4,
            12,
            Some("/on_breach")
        )
    );
    let message = bad_value["message"].as_str().unwrap();
    assert!(
        message.contains("explode") && message.contains("rollback") && message.contains("halt"),
        "{message}"
    );
    let typo = found
        .iter()
        .find(|f| f["path"] == "/sok")
        .expect("a finding on sok");
    assert_eq!(
        brief(typo),
        at(
            "schema",
            "error",
            "rings/multi-tenant.yaml",
            3,
            1,
            Some("/sok")
        )
    );
    assert_eq!(typo["help"], "did you mean `soak`?");
    let missing = found
        .iter()
        .find(|f| f["message"] == "missing required key `soak`")
        .expect("soak is required");
    assert_eq!(missing["file"], "rings/multi-tenant.yaml");
    assert_eq!(found.len(), 3, "{found:?}");
}

#[test]
fn flag_files_are_checked_against_ringmasters_flag_schema() {
    let repo = rings_and_flags_repo();
    repo.file(
        "flags/old-search.yaml",
        "name: old-search\ntype: boolean\ndefault: false\nowner: team-search\n",
    );
    let out = repo.run(&["check", "--format", "json"]);
    out.assert_code(1);
    let found = out.findings();
    assert_eq!(found.len(), 1, "{found:?}");
    // `boolean` starts at line 2, column 7.
    assert_eq!(
        brief(&found[0]),
        at(
            "schema",
            "error",
            "flags/old-search.yaml",
            2,
            7,
            Some("/type")
        )
    );
    assert!(
        found[0]["message"].as_str().unwrap().contains("boolean"),
        "{}",
        found[0]
    );
}

// ---------------------------------------------------------------- exit codes

#[test]
fn exit_0_when_clean() {
    let repo = TestRepo::standard();
    repo.file("config/a.yaml", "server:\n  host: a\n  port: 80\n");
    let out = repo.run(&["check"]);
    out.assert_code(0);
    assert!(out.stdout.contains("no findings"), "{}", out.stdout);
    let out = repo.run(&["check", "--format", "json"]);
    out.assert_code(0);
    assert_spec_shape(&out.json());
    assert_eq!(out.findings(), Vec::<Value>::new());
    assert_eq!(out.json()["summary"]["files"], 3);
}

#[test]
fn exit_0_with_only_warnings() {
    let repo = TestRepo::standard();
    repo.file("config/a.yaml", "name: off\n");
    repo.file("config/b.yaml", "");
    let out = repo.run(&["check", "--format", "json"]);
    out.assert_code(0);
    assert_eq!(out.json()["summary"]["warnings"], 2);
    assert_eq!(out.json()["summary"]["errors"], 0);
    repo.run(&["check"]).assert_code(0);
}

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
    let out = repo.run(&["check"]);
    out.assert_code(2);
    assert!(
        out.all_output().contains("ringmaster.yaml"),
        "the message names the missing file:\n{}",
        out.all_output()
    );
}

#[test]
fn exit_2_when_the_manifest_version_is_not_1() {
    let repo = TestRepo::new();
    repo.file("ringmaster.yaml", "version: 2\n");
    let out = repo.run(&["check"]);
    out.assert_code(2);
    // `2` is at line 1, column 10.
    assert!(
        out.all_output().contains("ringmaster.yaml:1:10"),
        "names the file and line:\n{}",
        out.all_output()
    );
    let out = repo.run(&["check", "--format", "json"]);
    out.assert_code(2);
    assert_spec_shape(&out.json());
    assert_eq!(
        brief(&out.findings()[0]),
        at(
            "schema",
            "error",
            "ringmaster.yaml",
            1,
            10,
            Some("/version")
        )
    );
}

#[test]
fn exit_2_when_the_manifest_has_an_unknown_top_level_key() {
    let repo = TestRepo::new();
    repo.file(
        "ringmaster.yaml",
        "version: 1\nschemaz:\n  - files: \"*.yaml\"\n    schema: s.json\n",
    );
    let out = repo.run(&["check"]);
    out.assert_code(2);
    let all = out.all_output();
    // The key `schemaz` is at line 2, column 1.
    assert!(all.contains("ringmaster.yaml:2:1"), "{all}");
    assert!(all.contains("schemaz"), "{all}");
    assert!(all.contains("did you mean `schemas`?"), "{all}");
    let out = repo.run(&["check", "--format", "json"]);
    out.assert_code(2);
    assert_eq!(
        brief(&out.findings()[0]),
        at("schema", "error", "ringmaster.yaml", 2, 1, Some("/schemaz"))
    );
}

#[test]
fn exit_2_when_repo_is_not_a_directory() {
    let repo = TestRepo::standard();
    let missing = repo.path().join("no-such-dir");
    let out = run_at(repo.path(), &["--repo", missing.to_str().unwrap(), "check"]);
    out.assert_code(2);
    assert!(out.stderr.contains("no-such-dir"), "{}", out.stderr);
}

// ---------------------------------------------------------------- inputs

#[test]
fn check_path_reports_only_that_file() {
    let repo = TestRepo::standard();
    repo.file("config/a.yaml", "server:\n  host: a\n  port: eighty\n");
    repo.file("config/b.yaml", "server:\n  port: 80\n");
    let out = repo.run(&["check", "--format", "json", "config/b.yaml"]);
    out.assert_code(1);
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
    let out = repo.run(&["check", "--format", "json", "notes/todo.yaml", "README.md"]);
    out.assert_code(0);
    assert_eq!(out.findings(), Vec::<Value>::new());
    // The whole-repo check skips it too.
    let out = repo.run(&["check", "--format", "json"]);
    out.assert_code(0);
    assert_eq!(out.findings(), Vec::<Value>::new());
    // `-v` says so.
    let out = repo.run(&["-v", "check", "notes/todo.yaml"]);
    out.assert_code(0);
    assert!(
        out.all_output().contains("notes/todo.yaml"),
        "{}",
        out.all_output()
    );
}

#[test]
fn staged_reads_the_index_not_the_working_tree() {
    let repo = TestRepo::standard();
    repo.file("config/a.yaml", "server:\n  host: a\n  port: 80\n")
        .commit("clean");
    // Stage a bad version, then fix the working tree only.
    repo.file("config/a.yaml", "server:\n  host: a\n  port: eighty\n")
        .stage("config/a.yaml")
        .file("config/a.yaml", "server:\n  host: a\n  port: 81\n");
    let out = repo.run(&["check", "--staged", "--format", "json"]);
    out.assert_code(1);
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
    let repo = TestRepo::standard();
    repo.file("config/a.yaml", "server:\n  host: a\n  port: 80\n")
        .commit("clean");
    // Stage a good change, then break the working tree only.
    repo.file("config/a.yaml", "server:\n  host: b\n  port: 80\n")
        .stage("config/a.yaml")
        .file("config/a.yaml", "server:\n  host: b\n  port: [broken\n");
    let out = repo.run(&["check", "--staged", "--format", "json"]);
    out.assert_code(0);
    assert_eq!(out.findings(), Vec::<Value>::new());
    // The working tree is broken.
    let out = repo.run(&["check", "--format", "json"]);
    out.assert_code(1);
    assert_eq!(out.findings()[0]["rule"], "yaml-syntax");
}

#[test]
fn staged_sees_a_new_file_that_is_not_on_disk_any_more() {
    let repo = TestRepo::standard();
    repo.file("config/a.yaml", "name: a\n").commit("clean");
    repo.file("config/new.yaml", "name: [1\n")
        .stage("config/new.yaml");
    std::fs::remove_file(repo.path().join("config/new.yaml")).unwrap();
    let out = repo.run(&["check", "--staged", "--format", "json"]);
    out.assert_code(1);
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
    let out = repo.run_in("config/role", &["check", "--format", "json"]);
    out.assert_code(1);
    // Paths stay relative to the config repo, not to the cwd.
    assert_eq!(
        out.locations(),
        [("schema".into(), "config/role/api.yaml".into(), 3, 9)]
    );
    // A path relative to the cwd, as a shell user types it.
    let out = repo.run_in("config/role", &["check", "--format", "json", "api.yaml"]);
    out.assert_code(1);
    assert_eq!(
        out.locations(),
        [("schema".into(), "config/role/api.yaml".into(), 3, 9)]
    );
}

#[test]
fn config_repo_in_a_subdirectory_of_the_git_repo() {
    let repo = TestRepo::new();
    repo.standard_files("ops");
    repo.file("ops/config/a.yaml", "server:\n  host: a\n  port: eighty\n");
    repo.file("app/main.rs", "fn main() {}\n");
    let out = repo.run_in("ops/config", &["check", "--format", "json"]);
    out.assert_code(1);
    // Findings are relative to the config repo (where ringmaster.yaml is)…
    assert_eq!(
        out.locations(),
        [("schema".into(), "config/a.yaml".into(), 3, 9)]
    );
    // …and annotations relative to the checkout, where GitHub looks.
    let out = repo.run_in("ops", &["check", "--format", "github"]);
    out.assert_code(1);
    assert!(
        out.stdout
            .contains("::error file=ops/config/a.yaml,line=3,col=9,"),
        "{}",
        out.stdout
    );
    // --staged works there too.
    repo.stage("ops");
    let out = repo.run_in("ops", &["check", "--staged", "--format", "json"]);
    out.assert_code(1);
    assert_eq!(
        out.locations(),
        [("schema".into(), "config/a.yaml".into(), 3, 9)]
    );
}

// ---------------------------------------------------------------- output formats

#[test]
fn human_output_has_location_snippet_caret_and_rule() {
    let repo = TestRepo::standard();
    repo.file(
        "config/role/api.yaml",
        "# the api role\nserver:\n  host: api.internal\n  port: eighty\n  hots: x\n",
    );
    let out = repo.run(&["check"]);
    out.assert_code(1);
    let text = &out.stdout;
    assert!(!text.contains('\x1b'), "no colour with NO_COLOR: {text:?}");
    assert!(text.contains("config/role/api.yaml:4:9"), "{text}");
    assert!(text.contains("[schema]"), "the rule code: {text}");
    assert!(
        text.contains("\"eighty\" is not of type \"integer\""),
        "{text}"
    );
    // The source line, then a caret under `eighty`.
    let lines: Vec<&str> = text.lines().collect();
    let src = lines
        .iter()
        .position(|l| l.ends_with("  port: eighty"))
        .unwrap_or_else(|| panic!("the source line is shown:\n{text}"));
    assert!(
        lines[src].trim_start().starts_with("4 |"),
        "with its line number: {}",
        lines[src]
    );
    let caret_line = lines[src + 1];
    let value_col = lines[src].find("eighty").unwrap();
    assert_eq!(
        caret_line.find('^'),
        Some(value_col),
        "the caret sits under the value:\n{}\n{}",
        lines[src],
        caret_line
    );
    assert_eq!(
        caret_line.matches('^').count(),
        "eighty".len(),
        "{caret_line}"
    );
    // The second finding, with its help.
    assert!(text.contains("config/role/api.yaml:5:3"), "{text}");
    assert!(text.contains("did you mean `host`?"), "{text}");
    // A summary line.
    assert!(
        text.contains("2 errors"),
        "a summary counts the errors: {text}"
    );
}

#[test]
fn human_output_for_a_warning_names_the_rule() {
    let repo = TestRepo::standard();
    repo.file("config/a.yaml", "name: yes\n");
    let out = repo.run(&["check"]);
    out.assert_code(0);
    assert!(out.stdout.contains("warning"), "{}", out.stdout);
    assert!(out.stdout.contains("config/a.yaml:1:7"), "{}", out.stdout);
    assert!(out.stdout.contains("[ambiguous-scalar]"), "{}", out.stdout);
}

#[test]
fn github_format_writes_workflow_annotations() {
    let repo = TestRepo::standard();
    repo.file(
        "config/role/api.yaml",
        "server:\n  host: a\n  port: eighty\nname: on\n",
    );
    let out = repo.run(&["check", "--format", "github"]);
    out.assert_code(1);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(
        lines.contains(
            &"::error file=config/role/api.yaml,line=3,col=9,title=ringmaster schema::\"eighty\" is not of type \"integer\""
        ),
        "{}",
        out.stdout
    );
    let warning = lines
        .iter()
        .find(|l| l.starts_with("::warning "))
        .unwrap_or_else(|| panic!("a warning annotation:\n{}", out.stdout));
    assert!(
        warning.starts_with(
            "::warning file=config/role/api.yaml,line=4,col=7,title=ringmaster ambiguous-scalar::"
        ),
        "{warning}"
    );
    // Every annotation is one line: the help is escaped (%0A), not a newline.
    for line in &lines {
        assert!(
            line.starts_with("::") || line.starts_with("ringmaster:"),
            "unexpected line {line:?} in\n{}",
            out.stdout
        );
    }
}

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
    let out = repo.run(&["check", "--format", "json"]);
    out.assert_code(1);
    let doc = out.json();
    assert_spec_shape(&doc);
    let rules: Vec<String> = out.locations().into_iter().map(|l| l.0).collect();
    for rule in [
        "schema",
        "duplicate-key",
        "ambiguous-scalar",
        "empty-file",
        "yaml-syntax",
        "unknown-tag",
        "encoding",
    ] {
        assert!(rules.iter().any(|r| r == rule), "{rule} in {rules:?}");
    }
    // Findings come sorted by file, then position.
    let files: Vec<String> = out.locations().into_iter().map(|l| l.1).collect();
    let mut sorted = files.clone();
    sorted.sort();
    assert_eq!(files, sorted);
    // 2 (manifest, schema) + 7 layer files.
    assert_eq!(doc["summary"]["files"], 9);
}

#[test]
fn list_rules_names_every_rule_the_tests_use() {
    let repo = TestRepo::standard();
    let out = repo.run(&["check", "--list-rules"]);
    out.assert_code(0);
    for rule in [
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
    ] {
        assert!(
            out.stdout.lines().any(|l| l.starts_with(rule)),
            "{rule} in\n{}",
            out.stdout
        );
    }
}

#[test]
fn the_standard_fixture_repo_is_clean() {
    // Guards the fixtures: the support manifest and layer schema pass as they are.
    let repo = TestRepo::standard();
    let out = repo.run(&["check", "--format", "json"]);
    out.assert_code(0);
    assert_eq!(out.findings(), Vec::<Value>::new());
    assert_eq!(out.json()["summary"]["files"], 2);
}

#[test]
fn a_directory_argument_checks_the_covered_files_under_it() {
    let repo = TestRepo::standard();
    repo.file("config/a/one.yaml", "name: 1\n")
        .file("config/a/deep/two.yaml", "name: [x]\n")
        .file("config/b/three.yaml", "name: 3\n")
        .file("config/a/ignored/four.yaml", "name: 4\n")
        .file(".gitignore", "config/a/ignored/\n");
    let out = repo.run(&["check", "config/a", "--format", "json"]);
    out.assert_code(1);
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
