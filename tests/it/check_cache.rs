//! `check`'s cache of per-file results (`<git-dir>/ringmaster/cache/check/`):
//! a warm run answers byte for byte as a cold one; a changed schema (or a
//! file it `$ref`s), a changed layer and a damaged entry are misses; two
//! cold runs at once agree and leave whole entries; `--no-cache` and
//! `RINGMASTER_NO_CACHE` write nothing. (A changed ringmaster build is
//! another key: unit-tested in `check::cache`, the binary's version being
//! fixed here.)

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use sha2::{Digest, Sha256};

use crate::support::{BIN, Output, TestRepo, hermetic};

const MANIFEST: &str = "\
version: 1
hierarchy:
  - config/defaults.yaml
  - config/role/{role}.yaml
host_classes:
  web: { role: web }
  db: { role: db }
schemas:
  - files: \"config/**/*.yaml\"
    schema: schemas/layer.schema.json
";

/// The port's type lives in a `$ref`ed file, so changing it alone must
/// invalidate every file the layer schema applies to.
const LAYER_SCHEMA: &str = r#"{
  "type": "object",
  "properties": {
    "name": { "type": "string" },
    "port": { "$ref": "port.schema.json" }
  }
}
"#;

fn repo() -> TestRepo {
    let repo = TestRepo::new();
    repo.file("ringmaster.yaml", MANIFEST)
        .file("schemas/layer.schema.json", LAYER_SCHEMA)
        .file("schemas/port.schema.json", "{ \"type\": \"integer\" }\n")
        .file("config/defaults.yaml", "name: base\nport: 80\n")
        .file("config/role/web.yaml", "port: 8080\n")
        // A string where the schema wants an integer: one finding.
        .file("config/role/db.yaml", "port: \"5432\"\n")
        .file("config/extra/a.yaml", "name: a\n")
        .file("config/extra/b.yaml", "name: b\n")
        .file("config/extra/c.yaml", "name: c\n");
    repo.commit("cache fixture");
    repo
}

fn cache_dir(repo: &TestRepo) -> PathBuf {
    repo.path().join(".git/ringmaster/cache/check")
}

/// `(files from the cache, files looked up)` from `-v`'s stderr line.
#[track_caller]
fn cache_stat(out: &Output) -> (usize, usize) {
    let line = out
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("cache: "))
        .unwrap_or_else(|| panic!("no `cache:` line on stderr:\n{}", out.stderr));
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        words.get(1..),
        Some(&["of", words[2], "files", "from", "the", "cache"][..])
    );
    (
        words[0].parse().expect("hits"),
        words[2].parse().expect("lookups"),
    )
}

/// The answer with the cache off, in `format`.
fn uncached(repo: &TestRepo, format: &str) -> Output {
    repo.run(&["check", "--no-cache", "--format", format])
}

fn cached(repo: &TestRepo, format: &str) -> Output {
    repo.run(&["-v", "check", "--format", format])
}

/// Every file in the cache directory is a whole entry: the header, the
/// payload's SHA-256, and that payload; no temp file is left.
#[track_caller]
fn assert_whole_entries(repo: &TestRepo) -> usize {
    let mut count = 0;
    for entry in std::fs::read_dir(cache_dir(repo)).expect("cache dir") {
        let path = entry.expect("entry").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name == "evicted.stamp" {
            continue;
        }
        assert!(
            name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit()),
            "not an entry: {name}"
        );
        let bytes = std::fs::read(&path).expect("read entry");
        let text = String::from_utf8(bytes).expect("entry is UTF-8");
        let mut parts = text.splitn(3, '\n');
        assert_eq!(parts.next(), Some("ringmaster-check-cache 1"), "{name}");
        let sum = parts.next().expect("checksum line");
        let payload = parts.next().expect("payload");
        assert_eq!(
            sum,
            format!("{:x}", Sha256::digest(payload.as_bytes())),
            "{name}: a half-written entry"
        );
        serde_json::from_str::<serde_json::Value>(payload).expect("payload is JSON");
        count += 1;
    }
    count
}

