//! Every output under hostile input (issue 12, items 3, 8 and 9): secrets
//! are masked wherever they sit in a value and in snippets of lines that do
//! not parse; control characters from keys, file names, facts and the
//! journal are shown escaped; markdown cannot be broken out of; and a huge
//! hostile file costs `check` neither memory nor output.

use std::path::Path;
use std::process::Command;

use crate::support::{BIN, TestRepo};

/// Fake credentials, assembled so that secret scanners do not flag this file.
const URL_PASSWORD: &str = concat!("Tr0ub4dor", "-3xyz");
const GITHUB_TOKEN: &str = concat!("ghp_", "R8mK2vQx7LpT4nWz9cYb3HdJf6Gs1AeU5oNi");
const LITERAL_PASSWORD: &str = concat!("hunter2", "-staging");

/// Commit SHAs vary from run to run: snapshots show them redacted.
fn redact_shas(text: &str) -> String {
    let sha = regex::Regex::new(r"\b[0-9a-f]{40}\b|\b[0-9a-f]{10}\b").expect("a valid regex");
    sha.replace_all(text, "[sha]").into_owned()
}

fn assert_no_secret(what: &str, text: &str) {
    for secret in [URL_PASSWORD, GITHUB_TOKEN, LITERAL_PASSWORD, "ghp_R8mK"] {
        assert!(!text.contains(secret), "{what} shows {secret}:\n{text}");
    }
}

/// A one-class repo whose change adds secrets inside a list and inside a map
/// inside a list.
fn secrets_in_lists() -> TestRepo {
    let repo = TestRepo::committed(
        &[
            (
                "ringmaster.yaml",
                "version: 1\nhierarchy:\n  - config/defaults.yaml\nhost_classes:\n  api: { role: api }\n",
            ),
            ("config/defaults.yaml", "name: api\n"),
        ],
        "base",
    );
    repo.file(
        "config/defaults.yaml",
        &format!(
            "name: api\ndatabases:\n  - postgres://app:{URL_PASSWORD}@db.internal:5432/app\nbackends:\n  - name: primary\n    password: {LITERAL_PASSWORD}\n    token: {GITHUB_TOKEN}\n    nested:\n      - [{{api_key: {LITERAL_PASSWORD}}}]\n"
        ),
    );
    repo
}

#[test]
fn a_secret_in_a_list_or_in_a_map_in_a_list_is_masked_in_every_diff_format() {
    let repo = secrets_in_lists();
    // `check --base` finds them: the same values `diff` must not print.
    let check = repo.run(&["check", "--base", "HEAD", "--format", "json"]);
    assert_eq!(check.findings_of("secret").len(), 4, "{}", check.stdout);
    assert_no_secret("check --base", &check.stdout);
    // Masked once, with the true length: a snippet's mask is not masked again.
    let human = repo.run(&["check", "--base", "HEAD"]);
    assert_no_secret("check --base (human)", &human.stdout);
    for shown in ["password: •••(15 chars)", "token: ghp_…(40 chars)"] {
        assert!(human.stdout.contains(shown), "{shown}:\n{}", human.stdout);
    }

    for format in ["human", "json", "markdown"] {
        let out = repo.run(&["diff", "--base", "HEAD", "--format", format]);
        out.assert_code(0);
        assert_no_secret(&format!("diff --format {format}"), &out.stdout);
    }
    let text = repo.run(&["diff", "--base", "HEAD", "--text"]);
    text.assert_code(0);
    assert_no_secret("diff --text", &text.stdout);
    insta::assert_snapshot!("secrets_in_lists_diff_text", text.stdout);

    let json = repo.run(&["diff", "--base", "HEAD", "--format", "json"]);
    let changes = &json.json()["classes"][0]["changes"];
    insta::assert_json_snapshot!("secrets_in_lists_diff_json_changes", changes);
    let markdown = repo.run(&["diff", "--base", "HEAD", "--format", "markdown"]);
    insta::assert_snapshot!(
        "secrets_in_lists_diff_markdown",
        redact_shas(&markdown.stdout)
    );
}

#[test]
fn explain_masks_secrets_inside_the_values_it_shows() {
    let repo = secrets_in_lists();
    for format in ["human", "json"] {
        for key in ["backends", "databases"] {
            let out = repo.run(&["explain", "--class", "api", key, "--format", format]);
            out.assert_code(0);
            assert_no_secret(&format!("explain {key} --format {format}"), &out.stdout);
        }
    }
    let out = repo.run(&["explain", "--class", "api", "databases"]);
    assert!(out.stdout.contains("post…(50 chars)"), "{}", out.stdout);
}

