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

/// Four host classes in three rings; two tenants (`acme`, `globex`) share
/// `single-tenant`. Shared by the `check --base` and flag modules, whose
/// expectations name these classes.
pub(crate) const TENANT_MANIFEST: &str = "\
version: 1
hierarchy:
  - config/defaults.yaml
  - config/ring/{ring}.yaml
host_classes:
  api-dogfood: { ring: dogfood }
  api-acme: { ring: single-tenant, tenant: acme }
  api-globex: { ring: single-tenant, tenant: globex }
  api-shared: { ring: multi-tenant }
flags: flags/
";

/// The redactions every snapshot shares, for `insta::with_settings!({filters
/// => redactions()}, ...)`: what changes from run to run (a test's temporary
/// directory, commit shas in full and in their 10-character short form, RFC
/// 3339 times and times of day) becomes a placeholder, so a snapshot pins everything else.
pub(crate) fn redactions() -> Vec<(&'static str, &'static str)> {
    vec![
        (r"(?:/[^\s/\x22':]+)*/\.tmp[A-Za-z0-9]{6}", "[tmp]"),
        (r"\b[0-9a-f]{40}\b", "[sha]"),
        (r"\b[0-9a-f]{10}\b", "[short-sha]"),
        (
            r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?",
            "[time]",
        ),
        // Times of day (chart ticks and samples of a rollout timeline).
        (r"\b\d{2}:\d{2}:\d{2}\b", "[clock]"),
        // Rollout ids carry the day they were started on (`r-20261206-0001`).
        (r"\br-\d{8}-(\d{4})\b", "r-[date]-$1"),
    ]
}

