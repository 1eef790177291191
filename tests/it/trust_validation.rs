//! Hostile numbers, URLs and code patterns (issue 12, items 10, 11 and 15):
//! every duration, order, limit and threshold is validated by `check` and
//! never quietly replaced by a default; the Prometheus URL keeps its path
//! and query and never shows its secrets; flag references in code are found
//! with configurable patterns.

use crate::support::TestRepo;

/// A repo with four classes in four rings whose files hold every value the
/// issue found silently defaulted or misreported.
fn hostile_rings() -> TestRepo {
    let repo = TestRepo::new();
    repo.file(
        "ringmaster.yaml",
        "version: 1\nrings: rings\nhost_classes:\n  a: { ring: canary }\n  b: { ring: multi }\n  c: { ring: huge }\n  d: { ring: edge }\nmetrics:\n  kind: embedded\n  file: metrics.yaml\n",
    )
    .file("metrics.yaml", "series:\n  up: [[0, 1]]\n")
    .file(
        "rings/canary.yaml",
        "name: canary\norder: 1\nsoak: 99999999999999999999h\ninterval: 0s\ninconclusive_limit: 99999999999\ngates:\n  - name: errors\n    query: up\n    max: .nan\n",
    )
    .file(
        "rings/multi.yaml",
        "name: multi\norder: 3.0\nsoak: 1h\ngates:\n  - name: errors\n    query: up\n    max: 2\n",
    )
    .file(
        "rings/huge.yaml",
        "name: huge\norder: 99999999999999999999\nsoak: 1h\ngates:\n  - name: errors\n    query: up\n    max: 2\n",
    )
    .file(
        "rings/edge.yaml",
        "name: edge\norder: 4\nsoak: 1h\ninterval: 500ms\ninconclusive_limit: 0\ngates:\n  - name: errors\n    query: up\n    max: 1\n    min: 2\n  - name: burn\n    burn_rate:\n      objective: 0.999\n      errors: 'e[{window}]'\n      total: 't[{window}]'\n      windows:\n        - {long: 5m, short: 1h, factor: -.inf}\n",
    );
    repo.commit("hostile rings");
    repo
}

#[test]
fn out_of_range_durations_orders_limits_and_thresholds_are_check_errors_at_their_lines() {
    let repo = hostile_rings();
    let out = repo.run(&["check", "--format", "json"]);
    out.assert_code(1);
    let findings: Vec<String> = out
        .findings()
        .iter()
        .map(|f| {
            format!(
                "{} {}:{}:{} {} | {}",
                f["rule"].as_str().unwrap_or_default(),
                f["file"].as_str().unwrap_or_default(),
                f["line"],
                f["column"],
                f["path"].as_str().unwrap_or_default(),
                f["message"].as_str().unwrap_or_default()
            )
        })
        .collect();
    insta::assert_snapshot!(findings.join("\n"));
    // Nothing the schema sees through JSON (`.nan` as null) is reported as such.
    assert!(
        !out.stdout.contains("null is not of type"),
        "{}",
        out.stdout
    );

    // A command that evaluates rings refuses the invalid file (exit 2, at
    // its line) instead of running it with a zero soak or a default order.
    let gates = repo.run(&["gates", "check", "--ring", "multi"]);
    gates.assert_code(2);
    assert!(
        gates.stderr.contains("rings/canary.yaml:3:7"),
        "{}",
        gates.stderr
    );
}