#[test]
fn a_second_check_answers_byte_for_byte_from_the_cache() {
    let repo = repo();
    for format in ["human", "json"] {
        let expected = uncached(&repo, format);
        expected.assert_code(1);
        assert!(
            expected.stdout.contains("config/role/db.yaml"),
            "{}",
            expected.stdout
        );
        let first = cached(&repo, format);
        let second = cached(&repo, format);
        assert_eq!(first.stdout, expected.stdout, "{format}: first run");
        assert_eq!(second.stdout, expected.stdout, "{format}: second run");
        assert_eq!(second.code, expected.code);
        let (hits, lookups) = cache_stat(&second);
        assert!(lookups >= 7, "{}", second.stderr);
        assert_eq!(hits, lookups, "{format}: every file from the cache");
    }
    // The first run of all filled it (and wrote nothing in the work tree).
    assert!(assert_whole_entries(&repo) >= 7);
    assert_eq!(repo.git(&["status", "--porcelain", "--ignored"]), "");
}

#[test]
fn a_changed_schema_or_a_file_it_refs_invalidates() {
    let repo = repo();
    cached(&repo, "json").assert_code(1);
    // The `$ref`ed file alone: a port must now be a string.
    repo.file("schemas/port.schema.json", "{ \"type\": \"string\" }\n");
    let out = cached(&repo, "json");
    assert_eq!(out.stdout, uncached(&repo, "json").stdout);
    let files: Vec<String> = out
        .findings_of("schema")
        .iter()
        .map(|f| f["file"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(
        files.contains(&"config/defaults.yaml".to_owned())
            && files.contains(&"config/role/web.yaml".to_owned())
            && !files.contains(&"config/role/db.yaml".to_owned()),
        "{}",
        out.stdout
    );
    // The schema itself: names must now be numbers.
    repo.file(
        "schemas/layer.schema.json",
        &LAYER_SCHEMA.replace(
            r#""name": { "type": "string" }"#,
            r#""name": { "type": "number" }"#,
        ),
    );
    let out = cached(&repo, "json");
    assert_eq!(out.stdout, uncached(&repo, "json").stdout);
    assert!(
        out.findings()
            .iter()
            .any(|f| f["file"] == "config/extra/a.yaml"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_changed_layer_invalidates_that_file_only() {
    let repo = repo();
    let (_, lookups) = cache_stat(&cached(&repo, "json"));
    repo.file("config/role/web.yaml", "port: \"8080\"\n");
    let out = cached(&repo, "json");
    assert_eq!(cache_stat(&out), (lookups - 1, lookups));
    assert_eq!(out.stdout, uncached(&repo, "json").stdout);
    assert!(
        out.findings()
            .iter()
            .any(|f| f["file"] == "config/role/web.yaml" && f["rule"] == "schema"),
        "{}",
        out.stdout
    );
}

/// A well-formed payload that would add a finding if its checksum were not checked.
const FAKE_FINDING: &str = r#"[{"rule":"schema","severity":"error","file":"config/extra/a.yaml","line":1,"col":1,"message":"fake","path":null,"class":null,"help":null,"related":[]}]"#;

#[test]
fn a_damaged_entry_is_a_miss_and_the_answer_stays_right() {
    let repo = repo();
    let expected = uncached(&repo, "human");
    cached(&repo, "human");
    let entries: Vec<PathBuf> = std::fs::read_dir(cache_dir(&repo))
        .expect("cache dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.file_name().is_some_and(|n| n.len() == 64))
        .collect();
    assert!(entries.len() >= 7);
    // Each a different damage: a payload swapped for "no findings" under the
    // old checksum, a flipped byte, a truncation, garbage, an empty file.
    for (i, path) in entries.iter().enumerate() {
        let bytes = std::fs::read(path).expect("read entry");
        let damaged = match i % 5 {
            0 => {
                let text = String::from_utf8(bytes).expect("UTF-8");
                let head: Vec<&str> = text.splitn(3, '\n').collect();
                let swapped = if head[2] == "[]" { FAKE_FINDING } else { "[]" };
                format!("{}\n{}\n{swapped}", head[0], head[1]).into_bytes()
            }
            1 => {
                let mut b = bytes;
                let last = b.len() - 1;
                b[last] ^= 0x01;
                b
            }
            2 => bytes[..bytes.len() / 2].to_vec(),
            3 => b"\x00\xffnot an entry".to_vec(),
            _ => Vec::new(),
        };
        std::fs::write(path, damaged).expect("damage entry");
    }
    let out = cached(&repo, "human");
    assert_eq!(out.stdout, expected.stdout);
    assert_eq!(out.code, expected.code);
    assert_eq!(cache_stat(&out).0, 0, "a damaged entry was used");
    // Each was written again, whole.
    let again = cached(&repo, "human");
    assert_eq!(again.stdout, expected.stdout);
    let (hits, lookups) = cache_stat(&again);
    assert_eq!(hits, lookups);
    assert_whole_entries(&repo);
}

#[test]
fn two_cold_checks_at_once_agree_and_leave_whole_entries() {
    let repo = repo();
    let expected = uncached(&repo, "json");
    for round in 0..5 {
        let _ = std::fs::remove_dir_all(cache_dir(&repo));
        let spawn = || {
            let mut cmd = Command::new(BIN);
            hermetic(&mut cmd)
                .arg("--repo")
                .arg(repo.path())
                .args(["check", "--format", "json"])
                .current_dir(repo.path())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            (cmd.spawn().expect("spawn ringmaster"), Instant::now())
        };
        let (a, b) = (spawn(), spawn());
        for (child, started) in [a, b] {
            let out = Output::of(child.wait_with_output().expect("wait"), started);
            assert_eq!(out.stdout, expected.stdout, "round {round}");
            assert_eq!(out.code, expected.code, "round {round}");
        }
        assert!(assert_whole_entries(&repo) >= 7, "round {round}");
    }
    let warm = cached(&repo, "json");
    assert_eq!(warm.stdout, expected.stdout);
    let (hits, lookups) = cache_stat(&warm);
    assert_eq!(hits, lookups);
}

#[test]
fn no_cache_and_the_environment_variable_write_nothing() {
    let repo = repo();
    let flag = repo.run(&["-v", "check", "--no-cache"]);
    flag.assert_code(1);
    assert!(!flag.stderr.contains("cache:"), "{}", flag.stderr);
    let env = repo.run_env(&["-v", "check"], &[("RINGMASTER_NO_CACHE", "1")]);
    env.assert_code(1);
    assert_eq!(env.stdout, flag.stdout);
    assert!(!env.stderr.contains("cache:"), "{}", env.stderr);
    assert!(
        !repo.path().join(".git/ringmaster/cache").exists(),
        "a cache was written"
    );
    // `0` does not turn it off.
    repo.run_env(&["check"], &[("RINGMASTER_NO_CACHE", "0")]);
    assert!(cache_dir(&repo).exists());
}

/// The GitHub action restores and saves exactly the directory `check`
/// writes, keyed on the ringmaster version and the commit.
#[test]
fn the_action_caches_the_directory_check_writes() {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read(manifest_dir.join("action.yml")).expect("action.yml");
    let parsed = ringmaster::config::document::parse(
        "action.yml",
        &text,
        &ringmaster::config::document::Limits::default(),
    );
    let action = parsed.single().expect("one document").to_json();
    let steps = action["runs"]["steps"].as_array().expect("steps").clone();
    let step = |name: &str| {
        steps
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("no step `{name}`"))
            .clone()
    };
    let key_step = step("Check cache key");
    let cache_step = step("Cached check results");
    assert_eq!(cache_step["uses"], "actions/cache@v4");
    assert_eq!(
        cache_step["with"]["path"],
        "${{ steps.check-cache.outputs.dir }}"
    );
    assert_eq!(
        cache_step["with"]["key"],
        "${{ steps.check-cache.outputs.prefix }}${{ github.sha }}"
    );
    assert_eq!(
        step("ringmaster check")["env"]["RINGMASTER_NO_CACHE"],
        "${{ inputs.cache == 'true' && '0' || '1' }}"
    );

    let repo = repo();
    let runner = tempfile::tempdir().expect("tempdir");
    let outputs = runner.path().join("github_output");
    let script = runner.path().join("step.sh");
    std::fs::write(&script, key_step["run"].as_str().expect("run")).expect("write step");
    let bin_dir = Path::new(BIN).parent().expect("bin dir");
    let status = Command::new("bash")
        .args(["--noprofile", "--norc", "-eo", "pipefail"])
        .arg(&script)
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin_dir.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env("CONFIG_DIR", repo.path())
        .env("RUNNER_OS", "Linux")
        .env("GITHUB_OUTPUT", &outputs)
        .status()
        .expect("bash");
    assert!(status.success());
    let written = std::fs::read_to_string(&outputs).expect("outputs");
    let dir = written
        .lines()
        .find_map(|l| l.strip_prefix("dir="))
        .expect("dir output");
    let prefix = written
        .lines()
        .find_map(|l| l.strip_prefix("prefix="))
        .expect("prefix output");
    assert_eq!(
        prefix,
        format!(
            "ringmaster-check-Linux-ringmaster-{}-",
            env!("CARGO_PKG_VERSION")
        )
    );
    cached(&repo, "json");
    assert_eq!(
        std::fs::canonicalize(dir).expect("the cache dir exists after a check"),
        std::fs::canonicalize(cache_dir(&repo)).expect("cache dir")
    );
}
