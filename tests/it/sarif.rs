//! `check --format sarif`: valid SARIF 2.1.0 by the official OASIS JSON Schema
//! (tests/data/sarif-2.1.0.schema.json, see tests/data/README.md), with the
//! fields GitHub code scanning reads.

use std::sync::OnceLock;

use jsonschema::Validator;
use serde_json::{Value, json};

use crate::support::{TYPO_FACT_MANIFEST, TestRepo, redactions};

const SARIF_SCHEMA: &str = include_str!("../data/sarif-2.1.0.schema.json");

/// The official schema, compiled once. It is self-contained (every `$ref` is
/// local), so nothing is resolved over the network.
fn sarif_validator() -> &'static Validator {
    static VALIDATOR: OnceLock<Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let schema: Value = serde_json::from_str(SARIF_SCHEMA).expect("the SARIF schema is JSON");
        jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .expect("the SARIF schema compiles")
    })
}

/// Every violation of the SARIF schema, as readable lines.
fn sarif_errors(log: &Value) -> Vec<String> {
    sarif_validator()
        .iter_errors(log)
        .map(|e| format!("{} at {}", e, e.instance_path().as_str()))
        .collect()
}

#[track_caller]
fn assert_valid_sarif(log: &Value) {
    let errors = sarif_errors(log);
    assert!(
        errors.is_empty(),
        "not valid SARIF 2.1.0:\n{}\n--- log\n{}",
        errors.join("\n"),
        serde_json::to_string_pretty(log).unwrap_or_default()
    );
}

/// A repo where errors, warnings, a finding with a related location and a
/// manifest finding all occur.
fn busy_repo() -> TestRepo {
    let repo = TestRepo::new();
    let schemas =
        "schemas:\n  - files: \"config/**/*.yaml\"\n    schema: schemas/layer.schema.json\n";
    repo.file("ringmaster.yaml", &format!("{TYPO_FACT_MANIFEST}{schemas}"));
    repo.file("schemas/layer.schema.json", crate::support::LAYER_SCHEMA);
    repo.file(
        "config/defaults.yaml",
        "server:\n  host: a\n  port: eighty\n  host: b\nname: NO\n",
    );
    repo.file("config/other.yaml", "name: !custom x\n");
    repo.file("config/empty.yaml", "");
    repo
}

#[test]
fn the_bundled_schema_is_the_official_sarif_2_1_0_schema() {
    let schema: Value = serde_json::from_str(SARIF_SCHEMA).unwrap();
    assert_eq!(
        schema["id"],
        "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
    );
    assert_eq!(schema["properties"]["version"]["enum"], json!(["2.1.0"]));
    assert_eq!(schema["definitions"].as_object().unwrap().len(), 52);
}

/// Guards against a vacuous validator: broken logs must fail.
#[test]
fn the_schema_rejects_broken_sarif() {
    let good = json!({
        "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": "x"}}, "results": [
            {"ruleId": "r", "level": "error", "message": {"text": "m"},
             "locations": [{"physicalLocation": {"artifactLocation": {"uri": "a.yaml"},
                            "region": {"startLine": 1, "startColumn": 1}}}]}]}]
    });
    assert_valid_sarif(&good);
    let mut bad_level = good.clone();
    bad_level["runs"][0]["results"][0]["level"] = json!("fatal");
    assert!(!sarif_errors(&bad_level).is_empty());
    let mut line_zero = good.clone();
    line_zero["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] =
        json!(0);
    assert!(!sarif_errors(&line_zero).is_empty());
    let mut no_message = good.clone();
    no_message["runs"][0]["results"][0]
        .as_object_mut()
        .unwrap()
        .remove("message");
    assert!(!sarif_errors(&no_message).is_empty());
    let mut unknown_key = good;
    unknown_key["runs"][0]["results"][0]["severity"] = json!("error");
    assert!(!sarif_errors(&unknown_key).is_empty());
}

#[test]
fn sarif_output_is_valid_sarif_2_1_0() {
    let repo = busy_repo();
    let out = repo.run(&["check", "--format", "sarif"]).expect_code(1);
    let log = out.json();
    assert_valid_sarif(&log);
    // Every finding the JSON format reports is a SARIF result.
    let json_out = repo.run(&["check", "--format", "json"]);
    assert_eq!(
        log["runs"][0]["results"].as_array().unwrap().len(),
        json_out.findings().len()
    );
    // The whole log: rules, levels, locations, relatedLocations (the first
    // `host` of a duplicate, line 2), fingerprints.
    insta::with_settings!({filters => redactions()}, {
        insta::assert_snapshot!(out.stdout);
    });
}

#[test]
fn sarif_without_findings_is_valid() {
    let repo = TestRepo::standard();
    repo.file("config/a.yaml", "name: fine\n");
    let out = repo.run(&["check", "--format", "sarif"]).expect_code(0);
    let log = out.json();
    assert_valid_sarif(&log);
    assert_eq!(log["runs"][0]["results"], json!([]));
}