#[test]
fn a_credential_url_on_a_line_that_does_not_parse_is_masked_in_its_snippet() {
    let repo = TestRepo::standard();
    repo.commit("base");
    repo.file(
        "config/db.yaml",
        &format!("db: \"postgres://app:{URL_PASSWORD}@db.internal:5432/app\" trailing\n"),
    )
    .file(
        "config/creds.yaml",
        &format!("password: \"{LITERAL_PASSWORD}\" x\ntoken: [{GITHUB_TOKEN}\n"),
    );
    for format in ["human", "json", "sarif", "github"] {
        for args in [
            vec!["check", "--format", format],
            vec!["check", "--base", "HEAD", "--format", format],
        ] {
            let out = repo.run(&args);
            out.assert_code(1);
            assert_no_secret(&args.join(" "), &out.stdout);
        }
    }
    let human = repo.run(&["check", "config/db.yaml", "config/creds.yaml"]);
    // The location is the finding's, not the masked text's.
    insta::assert_snapshot!("credential_url_snippet_human", human.stdout);
}

/// A layer whose keys and file name hold ESC, OSC 8, BEL, CR and a newline
/// followed by a forged workflow command.
fn control_characters() -> TestRepo {
    let repo = TestRepo::standard();
    repo.bytes(
        "config/evil\u{1b}[2J\r.yaml",
        "labels:\n  \"k\\e]8;;http://evil.example\\a\\r\\n::error::forged\": 1\n  \"k\\e]8;;http://evil.example\\a\\r\\n::error::forged\": 2\nserver: {port: 1}\n"
            .as_bytes(),
    );
    repo
}

/// No raw control character a user did not put there through our styles:
/// with `--color always` our own ANSI styles (`ESC [ … m`) remain, nothing else.
fn assert_no_raw_controls(what: &str, text: &str) {
    let styles = regex::Regex::new(r"\x1b\[[0-9;]*m").expect("a valid regex");
    let plain = styles.replace_all(text, "");
    for c in plain.chars() {
        assert!(
            !(c.is_control() && c != '\n' && c != '\t'),
            "{what} holds a raw {c:?}:\n{plain}"
        );
    }
    for line in plain.lines() {
        assert!(
            !line.trim_start().starts_with("::error::forged"),
            "{what}: a key's newline starts a forged line:\n{plain}"
        );
    }
}

#[test]
fn control_characters_in_keys_and_file_names_are_shown_escaped_in_human_output() {
    let repo = control_characters();
    let human = repo.run(&["check", "--color", "always"]);
    human.assert_code(1);
    assert_no_raw_controls("check (human)", &human.stdout);
    let plain = repo.run(&["check"]);
    insta::assert_snapshot!("control_characters_check_human", plain.stdout);
    // GitHub's own escaping: a newline never starts a new workflow command.
    let github = repo.run(&["check", "--format", "github"]);
    insta::assert_snapshot!("control_characters_check_github", github.stdout);
    for line in github.stdout.lines() {
        assert!(
            line.starts_with("::error ") || line.starts_with("ringmaster:"),
            "a forged line: {line}"
        );
    }
}

#[test]
fn control_characters_in_facts_keys_and_values_are_escaped_by_explain_and_diff() {
    let repo = TestRepo::new();
    repo.file(
        "ringmaster.yaml",
        "version: 1\nhierarchy:\n  - config/defaults.yaml\n  - config/role/{role}.yaml\nhost_classes:\n  api: { role: \"x\\e[2J\\ry\" }\n",
    )
    .file("config/defaults.yaml", "port: 1\n")
    .commit("base");
    repo.bytes(
        "config/role/x\u{1b}[2J\ry.yaml",
        "port: \"\\e]8;;http://evil\\a\\r\\n::error::forged\"\n\"a\\rb\": 2\n".as_bytes(),
    );
    let class = "api";
    let explain = repo.run(&["explain", "--class", class, "port", "--color", "always"]);
    explain.assert_code(0);
    assert_no_raw_controls("explain", &explain.stdout);
    insta::assert_snapshot!(
        "control_characters_explain",
        repo.run(&["explain", "--class", class, "port"]).stdout
    );
    let diff = repo.run(&["diff", "--base", "HEAD", "--color", "always"]);
    diff.assert_code(0);
    assert_no_raw_controls("diff", &diff.stdout);
    insta::assert_snapshot!(
        "control_characters_diff_human",
        redact_shas(&repo.run(&["diff", "--base", "HEAD"]).stdout)
    );
}

