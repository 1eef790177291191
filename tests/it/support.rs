//! Test support: a throw-away git repository built fluently, and a runner for
//! the real `ringmaster` binary. No mocks: every test drives the same binary a
//! user runs, in a real git repository, with colour off.
//!
//! Shared by every test module; a helper unused by today's tests is still
//! part of the kit.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The binary under test, built by cargo for this test run.
pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_ringmaster");

/// A standard small manifest: layer files under `config/` (YAML and JSON),
/// each checked against `schemas/layer.schema.json`. No hierarchy, so no
/// effective-config findings get mixed into single-file fixtures.
pub(crate) const MANIFEST: &str = "\
version: 1
schemas:
  - files: \"config/**/*.yaml\"
    schema: schemas/layer.schema.json
  - files: \"config/**/*.json\"
    schema: schemas/layer.schema.json
";

/// The layer schema of [`MANIFEST`]: a closed top level, a `server` mapping
/// that requires `host`, and a few loosely typed keys for lint fixtures.
pub(crate) const LAYER_SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "name": { "type": "string" },
    "mode": { "type": "string" },
    "file_mode": { "type": ["integer", "string"] },
    "tags": { "type": "array", "items": { "type": ["string", "boolean"] } },
    "labels": { "type": "object" },
    "server": {
      "type": "object",
      "additionalProperties": false,
      "required": ["host"],
      "properties": {
        "host": { "type": "string" },
        "port": { "type": "integer" },
        "mode": { "type": ["string", "boolean"] }
      }
    }
  }
}
"#;

/// A temporary git repository that holds a config repo.
pub(crate) struct TestRepo {
    dir: tempfile::TempDir,
}

impl Default for TestRepo {
    fn default() -> Self {
        TestRepo::new()
    }
}

impl TestRepo {
    /// An empty git repository (no manifest).
    pub(crate) fn new() -> TestRepo {
        let dir = tempfile::Builder::new()
            .prefix("ringmaster-it-")
            .tempdir()
            .expect("create a temp dir");
        let repo = TestRepo { dir };
        repo.git(&["init", "-q", "."]);
        repo
    }

    /// A git repository with the standard manifest and layer schema.
    pub(crate) fn standard() -> TestRepo {
        let repo = TestRepo::new();
        repo.standard_files("");
        repo
    }

    /// Writes the standard manifest and layer schema under `dir` ("" for the root).
    pub(crate) fn standard_files(&self, dir: &str) -> &Self {
        let at = |p: &str| {
            if dir.is_empty() {
                p.to_owned()
            } else {
                format!("{}/{p}", dir.trim_end_matches('/'))
            }
        };
        self.file(&at("ringmaster.yaml"), MANIFEST)
            .file(&at("schemas/layer.schema.json"), LAYER_SCHEMA)
    }

    /// The repository's root directory.
    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    fn full(&self, rel: &str) -> PathBuf {
        self.path().join(rel)
    }

    /// Writes a text file (parent directories are created).
    pub(crate) fn file(&self, rel: &str, contents: &str) -> &Self {
        self.bytes(rel, contents.as_bytes())
    }