/// Runs a tool the tests lean on (git, bash, openssl, promtool, shellcheck)
/// and asserts it succeeded, showing what it printed when it did not.
#[track_caller]
pub(crate) fn run_tool(cmd: &mut Command, what: &str) -> std::process::Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run it ({e})"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

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
        let repo = TestRepo {
            dir: temp_dir("ringmaster-it-"),
        };
        repo.git(&["init", "-q", "."]);
        repo
    }

    /// A repository holding `files` (path, contents), committed once.
    pub(crate) fn committed(files: &[(&str, &str)], message: &str) -> TestRepo {
        let repo = TestRepo::new();
        for (rel, contents) in files {
            repo.file(rel, contents);
        }
        repo.commit(message);
        repo
    }

    /// `ringmaster init`'s starter repo (three rings, one class), committed.
    pub(crate) fn initialised() -> TestRepo {
        let repo = TestRepo::new();
        repo.run(&["init"]).assert_code(0);
        repo.commit("config repo");
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

    /// Stages everything and commits it with author and committer dates at
    /// `unix_seconds` (UTC): history that happened in the past.
    pub(crate) fn commit_at(&self, message: &str, unix_seconds: i64) -> &Self {
        let date = format!("@{unix_seconds} +0000");
        let envs = [
            ("GIT_AUTHOR_DATE", date.as_str()),
            ("GIT_COMMITTER_DATE", date.as_str()),
        ];
        self.git(&["add", "-A"]);
        self.git_env(&["commit", "-q", "--no-verify", "-m", message], &envs);
        self
    }

    /// Stages everything and commits it as `email` (author and committer):
    /// the change's author, whom approval rules look at.
    pub(crate) fn commit_as(&self, message: &str, email: &str) -> &Self {
        self.git(&["add", "-A"]);
        let envs = [("GIT_AUTHOR_EMAIL", email), ("GIT_COMMITTER_EMAIL", email)];
        self.git_env(&["commit", "-q", "-m", message], &envs);
        self
    }

    /// Runs the real `git` binary in the repository, with an identity and no
    /// dependence on the machine's global or system git config. Returns stdout.
    pub(crate) fn git(&self, args: &[&str]) -> String {
        self.git_env(args, &[])
    }

    /// [`TestRepo::git`] with extra environment variables (e.g.
    /// `GIT_COMMITTER_DATE`, or `TZ` for date formatting).
    pub(crate) fn git_env(&self, args: &[&str], envs: &[(&str, &str)]) -> String {
        let out = run_tool(
            Command::new("git")
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
                .envs(envs.iter().copied()),
            &format!("git {args:?} (is git installed?)"),
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `git rev-parse REV`: the full sha of a revision.
    pub(crate) fn rev_parse(&self, rev: &str) -> String {
        self.git(&["rev-parse", "--verify", rev]).trim().to_owned()
    }

    /// A file's text, as it is in the working tree.
    pub(crate) fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.full(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
    }

    /// Deletes a file from the working tree (not from the index).
    pub(crate) fn remove(&self, rel: &str) -> &Self {
        std::fs::remove_file(self.full(rel)).unwrap_or_else(|e| panic!("remove {rel}: {e}"));
        self
    }

    /// Copies a directory tree from outside (e.g. `examples/shop`) to `to`
    /// inside the repository ("" for the root).
    pub(crate) fn copy_dir(&self, from: &Path, to: &str) -> &Self {
        // Symbolic links stay links: a linked data file or directory is part
        // of what the import fixtures exercise.
        fn walk(from: &Path, to: &Path) {
            std::fs::create_dir_all(to).expect("create directory");
            for entry in std::fs::read_dir(from).expect("read directory") {
                let entry = entry.expect("directory entry");
                let target = to.join(entry.file_name());
                let kind = entry.file_type().expect("file type");
                if kind.is_symlink() {
                    let link = std::fs::read_link(entry.path()).expect("read link");
                    std::os::unix::fs::symlink(link, &target).expect("make link");
                } else if kind.is_dir() {
                    walk(&entry.path(), &target);
                } else {
                    std::fs::copy(entry.path(), &target).expect("copy a file");
                }
            }
        }
        walk(from, &self.full(to));
        self
    }

    /// A repo holding a copy of `tests/data/<rel>` (links kept as links).
    pub(crate) fn from_fixture(rel: &str) -> TestRepo {
        let repo = TestRepo::new();
        repo.copy_dir(
            &Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/data")
                .join(rel),
            "",
        );
        repo
    }

    /// Writes the layered fixture ([`LAYERED_FILES`]): a five-level hierarchy
    /// with three host classes (no commit).
    pub(crate) fn layered_files(&self) -> &Self {
        for (path, text) in LAYERED_FILES {
            self.file(path, text);
        }
        self
    }

    /// A git repository holding the layered fixture, committed once.
    pub(crate) fn layered() -> TestRepo {
        let repo = TestRepo::new();
        repo.layered_files().commit("layered fixture");
        repo
    }

    /// Runs `ringmaster --repo <root> ARGS…` with the cwd at the root, as the
    /// pre-commit framework does (PATH arguments are relative to the cwd).
    pub(crate) fn run(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(BIN);
        cmd.arg("--repo").arg(self.path()).args(args);
        cmd.current_dir(self.path());
        execute(cmd)
    }

    /// [`TestRepo::run`] with extra environment variables (e.g.
    /// `RINGMASTER_TODAY`).
    pub(crate) fn run_env(&self, args: &[&str], envs: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(BIN);
        cmd.arg("--repo").arg(self.path()).args(args);
        cmd.current_dir(self.path());
        execute_env(cmd, envs)
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

/// Now, in seconds since the Unix epoch.
pub(crate) fn unix_now() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970");
    i64::try_from(since.as_secs()).expect("seconds fit in i64")
}

/// `days` days before now, in seconds since the Unix epoch.
pub(crate) fn days_ago(days: i64) -> i64 {
    unix_now() - days * 86_400
}

fn execute(cmd: Command) -> Output {
    execute_env(cmd, &[])
}

/// Runs the command hermetically: no colour, no git config from the machine,
/// no pinned `RINGMASTER_TODAY` from the caller's environment; then `envs`.
fn execute_env(mut cmd: Command, envs: &[(&str, &str)]) -> Output {
    hermetic(&mut cmd).envs(envs.iter().copied());
    let started = Instant::now();
    Output::of(cmd.output().expect("run the ringmaster binary"), started)
}

/// What every run of the binary gets: no colour, no git config from the
/// machine, no pinned `RINGMASTER_TODAY` or git repository from the caller.
pub(crate) fn hermetic(cmd: &mut Command) -> &mut Command {
    cmd.env("NO_COLOR", "1")
        .env_remove("RINGMASTER_TODAY")
        .env_remove("RINGMASTER_NO_CACHE")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
}

/// One step of a wait for a server: panics with `what` and the server's log
/// once `deadline` has passed, otherwise sleeps a tenth of a second.
#[track_caller]
pub(crate) fn tick(deadline: Instant, what: &str, log: impl FnOnce() -> String) {
    assert!(Instant::now() < deadline, "{what}:\n{}", log());
    std::thread::sleep(Duration::from_millis(100));
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
    /// A finished process's output, `started` when it was.
    pub(crate) fn of(out: std::process::Output, started: Instant) -> Output {
        Output {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            elapsed: started.elapsed(),
        }
    }

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

    /// Asserts stderr holds `needle`, showing stderr when it does not.
    #[track_caller]
    pub(crate) fn assert_stderr_has(&self, needle: &str) -> &Self {
        assert_has("stderr", &self.stderr, needle);
        self
    }

    /// Asserts stdout holds `needle`, showing stdout when it does not.
    #[track_caller]
    pub(crate) fn assert_stdout_has(&self, needle: &str) -> &Self {
        assert_has("stdout", &self.stdout, needle);
        self
    }

    /// Asserts stdout or stderr holds `needle`, showing both when neither does.
    #[track_caller]
    pub(crate) fn assert_output_has(&self, needle: &str) -> &Self {
        assert_has("the output", &self.all_output(), needle);
        self
    }

    /// Asserts the exit code like [`Output::assert_code`] and hands the
    /// output back, so that a run and its expected code read as one line.
    #[track_caller]
    pub(crate) fn expect_code(self, code: i32) -> Output {
        self.assert_code(code);
        self
    }

    /// stdout and stderr together, for messages that may go to either.
    pub(crate) fn all_output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

#[track_caller]
fn assert_has(what: &str, text: &str, needle: &str) {
    assert!(text.contains(needle), "{needle:?} not in {what}:\n{text}");
}

/// A ring file: one threshold gate `errors` on `errors{ring="NAME"}` (at
/// most 0.01), two inconclusive rounds allowed, rollback on a breach;
/// `extra` (an approval block, say) goes just before the gates.
pub(crate) fn ring_file(
    name: &str,
    order: usize,
    soak: &str,
    interval: &str,
    extra: &str,
) -> String {
    let gate = format!("  - name: errors\n    query: errors{{ring=\"{name}\"}}\n    max: 0.01\n");
    format!(
        "name: {name}\norder: {order}\nsoak: {soak}\ninterval: {interval}\n{extra}gates:\n{gate}inconclusive_limit: 2\non_breach: rollback\n"
    )
}

/// Embedded metrics: `errors{ring="RING"}` is the given value from time 0.
pub(crate) fn error_series(values: &[(&str, f64)]) -> String {
    let lines: String = values
        .iter()
        .map(|(ring, value)| format!("  'errors{{ring=\"{ring}\"}}': [[0, {value}]]\n"))
        .collect();
    format!("series:\n{lines}")
}

/// The keys of a JSON object, in document order.
#[track_caller]
pub(crate) fn keys(value: &Value) -> Vec<&str> {
    let object = value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"));
    object.keys().map(String::as_str).collect()
}

/// A manifest whose second template names the fact `rloe` (a typo for
/// `role`; the template starts at 4:5) and one host class.
pub(crate) const TYPO_FACT_MANIFEST: &str = "version: 1\nhierarchy:\n  - config/defaults.yaml\n  - config/role/{rloe}.yaml\nhost_classes:\n  api: { role: api }\n";

/// `rollout freeze` for an incident, by the on-call engineer.
pub(crate) const FREEZE_FOR_INCIDENT: [&str; 6] = [
    "rollout",
    "freeze",
    "--reason",
    "incident 42",
    "--as",
    "oncall@example.com",
];

/// The arguments of `render --class CLASS --provenance --format json`.
pub(crate) fn render_provenance(class: &str) -> [&str; 6] {
    [
        "render",
        "--class",
        class,
        "--provenance",
        "--format",
        "json",
    ]
}

/// Every leaf of a `render --format json` document by dotted path (lists
/// whole, empty mappings as leaves), added to `out`.
pub(crate) fn flatten(
    prefix: &str,
    value: &Value,
    out: &mut std::collections::BTreeMap<String, Value>,
) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&path, v, out);
            }
        }
        _ => {
            out.insert(prefix.to_owned(), value.clone());
        }
    }
}