#[test]
fn sarif_for_an_unreadable_manifest_is_valid_and_exits_2() {
    let repo = TestRepo::new();
    repo.file("ringmaster.yaml", "version: 2\n");
    let log = repo
        .run(&["check", "--format", "sarif"])
        .expect_code(2)
        .json();
    assert_valid_sarif(&log);
    let result = &log["runs"][0]["results"][0];
    assert_eq!(
        result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "ringmaster.yaml"
    );
    assert_eq!(
        result["locations"][0]["physicalLocation"]["region"]["startLine"],
        1
    );
}

/// What GitHub code scanning reads from an upload.
#[test]
fn sarif_has_what_github_code_scanning_reads() {
    let repo = busy_repo();
    let out = repo.run(&["check", "--format", "sarif"]);
    let log = out.json();
    assert_eq!(log["version"], "2.1.0");
    let run = &log["runs"][0];
    let driver = &run["tool"]["driver"];
    assert_eq!(driver["name"], "ringmaster");
    let rules = driver["rules"].as_array().expect("driver.rules");
    let rule_ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    for rule in &rules[..] {
        assert!(
            rule["shortDescription"]["text"].is_string(),
            "rules are described: {rule}"
        );
    }
    let results = run["results"].as_array().expect("results");
    assert!(!results.is_empty());
    let json_findings = repo.run(&["check", "--format", "json"]).findings();
    assert_eq!(results.len(), json_findings.len());
    for (result, finding) in results.iter().zip(&json_findings) {
        let rule_id = result["ruleId"].as_str().expect("ruleId");
        assert_eq!(rule_id, finding["rule"]);
        assert!(rule_ids.contains(&rule_id), "{rule_id} is in driver.rules");
        if let Some(index) = result["ruleIndex"].as_u64() {
            assert_eq!(
                rules[index as usize]["id"], rule_id,
                "ruleIndex points at it"
            );
        }
        let level = result["level"].as_str().expect("level");
        let expected_level = match finding["severity"].as_str().unwrap() {
            "error" => "error",
            "warning" => "warning",
            _ => "note",
        };
        assert_eq!(level, expected_level);
        let text = result["message"]["text"].as_str().expect("message.text");
        assert!(
            text.starts_with(finding["message"].as_str().unwrap()),
            "{text}"
        );
        let location = &result["locations"][0]["physicalLocation"];
        assert_eq!(location["artifactLocation"]["uri"], finding["file"]);
        assert_eq!(location["region"]["startLine"], finding["line"]);
        assert_eq!(location["region"]["startColumn"], finding["column"]);
        let fingerprints = result["partialFingerprints"]
            .as_object()
            .expect("partialFingerprints");
        assert!(!fingerprints.is_empty());
        assert!(
            fingerprints
                .values()
                .all(|v| v.as_str().is_some_and(|s| !s.is_empty()))
        );
    }
    // The exact location of one known finding: `eighty` at 3:9.
    let port = results
        .iter()
        .find(|r| {
            r["ruleId"] == "schema" && r["message"]["text"].as_str().unwrap().contains("eighty")
        })
        .expect("the port finding");
    assert_eq!(
        port["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "config/defaults.yaml"
    );
    assert_eq!(
        port["locations"][0]["physicalLocation"]["region"]["startLine"],
        3
    );
    assert_eq!(
        port["locations"][0]["physicalLocation"]["region"]["startColumn"],
        9
    );
    // Results are distinct for code scanning: no two share rule, file and fingerprint.
    let mut keys: Vec<String> = results
        .iter()
        .map(|r| {
            format!(
                "{} {} {}",
                r["ruleId"],
                r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
                r["partialFingerprints"]
            )
        })
        .collect();
    let before = keys.len();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), before, "fingerprints tell results apart");
}

/// Code scanning tracks a finding across commits by its fingerprint: moving
/// it down the file must not make it a new alert.
#[test]
fn sarif_fingerprints_survive_moved_lines() {
    let repo = TestRepo::standard();
    repo.file("config/a.yaml", "server:\n  host: a\n  port: eighty\n");
    let before = repo.run(&["check", "--format", "sarif"]).json();
    repo.file(
        "config/a.yaml",
        "# a comment\n# and another\nname: x\nserver:\n  host: a\n  port: eighty\n",
    );
    let after = repo.run(&["check", "--format", "sarif"]).json();
    let result = |log: &Value| log["runs"][0]["results"][0].clone();
    let (b, a) = (result(&before), result(&after));
    assert_eq!(
        b["locations"][0]["physicalLocation"]["region"]["startLine"],
        3
    );
    assert_eq!(
        a["locations"][0]["physicalLocation"]["region"]["startLine"],
        6
    );
    assert_eq!(b["partialFingerprints"], a["partialFingerprints"]);
}

/// GitHub resolves `uri` against the checkout root: a config repo in a
/// subdirectory must prefix it.
#[test]
fn sarif_uris_are_relative_to_the_git_checkout() {
    let repo = TestRepo::new();
    repo.standard_files("deploy/config-repo").file(
        "deploy/config-repo/config/a.yaml",
        "server:\n  host: a\n  port: eighty\n",
    );
    let sarif = repo.run_in("deploy/config-repo", &["check", "--format", "sarif"]);
    let log = sarif.expect_code(1).json();
    assert_valid_sarif(&log);
    assert_eq!(
        log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "deploy/config-repo/config/a.yaml"
    );
}
