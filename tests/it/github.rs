//! GitHub integration: ringmaster validates the project's own workflows (and
//! the example workflow for users) against the GitHub workflow JSON Schema
//! (SchemaStore's, vendored as `tests/data/github-workflow.json`, see
//! tests/data/README.md), and the composite action's scripts run as GitHub
//! runs them: the check step on a real change writes annotations, SARIF and
//! its outputs; the verdict step follows `fail-on`.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::{BIN, TestRepo, run_tool};

fn project() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn workflow_schema() -> PathBuf {
    // Vendored with the tests (see tests/data/README.md): a fresh clone has
    // everything the suite needs, and no test downloads anything.
    project().join("tests/data/github-workflow.json")
}

/// Every `*.yml` under `dir` of the project, as (relative path, text).
fn yml_files(dir: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(project().join(dir))
        .unwrap_or_else(|e| panic!("read {dir}: {e}"))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
        .map(|p| {
            (
                format!("{dir}/{}", p.file_name().unwrap().to_string_lossy()),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

/// A config repo whose manifest maps workflow files to the workflow schema:
/// ringmaster checking GitHub's files like any other config.
fn workflow_repo() -> (TestRepo, Vec<String>) {
    let repo = TestRepo::new();
    let schema = std::fs::read_to_string(workflow_schema()).unwrap();
    repo.file("schemas/github-workflow.json", &schema).file(
        "ringmaster.yaml",
        "version: 1\nschemas:\n  - files: \".github/workflows/*.yml\"\n    schema: schemas/github-workflow.json\n  - files: \"examples/github/*.yml\"\n    schema: schemas/github-workflow.json\n",
    );
    let mut names = Vec::new();
    for (path, text) in yml_files(".github/workflows")
        .into_iter()
        .chain(yml_files("examples/github"))
    {
        repo.file(&path, &text);
        names.push(path);
    }
    assert!(
        names.iter().any(|n| n == ".github/workflows/ci.yml")
            && names.iter().any(|n| n.starts_with("examples/github/")),
        "{names:?}"
    );
    (repo, names)
}

#[test]
fn the_workflows_validate_against_the_github_workflow_schema() {
    let (repo, names) = workflow_repo();
    let out = repo.run(&["check", "--format", "json"]).expect_code(0);
    assert_eq!(out.findings(), Vec::<Value>::new(), "{}", out.stdout);
    // Every workflow was checked (plus the manifest and the schema file).
    let checked = out.json()["summary"]["files"].as_u64().unwrap();
    assert_eq!(checked as usize, names.len() + 2, "{}", out.stdout);

    // A broken copy of the CI workflow: `permission:` for `permissions:`.
    let ci = repo.read(".github/workflows/ci.yml");
    let line = ci
        .lines()
        .position(|l| l.starts_with("permissions:"))
        .expect("ci.yml sets permissions")
        + 1;
    repo.file(
        ".github/workflows/broken.yml",
        &ci.replacen("permissions:", "permission:", 1),
    );
    let out = repo.run(&["check", "--format", "json"]).expect_code(1);
    let findings = out.findings();
    assert_eq!(findings.len(), 1, "{}", out.stdout);
    crate::support::assert_location(
        &findings[0],
        (
            "schema",
            "error",
            ".github/workflows/broken.yml",
            line as u64,
            1,
        ),
    );
    assert!(
        findings[0]["message"]
            .as_str()
            .unwrap()
            .contains("permission"),
        "{}",
        findings[0]
    );
    let human = repo.run(&["check"]).expect_code(1);
    assert!(
        human
            .stdout
            .contains(&format!(".github/workflows/broken.yml:{line}:1")),
        "{}",
        human.stdout
    );
}

/// The action's steps, parsed with ringmaster's own YAML reader.
pub(crate) fn action_steps() -> Vec<Value> {
    let text = std::fs::read(project().join("action.yml")).unwrap();
    let parsed = ringmaster::config::document::parse(
        "action.yml",
        &text,
        &ringmaster::config::document::Limits::default(),
    );
    assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
    let action = parsed.single().unwrap().to_json();
    assert_eq!(action["runs"]["using"], "composite");
    for input in [
        "path",
        "base",
        "version",
        "fail-on",
        "comment",
        "upload-sarif",
    ] {
        assert!(action["inputs"].get(input).is_some(), "no input {input}");
    }
    action["runs"]["steps"].as_array().unwrap().clone()
}

pub(crate) fn step<'a>(steps: &'a [Value], name: &str) -> &'a Value {
    steps
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no step `{name}` in action.yml"))
}

/// Runs one step's script the way GitHub runs `shell: bash`.
pub(crate) fn run_step(script: &str, dir: &Path, envs: &[(&str, &str)]) -> (i32, String, String) {
    let file = dir.join("step.sh");
    std::fs::write(&file, script).unwrap();
    let bin_dir = Path::new(BIN).parent().unwrap();
    let out = Command::new("bash")
        .args(["--noprofile", "--norc", "-eo", "pipefail"])
        .arg(&file)
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin_dir.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env("NO_COLOR", "1")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .envs(envs.iter().copied())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_actions_scripts_parse_and_take_no_expressions() {
    let steps = action_steps();
    let scripts: Vec<&str> = steps.iter().filter_map(|s| s["run"].as_str()).collect();
    assert!(scripts.len() >= 4);
    let dir = tempfile::tempdir().unwrap();
    for (n, script) in scripts.iter().enumerate() {
        // Inputs reach scripts through `env:`, never pasted in as `${{ }}`
        // (a branch name or an input could otherwise inject shell).
        assert!(!script.contains("${{"), "step {n} interpolates:\n{script}");
        let file = dir.path().join(format!("step{n}.sh"));
        std::fs::write(&file, format!("#!/usr/bin/env bash\n{script}")).unwrap();
        run_tool(
            Command::new("bash").arg("-n").arg(&file),
            &format!("bash -n on step {n}"),
        );
        run_tool(
            Command::new("shellcheck")
                .args(["--severity=warning", "--shell=bash"])
                .arg(&file),
            &format!(
                "shellcheck on step {n} (required; Debian: shellcheck; scripts/test.sh installs it)"
            ),
        );
    }
}

#[test]
fn the_actions_check_step_annotates_writes_sarif_and_the_verdict_follows_fail_on() {
    let steps = action_steps();
    let check = step(&steps, "ringmaster check")["run"].as_str().unwrap();
    let verdict = step(&steps, "Verdict")["run"].as_str().unwrap();

    // A pull request: the shop example at its base, then a breaking change.
    let repo = TestRepo::new();
    repo.copy_dir(&project().join("examples/shop"), "config-repo")
        .commit("shop config");
    let base = repo.rev_parse("HEAD");
    let api = repo.read("config-repo/config/role/api.yaml");
    repo.file(
        "config-repo/config/role/api.yaml",
        &api.replace("max_connections: 1024", "max_connections: lots"),
    )
    .commit("api: lots");

    let runner = tempfile::tempdir().unwrap();
    let outputs = runner.path().join("github_output");
    std::fs::write(&outputs, "").unwrap();
    let config_dir = repo.path().join("config-repo");
    // The check step with inputs `base` and the pull request's `pr_base`.
    let run_check = |base: &str, pr_base: &str, outputs: &Path| {
        run_step(
            check,
            runner.path(),
            &[
                ("CONFIG_DIR", config_dir.to_str().unwrap()),
                ("BASE", base),
                ("PR_BASE", pr_base),
                ("PUSH_BEFORE", ""),
                ("GITHUB_OUTPUT", outputs.to_str().unwrap()),
                ("RUNNER_TEMP", runner.path().to_str().unwrap()),
            ],
        )
    };
    let (code, stdout, stderr) = run_check("", &base, &outputs);
    // The step itself passes (the verdict decides), and annotates the
    // finding at its place in the checkout.
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("::error file=config-repo/config/role/api.yaml,line=4"),
        "{stdout}"
    );
    let outputs = std::fs::read_to_string(&outputs).unwrap();
    let output = |key: &str| {
        outputs
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("no output {key}:\n{outputs}"))
            .to_owned()
    };
    assert_eq!(output("exit-code"), "1");
    assert_eq!(output("base"), base);
    let errors: u32 = output("errors").parse().unwrap();
    assert!(errors >= 1, "{outputs}");
    let sarif: Value =
        serde_json::from_str(&std::fs::read_to_string(output("sarif-file")).unwrap()).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(
        results.iter().filter(|r| r["level"] == "error").count() as u32,
        errors
    );

    // The comment's body: the marker the next push finds it by, the check's
    // counts, and the per-class diff of the change.
    let body_step = step(&steps, "ringmaster diff (the comment's body)")["run"]
        .as_str()
        .unwrap();
    let body_outputs = runner.path().join("github_output_body");
    std::fs::write(&body_outputs, "").unwrap();
    let (code, stdout, stderr) = run_step(
        body_step,
        runner.path(),
        &[
            ("CONFIG_DIR", config_dir.to_str().unwrap()),
            ("BASE", &base),
            ("ERRORS", &errors.to_string()),
            ("WARNINGS", "0"),
            ("RUN_URL", "https://github.invalid/run/1"),
            ("GITHUB_OUTPUT", body_outputs.to_str().unwrap()),
            ("RUNNER_TEMP", runner.path().to_str().unwrap()),
        ],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    let body_file = std::fs::read_to_string(&body_outputs).unwrap();
    let body_file = body_file.trim().strip_prefix("file=").unwrap();
    let body = std::fs::read_to_string(body_file).unwrap();
    assert!(body.starts_with("<!-- ringmaster-diff -->\n"), "{body}");
    assert!(
        body.contains(&format!("check: {errors} errors, 0 warnings")),
        "{body}"
    );
    for class in ["api-dogfood", "api-acme", "api-shared-eu"] {
        assert!(body.contains(class), "{class} missing:\n{body}");
    }
    assert!(body.contains("max_connections"), "{body}");
    assert!(
        !body.contains("worker-dogfood"),
        "an unchanged class:\n{body}"
    );

    for (fail_on, expected) in [("error", 1), ("warning", 1), ("never", 0), ("bogus", 2)] {
        let (code, stdout, _) = run_step(
            verdict,
            runner.path(),
            &[
                ("FAIL_ON", fail_on),
                ("ERRORS", &errors.to_string()),
                ("WARNINGS", "0"),
            ],
        );
        assert_eq!(code, expected, "fail-on {fail_on}: {stdout}");
    }
    let (code, _, _) = run_step(
        verdict,
        runner.path(),
        &[("FAIL_ON", "warning"), ("ERRORS", "0"), ("WARNINGS", "2")],
    );
    assert_eq!(code, 1, "warnings fail with fail-on: warning");
    let (code, _, _) = run_step(
        verdict,
        runner.path(),
        &[("FAIL_ON", "error"), ("ERRORS", "0"), ("WARNINGS", "2")],
    );
    assert_eq!(code, 0, "warnings pass with fail-on: error");

    // An unknown base revision that cannot be fetched is an error, not a pass.
    let outputs2 = runner.path().join("github_output2");
    std::fs::write(&outputs2, "").unwrap();
    let (code, stdout, _) = run_check("0123456789abcdef0123456789abcdef01234567", "", &outputs2);
    assert_eq!(code, 2, "{stdout}");
    assert!(
        stdout.contains("::error::cannot fetch the base revision"),
        "{stdout}"
    );
}