/// [`brief`] of each finding, in order.
pub(crate) fn briefs(findings: &[Value]) -> Vec<(String, String, String, u64, u64, Value)> {
    findings.iter().map(brief).collect()
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

/// Asserts a finding's rule, severity, file, line and column.
pub(crate) fn assert_location(f: &Value, expected: (&str, &str, &str, u64, u64)) {
    let (rule, severity, file, line, column, _) = brief(f);
    assert_eq!(
        (
            rule.as_str(),
            severity.as_str(),
            file.as_str(),
            line,
            column
        ),
        expected,
        "{f}"
    );
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

/// A config repo with a five-level hierarchy for `render`, `explain` and
/// `diff`. Line numbers matter: the tests name them.
///
/// - `web-eu`: every layer but `tenant` (no `tenant` fact); its class file
///   knocks `server.host` out and sets `features.search`.
/// - `web-us`: region `us` and the class file do not exist; tenant `acme` does.
/// - `db-eu`: tenant `zeta` and the class file do not exist; role `db`
///   knocks the whole `features` mapping out.
pub(crate) const LAYERED_FILES: [(&str, &str); 8] = [
    (
        "ringmaster.yaml",
        "\
version: 1
hierarchy:
  - config/defaults.yaml
  - config/role/{role}.yaml
  - config/region/{region}.yaml
  - config/tenant/{tenant}.yaml
  - config/class/{class}.yaml
host_classes:
  web-eu: { role: web, region: eu }
  web-us: { role: web, region: us, tenant: acme }
  db-eu: { role: db, region: eu, tenant: zeta }
",
    ),
    (
        "config/defaults.yaml",
        "\
name: base
server:
  port: 8080
  host: localhost
  tls:
    enabled: false
    ciphers: [aes128, aes256]
logging:
  level: info
  sinks: [stdout]
features:
  search: true
  beta: false
ratio: 0.25
",
    ),
    (
        "config/role/web.yaml",
        "\
# web front ends
server:
  port: 80
  tls:
    enabled: true
logging:
  sinks: [file, stdout]
",
    ),
    (
        "config/role/db.yaml",
        "\
server:
  port: 5432
features: !unset
",
    ),
    (
        "config/region/eu.yaml",
        "\
logging:
  level: warn
server:
  tls:
    ciphers: [chacha20]
",
    ),
    (
        "config/tenant/acme.yaml",
        "\
name: acme
features:
  beta: true
",
    ),
    (
        "config/class/web-eu.yaml",
        "\
server:
  host: !unset
features:
  search: false
",
    ),
    // Not a layer of any class: proves unrelated files are harmless.
    ("config/README.txt", "layer files live here\n"),
];

/// An independent check that line `line` (1-based) of a YAML layer file
/// sets the dotted `path` to `value`: the line must be `key:` for the last
/// segment, its enclosing keys (found by indentation, upwards) must be the
/// path's other segments, and the value after the colon (or the block below
/// it) must read as `value`. A deliberately small YAML subset, written apart
/// from ringmaster's reader: plain and quoted scalars, flow lists and maps of
/// scalars, block lists of scalars or of flat mappings.
pub(crate) fn check_leaf_line(
    text: &str,
    line: usize,
    path: &str,
    value: &Value,
) -> Result<(), String> {
    let lines: Vec<&str> = text.lines().collect();
    let at = line
        .checked_sub(1)
        .filter(|i| *i < lines.len())
        .ok_or_else(|| format!("line {line} is past the end ({} lines)", lines.len()))?;
    let segments: Vec<&str> = path.split('.').collect();
    let (indent, key, rest) = key_line(lines[at])
        .ok_or_else(|| format!("line {line} is not a `key:` line: {:?}", lines[at]))?;
    let last = segments[segments.len() - 1];
    if key != last {
        return Err(format!(
            "line {line} sets `{key}`, not `{last}`: {:?}",
            lines[at]
        ));
    }
    // The enclosing keys, by indentation.
    let mut want_indent = indent;
    let mut i = at;
    for parent in segments[..segments.len() - 1].iter().rev() {
        loop {
            if i == 0 {
                return Err(format!("no enclosing `{parent}:` above line {line}"));
            }
            i -= 1;
            if is_blank(lines[i]) {
                continue;
            }
            let this_indent = indent_of(lines[i]);
            if this_indent < want_indent {
                let (_, k, r) = key_line(lines[i]).ok_or_else(|| {
                    format!("line {} encloses line {line} but is not a key", i + 1)
                })?;
                if k != *parent || !r.is_empty() {
                    return Err(format!(
                        "line {line} lies under `{k}:` (line {}), not under `{parent}:`",
                        i + 1
                    ));
                }
                want_indent = this_indent;
                break;
            }
        }
    }
    if want_indent != 0 {
        return Err(format!("the path `{path}` does not start at the top level"));
    }
    let found = if rest.is_empty() {
        let block: Vec<&str> = lines[at + 1..]
            .iter()
            .copied()
            .take_while(|l| {
                is_blank(l)
                    || indent_of(l) > indent
                    || l.trim_start().starts_with("- ") && indent_of(l) == indent
            })
            .filter(|l| !is_blank(l))
            .collect();
        if block.is_empty() {
            Value::Null
        } else {
            read_block_list(&block)?
        }
    } else {
        read_flow(rest)
    };
    if &found != value {
        return Err(format!(
            "line {line} gives `{path}` the value {found}, not {value}"
        ));
    }
    Ok(())
}

fn is_blank(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t.starts_with('#')
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// Drops a trailing ` # comment` (outside quotes).
fn strip_comment(text: &str) -> &str {
    let mut quote: Option<char> = None;
    let mut prev = ' ';
    for (i, c) in text.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == '#' && prev.is_whitespace() => return text[..i].trim_end(),
            None => {}
        }
        prev = c;
    }
    text.trim_end()
}

/// `  key: rest` → (indent, key, rest without comment).
fn key_line(line: &str) -> Option<(usize, String, &str)> {
    let indent = indent_of(line);
    let body = strip_comment(&line[indent..]);
    let (key, rest) = match body.find(": ") {
        Some(i) => (&body[..i], body[i + 2..].trim()),
        None => (body.strip_suffix(':')?, ""),
    };
    let key = key.trim();
    let key = key
        .strip_prefix('"')
        .and_then(|k| k.strip_suffix('"'))
        .unwrap_or(key);
    if key.is_empty() || key.starts_with("- ") {
        return None;
    }
    Some((indent, key.to_owned(), rest))
}

/// A scalar as YAML 1.2's core schema reads it (the subset used here).
fn read_scalar(text: &str) -> Value {
    let t = text.trim();
    if let Some(s) = t.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        return Value::String(s.to_owned());
    }
    if let Some(s) = t.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
        return Value::String(s.to_owned());
    }
    match t {
        "" | "~" | "null" => return Value::Null,
        "true" => return Value::Bool(true),
        "false" => return Value::Bool(false),
        _ => {}
    }
    let integer = t
        .bytes()
        .enumerate()
        .all(|(i, b)| b.is_ascii_digit() || (i == 0 && b == b'-'));
    if integer && let Ok(n) = t.parse::<i64>() {
        return Value::from(n);
    }
    let float = t.contains('.')
        && t.bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-');
    if float && let Ok(f) = t.parse::<f64>() {
        return Value::from(f);
    }
    Value::String(t.to_owned())
}

