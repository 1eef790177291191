//! The one-file pre-commit check (`ringmaster check PATH`) with the cache:
//! a manifest that passed ringmaster's own manifest schema is remembered
//! under its bytes and the build (so a warm run does not compile that
//! schema), and any other manifest is validated as before.

use std::path::PathBuf;

use crate::support::{Output, TestRepo};

const MANIFEST: &str = "\
version: 1
schemas:
  - files: \"config/**/*.yaml\"
    schema: schemas/layer.schema.json
";

fn repo() -> TestRepo {
    let repo = TestRepo::new();
    repo.file("ringmaster.yaml", MANIFEST)
        .file(
            "schemas/layer.schema.json",
            "{ \"type\": \"object\", \"properties\": { \"port\": { \"type\": \"integer\" } } }\n",
        )
        .file("config/a.yaml", "port: 80\n")
        // A string where the schema wants an integer: one finding.
        .file("config/b.yaml", "port: \"81\"\n");
    repo.commit("one-file fixture");
    repo
}

/// Distinct keys over every pack of the check cache.
pub(crate) fn cache_keys(repo: &TestRepo) -> std::collections::BTreeSet<Vec<u8>> {
    const MAGIC: &[u8] = b"ringmaster-check-pack 1\n";
    let dir = repo.path().join(".git/ringmaster/cache/check");
    let mut keys = std::collections::BTreeSet::new();
    let packs: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("cache dir")
        .map(|e| e.expect("entry").path())
        .collect();
    for pack in packs {
        let bytes = std::fs::read(&pack).expect("read pack");
        assert!(bytes.starts_with(MAGIC), "not a pack: {}", pack.display());
        let at = MAGIC.len();
        let count = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("count")) as usize;
        for i in 0..count {
            let record = at + 4 + i * 56;
            keys.insert(bytes[record..record + 32].to_vec());
        }
    }
    keys
}

/// The cached answer is the `--no-cache` one: stdout, stderr, exit code.
#[track_caller]
pub(crate) fn same_answer(repo: &TestRepo, args: &[&str]) -> Output {
    let mut uncached = vec!["check", "--no-cache"];
    uncached.extend_from_slice(args);
    let mut cached = vec!["check"];
    cached.extend_from_slice(args);
    let expected = repo.run(&uncached);
    let out = repo.run(&cached);
    assert_eq!(out.stdout, expected.stdout, "{args:?}");
    assert_eq!(out.stderr, expected.stderr, "{args:?}");
    assert_eq!(out.code, expected.code, "{args:?}");
    out
}

#[test]
fn a_passing_manifest_is_remembered_once_and_a_changed_one_is_validated_again() {
    let repo = repo();
    for format in ["human", "json"] {
        for path in ["config/a.yaml", "config/b.yaml"] {
            same_answer(&repo, &["--format", format, path]);
        }
        same_answer(&repo, &["--format", format]);
    }
    // One entry per file a whole check looks up, plus the manifest's pass
    // and the layer schema's compile (see onefile_schema.rs).
    let verbose = repo.run(&["-v", "check"]);
    let looked_up: usize = verbose
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("cache: "))
        .and_then(|l| l.split_whitespace().nth(2)?.parse().ok())
        .unwrap_or_else(|| panic!("no `cache:` line:\n{}", verbose.stderr));
    assert!(looked_up >= 2, "{}", verbose.stderr);
    let files_and_manifest = cache_keys(&repo);
    assert_eq!(
        files_and_manifest.len(),
        looked_up + 2,
        "{files_and_manifest:?}"
    );

    // A key the schema does not know, then a version it does not take:
    // each a manifest finding, warm and cold alike, and never remembered.
    for bad in [
        format!("{MANIFEST}colour: red\n"),
        MANIFEST.replace("version: 1", "version: 2"),
    ] {
        repo.file("ringmaster.yaml", &bad);
        for _ in 0..2 {
            let out = same_answer(&repo, &["config/a.yaml"]);
            assert_eq!(out.code, Some(2), "{bad}\n{}", out.stdout);
            assert!(out.stdout.contains("ringmaster.yaml"), "{}", out.stdout);
        }
        assert_eq!(cache_keys(&repo), files_and_manifest);
    }

    // Back to the manifest that passed: answered as before, nothing new.
    repo.file("ringmaster.yaml", MANIFEST);
    same_answer(&repo, &["config/b.yaml"]);
    assert_eq!(cache_keys(&repo), files_and_manifest);
}