    /// Writes a file's exact bytes (parent directories are created).
    pub(crate) fn bytes(&self, rel: &str, contents: &[u8]) -> &Self {
        let full = self.full(rel);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent).expect("create parent directories");
        }
        std::fs::write(&full, contents).unwrap_or_else(|e| panic!("write {rel}: {e}"));
        self
    }

    /// Creates a directory (and its parents).
    pub(crate) fn dir(&self, rel: &str) -> &Self {
        std::fs::create_dir_all(self.full(rel)).expect("create directory");
        self
    }

    /// `git add` one path: what the index holds from now on.
    pub(crate) fn stage(&self, rel: &str) -> &Self {
        self.git(&["add", "--", rel]);
        self
    }

    /// Stages everything and commits it.
    pub(crate) fn commit(&self, message: &str) -> &Self {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--no-verify", "-m", message]);
        self
    }

    /// Runs the real `git` binary in the repository, with an identity and no
    /// dependence on the machine's global or system git config. Returns stdout.
    pub(crate) fn git(&self, args: &[&str]) -> String {
        let out = Command::new("git")
            .args([
                "-c",
                "user.name=ringmaster tests",
                "-c",
                "user.email=tests@ringmaster.invalid",
                "-c",
                "commit.gpgsign=false",
                "-c",
                "init.defaultBranch=main",
                "-c",
                "core.autocrlf=false",
            ])
            .args(args)
            .current_dir(self.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE")
            .env_remove("GIT_INDEX_FILE")
            .output()
            .expect("run git (is it installed?)");
        assert!(
            out.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs `ringmaster --repo <root> ARGS…` with the cwd at the root, as the
    /// pre-commit framework does (PATH arguments are relative to the cwd).
    pub(crate) fn run(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(BIN);
        cmd.arg("--repo").arg(self.path()).args(args);
        cmd.current_dir(self.path());
        execute(cmd)
    }

    /// Runs `ringmaster ARGS…` with the cwd at `rel` inside the repository
    /// and no `--repo`: the repo is discovered the way a user's shell would.
    pub(crate) fn run_in(&self, rel: &str, args: &[&str]) -> Output {
        let mut cmd = Command::new(BIN);
        cmd.args(args).current_dir(self.full(rel));
        execute(cmd)
    }
}

/// Runs `ringmaster ARGS…` with the cwd at `cwd`, nothing added.
pub(crate) fn run_at(cwd: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args).current_dir(cwd);
    execute(cmd)
}

fn execute(mut cmd: Command) -> Output {
    cmd.env("NO_COLOR", "1")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null");
    let started = Instant::now();
    let out = cmd.output().expect("run the ringmaster binary");
    Output {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: started.elapsed(),
    }
}

/// What one run of the binary produced.
#[derive(Debug)]
pub(crate) struct Output {
    /// The exit code; `None` when the process died from a signal (a stack
    /// overflow aborts, for instance).
    pub(crate) code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
    pub(crate) elapsed: Duration,
}

impl Output {
    /// stdout parsed as JSON (for `--format json` and `--format sarif`).
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e})\n--- stdout\n{}\n--- stderr\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// The `findings` array of `--format json` output.
    pub(crate) fn findings(&self) -> Vec<Value> {
        self.json()["findings"]
            .as_array()
            .unwrap_or_else(|| panic!("no findings array in {}", self.stdout))
            .clone()
    }

    /// The findings of one rule.
    pub(crate) fn findings_of(&self, rule: &str) -> Vec<Value> {
        self.findings()
            .into_iter()
            .filter(|f| f["rule"] == rule)
            .collect()
    }

    /// `(rule, file, line, column)` of every finding, in output order.
    pub(crate) fn locations(&self) -> Vec<(String, String, u64, u64)> {
        self.findings()
            .iter()
            .map(|f| {
                (
                    f["rule"].as_str().unwrap_or_default().to_owned(),
                    f["file"].as_str().unwrap_or_default().to_owned(),
                    f["line"].as_u64().unwrap_or_default(),
                    f["column"].as_u64().unwrap_or_default(),
                )
            })
            .collect()
    }

    /// Asserts the process exited normally with `code` and did not panic.
    #[track_caller]
    pub(crate) fn assert_code(&self, code: i32) -> &Self {
        self.assert_no_panic();
        assert_eq!(
            self.code,
            Some(code),
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// Asserts neither a panic nor a crash (stack overflow, abort).
    #[track_caller]
    pub(crate) fn assert_no_panic(&self) -> &Self {
        for bad in ["panicked", "overflowed its stack", "fatal runtime error"] {
            assert!(
                !self.stderr.contains(bad),
                "ringmaster crashed ({bad}):\n{}",
                self.stderr
            );
        }
        assert!(
            self.code.is_some(),
            "ringmaster was killed by a signal\n--- stderr\n{}",
            self.stderr
        );
        self
    }

    /// stdout and stderr together, for messages that may go to either.
    pub(crate) fn all_output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// A `--format json` finding reduced to the fields the tests compare.
pub(crate) fn brief(f: &Value) -> (String, String, String, u64, u64, Value) {
    (
        f["rule"].as_str().unwrap_or_default().to_owned(),
        f["severity"].as_str().unwrap_or_default().to_owned(),
        f["file"].as_str().unwrap_or_default().to_owned(),
        f["line"].as_u64().unwrap_or_default(),
        f["column"].as_u64().unwrap_or_default(),
        f["path"].clone(),
    )
}

/// Builds the tuple [`brief`] returns, for `assert_eq!`.
pub(crate) fn at(
    rule: &str,
    severity: &str,
    file: &str,
    line: u64,
    column: u64,
    path: Option<&str>,
) -> (String, String, String, u64, u64, Value) {
    (
        rule.to_owned(),
        severity.to_owned(),
        file.to_owned(),
        line,
        column,
        path.map_or(Value::Null, |p| Value::String(p.to_owned())),
    )
}