/// A value on one line: a flow list or map of scalars, or a scalar.
fn read_flow(text: &str) -> Value {
    let t = text.trim();
    let items = |inner: &str| -> Vec<String> {
        inner
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    };
    if let Some(inner) = t.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
        return Value::Array(items(inner).iter().map(|s| read_scalar(s)).collect());
    }
    if let Some(inner) = t.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
        let mut map = serde_json::Map::new();
        for item in items(inner) {
            let (k, v) = item.split_once(':').unwrap_or((item.as_str(), ""));
            map.insert(k.trim().to_owned(), read_scalar(v));
        }
        return Value::Object(map);
    }
    read_scalar(t)
}

/// A block list: `- scalar` items, or `- k: v` items continued by `k: v`
/// lines indented to the item's content.
fn read_block_list(block: &[&str]) -> Result<Value, String> {
    let base = indent_of(block[0]);
    let mut items: Vec<Value> = Vec::new();
    for line in block {
        let indent = indent_of(line);
        let body = strip_comment(&line[indent..]);
        if indent == base {
            let item = body
                .strip_prefix("- ")
                .or_else(|| (body == "-").then_some(""))
                .ok_or_else(|| format!("expected a list item: {line:?}"))?;
            match key_line(item) {
                Some((_, k, v)) if !item.starts_with(['"', '[', '{']) => {
                    let mut map = serde_json::Map::new();
                    map.insert(k, read_flow(v));
                    items.push(Value::Object(map));
                }
                _ => items.push(read_flow(item)),
            }
        } else {
            let (_, k, v) =
                key_line(line).ok_or_else(|| format!("expected `key: value`: {line:?}"))?;
            match items.last_mut() {
                Some(Value::Object(map)) => {
                    map.insert(k, read_flow(v));
                }
                _ => return Err(format!("a mapping line outside a list item: {line:?}")),
            }
        }
    }
    Ok(Value::Array(items))
}