/// The pipes that separate cells: those not escaped with a backslash.
fn cell_separators(row: &str) -> usize {
    let mut count = 0;
    let mut escaped = false;
    for c in row.chars() {
        match c {
            '\\' if !escaped => escaped = true,
            '|' if !escaped => count += 1,
            _ => escaped = false,
        }
    }
    count
}

#[test]
fn diff_markdown_keeps_keys_and_layer_paths_inside_their_code_spans_and_cells() {
    let repo = TestRepo::new();
    repo.file(
        "ringmaster.yaml",
        "version: 1\nhierarchy:\n  - config/defaults.yaml\n  - config/role/{role}.yaml\nhost_classes:\n  api: { role: \"a|b`c<!--\" }\n",
    )
    .file("config/defaults.yaml", "port: 1\n")
    .commit("base");
    repo.file(
        "config/role/a|b`c<!--.yaml",
        "\"k|e`y\": 1\n\"<!-- hidden\": 2\n\"<img src=x onerror=alert(1)>\": 3\nport: 2\n",
    );
    let out = repo.run(&["diff", "--base", "HEAD", "--format", "markdown"]);
    out.assert_code(0);
    for row in out.stdout.lines().filter(|l| l.starts_with("| ")) {
        assert_eq!(cell_separators(row), 6, "a row with a broken cell: {row}");
    }
    for line in out.stdout.lines() {
        // HTML outside a code span would run, or hide the rest of the comment.
        let outside: String = line.split('`').step_by(2).collect();
        assert!(
            !outside.contains("<!--") && !outside.contains("<img"),
            "raw HTML: {line}"
        );
    }
    insta::assert_snapshot!("hostile_keys_diff_markdown", redact_shas(&out.stdout));
}

#[test]
fn rollout_timeline_markdown_escapes_actors_gate_names_and_reasons() {
    let repo = TestRepo::new();
    repo.file(
        "ringmaster.yaml",
        "version: 1\nhierarchy:\n  - config/defaults.yaml\nhost_classes:\n  a: {ring: dogfood}\nrings: rings/\nmetrics:\n  kind: embedded\n  file: metrics.yaml\ndeliver:\n  kind: dir\n  path: out\n",
    )
    .file("config/defaults.yaml", "port: 8080\n")
    .file(".gitignore", "out/\n")
    .file(
        "rings/dogfood.yaml",
        "name: dogfood\norder: 1\nsoak: 30s\ninterval: 30s\ngates:\n  - name: \"errors <!-- | **x**\"\n    query: errors\n    max: 0.01\ninconclusive_limit: 2\non_breach: rollback\n",
    )
    .file("metrics.yaml", "series:\n  errors: [[0, 0.5]]\n")
    .commit("config");
    repo.run(&["rollout", "start", "--as", "<!-- alice | `x`"])
        .assert_code(0);
    repo.run_env(
        &["rollout", "run", "--as", "<b>bob</b>"],
        &[("RINGMASTER_CLOCK", "simulated")],
    )
    .assert_code(1);
    repo.run(&[
        "rollout",
        "freeze",
        "--reason",
        "<!-- the rest is hidden",
        "--as",
        "[x](http://evil.example)",
    ])
    .assert_code(0);
    let out = repo.run(&["rollout", "timeline", "--format", "markdown"]);
    out.assert_code(0);
    for line in out.stdout.lines() {
        let outside: String = line.split('`').step_by(2).collect();
        for raw in ["<!--", "<b>", "[x](http"] {
            assert!(!outside.contains(raw), "raw {raw}: {line}");
        }
    }
    for row in out.stdout.lines().filter(|l| l.starts_with("| ")) {
        assert_eq!(cell_separators(row), 7, "a row with a broken cell: {row}");
    }
    let times = regex::Regex::new(r"\d{4}-\d\d-\d\dT[0-9:.]+Z").expect("a valid regex");
    let ids = regex::Regex::new(r"r-\d{8}-\d{4}").expect("a valid regex");
    let shown = times.replace_all(&out.stdout, "[time]");
    let shown = ids.replace_all(&shown, "[id]");
    insta::assert_snapshot!("hostile_timeline_markdown", redact_shas(&shown));
}

