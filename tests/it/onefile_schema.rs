//! The one-file pre-commit check with the cache: a user schema that
//! compiled without reading any other file is remembered under its path,
//! bytes and the build, so a check whose files all come from the cache does
//! not compile it; the schema is compiled as soon as anything needs
//! validating, and a schema that does not compile, or that `$ref`s other
//! files, is compiled every run as before.

use crate::onefile::{cache_keys, same_answer};
use crate::support::TestRepo;

const MANIFEST: &str = "\
version: 1
hierarchy:
  - config/defaults.yaml
  - config/host/{class}.yaml
host_classes:
  web1: {}
schemas:
  - files: \"config/**/*.yaml\"
    schema: schemas/layer.schema.json
effective:
  schema: schemas/effective.schema.json
";

const LAYER_SCHEMA: &str =
    "{ \"type\": \"object\", \"properties\": { \"port\": { \"type\": \"integer\" } } }\n";

const EFFECTIVE_SCHEMA: &str =
    "{ \"type\": \"object\", \"properties\": { \"port\": { \"maximum\": 9000 } } }\n";

fn repo() -> TestRepo {
    let repo = TestRepo::new();
    repo.file("ringmaster.yaml", MANIFEST)
        .file("schemas/layer.schema.json", LAYER_SCHEMA)
        .file("schemas/effective.schema.json", EFFECTIVE_SCHEMA)
        .file("config/defaults.yaml", "port: 80\n")
        .file("config/host/web1.yaml", "name: web1\n")
        .file("config/a.yaml", "port: 81\n")
        // A string where the schema wants an integer: one finding.
        .file("config/b.yaml", "port: \"82\"\n");
    repo.commit("one-file schema fixture");
    repo
}

/// Files and host classes a whole check looked up in the cache (`-v`).
fn looked_up(repo: &TestRepo) -> usize {
    let verbose = repo.run(&["-v", "check"]);
    let count = |suffix: &str| -> usize {
        verbose
            .stderr
            .lines()
            .filter_map(|l| l.strip_prefix("cache: "))
            .find(|l| l.ends_with(suffix))
            .and_then(|l| l.split_whitespace().nth(2)?.parse().ok())
            .unwrap_or_else(|| panic!("no `cache: … {suffix}` line:\n{}", verbose.stderr))
    };
    count("files from the cache") + count("host classes from the cache")
}

#[test]
fn a_schema_that_compiled_alone_is_remembered_once_and_warm_checks_answer_as_without_the_cache() {
    let repo = repo();
    for _ in 0..2 {
        for format in ["human", "json"] {
            for path in ["config/a.yaml", "config/b.yaml", "config/defaults.yaml"] {
                same_answer(&repo, &["--format", format, path]);
            }
            same_answer(&repo, &["--format", format]);
        }
    }
    // One entry per file and class a whole check looks up, plus the
    // manifest's pass and one per schema compiled reading nothing else.
    let keys = cache_keys(&repo);
    assert_eq!(keys.len(), looked_up(&repo) + 3, "{keys:?}");
    let out = same_answer(&repo, &["config/b.yaml"]);
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(out.stdout.contains("is not of type"), "{}", out.stdout);
    assert_eq!(cache_keys(&repo), keys, "a warm check adds nothing");
}

#[test]
fn a_changed_file_or_layer_is_validated_against_a_schema_the_cache_knows_compiles() {
    let repo = repo();
    same_answer(&repo, &[]);
    same_answer(&repo, &["config/a.yaml"]);
    // The schemas are known to compile; the files they now check are new.
    repo.file("config/a.yaml", "port: \"eighty\"\n");
    for _ in 0..2 {
        let out = same_answer(&repo, &["config/a.yaml"]);
        assert_eq!(out.code, Some(1), "{}", out.stdout);
        assert!(
            out.stdout.contains("config/a.yaml") && out.stdout.contains("is not of type"),
            "{}",
            out.stdout
        );
    }
    // A layer over the effective maximum: its class is merged and checked.
    repo.file("config/host/web1.yaml", "name: web1\nport: 9100\n");
    for _ in 0..2 {
        let out = same_answer(&repo, &["config/host/web1.yaml"]);
        assert_eq!(out.code, Some(1), "{}", out.stdout);
        assert!(out.stdout.contains("9000"), "{}", out.stdout);
        let out = same_answer(&repo, &["--format", "json", "config/host/web1.yaml"]);
        assert!(out.stdout.contains("\"web1\""), "{}", out.stdout);
    }
}

#[test]
fn a_broken_schema_is_reported_by_a_warm_one_file_check_exactly_as_without_the_cache() {
    let repo = repo();
    same_answer(&repo, &[]);
    same_answer(&repo, &["config/a.yaml"]);
    let known = cache_keys(&repo);
    for broken in [
        // Not a schema: `type` takes a name.
        "{ \"type\": 12 }\n",
        // Not JSON or YAML.
        "{ \"type\": \n",
        // A `$ref` to a file that is not there.
        "{ \"$ref\": \"missing.json\" }\n",
    ] {
        repo.file("schemas/layer.schema.json", broken);
        // Cold, then with every file from the cache: the schema's finding
        // and its exit code each time.
        for _ in 0..2 {
            for format in ["human", "json"] {
                let out = same_answer(&repo, &["--format", format, "config/a.yaml"]);
                assert_eq!(out.code, Some(1), "{broken}\n{}", out.stdout);
                assert!(out.stdout.contains("schema-invalid"), "{}", out.stdout);
                assert!(
                    out.stdout.contains("schemas/layer.schema.json"),
                    "{}",
                    out.stdout
                );
            }
        }
    }
    // Back to the schema that compiled: answered as before.
    repo.file("schemas/layer.schema.json", LAYER_SCHEMA);
    let out = same_answer(&repo, &["config/a.yaml"]);
    assert_eq!(out.code, Some(0), "{}", out.stdout);
    assert!(known.is_subset(&cache_keys(&repo)));
}

#[test]
fn a_schema_that_refs_another_file_is_compiled_every_run_and_sees_that_file_change() {
    let repo = repo();
    repo.file(
        "schemas/layer.schema.json",
        "{ \"type\": \"object\", \"properties\": { \"port\": { \"$ref\": \"port.json\" } } }\n",
    )
    .file("schemas/port.json", "{ \"type\": \"integer\" }\n");
    repo.commit("a schema with a $ref");
    same_answer(&repo, &[]);
    let out = same_answer(&repo, &["config/a.yaml"]);
    assert_eq!(out.code, Some(0), "{}", out.stdout);
    // Only the effective schema (which reads nothing else) is remembered.
    let keys = cache_keys(&repo);
    assert_eq!(keys.len(), looked_up(&repo) + 2, "{keys:?}");
    // The `$ref`ed file changes: files are checked again, against it.
    repo.file("schemas/port.json", "{ \"type\": \"string\" }\n");
    for _ in 0..2 {
        let out = same_answer(&repo, &["config/a.yaml"]);
        assert_eq!(out.code, Some(1), "{}", out.stdout);
        assert!(out.stdout.contains("is not of type"), "{}", out.stdout);
    }
}