/// The elements of the array `v[key]`; panics naming `v` when it is none.
#[track_caller]
pub(crate) fn items<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("no {key} array in {v}"))
}

/// The string `v[key]`, empty when it is absent or not a string.
pub(crate) fn text(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_default().to_owned()
}

/// `(path, op, old, new)` of one change of `diff --format json`.
pub(crate) fn change_row(c: &Value) -> (String, String, Value, Value) {
    (
        text(c, "path"),
        text(c, "op"),
        c["old"].clone(),
        c["new"].clone(),
    )
}

/// class → its changes, of each class a `diff --format json` report lists.
pub(crate) fn changes_by_class(report: &Value) -> std::collections::BTreeMap<String, Vec<Value>> {
    items(report, "classes")
        .iter()
        .map(|c| (text(c, "class"), items(c, "changes").to_vec()))
        .collect()
}

/// `(file, line, column)` of each place a finding's `related` names.
pub(crate) fn related(f: &Value) -> Vec<(String, u64, u64)> {
    items(f, "related")
        .iter()
        .map(|r| {
            (
                text(r, "file"),
                r["line"].as_u64().unwrap_or_default(),
                r["column"].as_u64().unwrap_or_default(),
            )
        })
        .collect()
}

/// A fresh temporary directory named `prefix…`, removed when dropped.
pub(crate) fn temp_dir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("create a temp dir")
}

/// `(file, line, f[key])` of each finding, `key` naming a string field.
pub(crate) fn places(findings: &[Value], key: &str) -> Vec<(String, u64, String)> {
    findings
        .iter()
        .map(|f| {
            (
                text(f, "file"),
                f["line"].as_u64().unwrap_or_default(),
                text(f, key),
            )
        })
        .collect()
}

/// `rollout run` on the simulated clock, made to die right after its
/// `step`th journal append; asserts it died (`what` names the case).
#[track_caller]
pub(crate) fn rollout_killed_after(repo: &TestRepo, step: &str, what: &str) -> Output {
    let envs = [
        ("RINGMASTER_CLOCK", "simulated"),
        ("RINGMASTER_ABORT_AFTER", step),
    ];
    let killed = repo.run_env(&["rollout", "run"], &envs);
    assert_ne!(killed.code, Some(0), "{what}: the driver was meant to die");
    killed
}

/// A small deterministic generator (xorshift) for seeded random inputs: a
/// failing seed replays the same input.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `n` (0 when `n` is 0).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// An index below `len` (0 when `len` is 0).
    pub(crate) fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    /// True `percent` times in a hundred.
    pub(crate) fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}