/// Peak resident memory (KiB) and stdout of `ringmaster ARGS` in `dir`, as
/// `/usr/bin/time` measures the child (its `getrusage`), not the test.
fn peak_kib(dir: &Path, args: &[&str]) -> (u64, String, Option<i32>) {
    let time = Path::new("/usr/bin/time");
    assert!(
        time.is_file(),
        "/usr/bin/time (GNU time, package `time`) is needed to measure memory"
    );
    let report = tempfile::NamedTempFile::new().expect("a temp file");
    let out = Command::new(time)
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(report.path())
        .arg(BIN)
        .arg("--repo")
        .arg(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("run ringmaster under /usr/bin/time");
    let text = std::fs::read_to_string(report.path()).expect("read time's report");
    let kib = text
        .lines()
        .rev()
        .find_map(|l| l.trim().parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no figure in /usr/bin/time's report: {text}"));
    (
        kib,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.code(),
    )
}

#[test]
fn a_huge_file_of_nul_bytes_or_one_line_keeps_check_memory_and_output_bounded() {
    const SIZE: usize = 48 * 1024 * 1024;
    const LIMIT_KIB: u64 = 64 * 1024;
    let nul = TestRepo::standard();
    nul.bytes("config/zeros.yaml", &vec![0u8; SIZE]);
    let line = TestRepo::standard();
    let mut one_line = b"k: ".to_vec();
    one_line.resize(SIZE, b'x');
    line.bytes("config/line.yaml", &one_line);
    for (name, repo) in [("NUL bytes", &nul), ("one line", &line)] {
        for format in ["human", "json", "sarif", "github"] {
            let (kib, stdout, code) = peak_kib(repo.path(), &["check", "--format", format]);
            assert_eq!(code, Some(1), "{name}, {format}:\n{stdout}");
            assert!(
                stdout.contains("file-too-large"),
                "{name}, {format}:\n{stdout}"
            );
            // A file over the size limit is refused unread.
            assert!(
                kib < LIMIT_KIB,
                "{name}, {format}: peak {kib} KiB for a {SIZE}-byte file"
            );
            // Bounded, whatever the file's size: one finding, plus (in
            // SARIF) every rule's descriptions, about 20 KB for all the
            // rules there are (raised from 20 000 when `ring-no-baseline`
            // joined them).
            assert!(
                stdout.len() < 24_000,
                "{name}, {format}: {} bytes",
                stdout.len()
            );
        }
    }
}

#[test]
fn a_snippet_of_a_huge_line_is_cut_around_its_column() {
    // With the limit raised the file is read and parsed: the snippet of its
    // 16 MB line of NUL bytes still shows a few hundred characters at most.
    const SIZE: usize = 16 * 1024 * 1024;
    let repo = TestRepo::standard();
    repo.file(
        "ringmaster.yaml",
        "version: 1\nlimits:\n  max_file_bytes: 100000000\nschemas:\n  - files: \"config/**/*.yaml\"\n    schema: schemas/layer.schema.json\n",
    );
    let mut bytes = b"name: x\n".to_vec();
    bytes.resize(SIZE, 0);
    repo.bytes("config/zeros.yaml", &bytes);
    let (kib, stdout, code) = peak_kib(repo.path(), &["check"]);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains("[encoding]"), "{stdout}");
    let longest = stdout.lines().map(|l| l.chars().count()).max().unwrap_or(0);
    assert!(longest < 500, "a snippet line of {longest} characters");
    assert!(stdout.len() < 4_000, "{} bytes:\n{stdout}", stdout.len());
    assert!(kib < 160 * 1024, "peak {kib} KiB for a {SIZE}-byte file");
    insta::assert_snapshot!("huge_nul_line_snippet", stdout);
}

#[test]
fn an_error_naming_hostile_input_starts_no_workflow_command_and_shows_controls() {
    let repo = secrets_in_lists();
    let out = repo.run(&[
        "explain",
        "--class",
        "x\n::error::forged\u{7}\r",
        "port",
        "--color",
        "always",
    ]);
    out.assert_code(2);
    assert!(out.stderr.contains("unknown host class"), "{}", out.stderr);
    assert_no_raw_controls("the error", &out.stderr);
    assert!(out.stderr.contains("\\x07\\r"), "{}", out.stderr);
}
