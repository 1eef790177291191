//! `check`'s cache of per-file results (`<git-dir>/ringmaster/cache/check/`):
//! a warm run answers byte for byte as a cold one; a changed schema (or a
//! file it `$ref`s), a changed layer and a damaged entry are misses; two
//! cold runs at once agree and leave whole packs; `--no-cache` and
//! `RINGMASTER_NO_CACHE` write nothing. (A changed ringmaster build is
//! another key: unit-tested in `check::cache`, the binary's version being
//! fixed here.)

use std::path::PathBuf;
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

/// The pack files in the cache directory.
fn packs(repo: &TestRepo) -> Vec<PathBuf> {
    let mut packs: Vec<PathBuf> = std::fs::read_dir(cache_dir(repo))
        .expect("cache dir")
        .map(|e| e.expect("entry").path())
        .collect();
    packs.sort();
    packs
}

/// The entries of a pack (key, payload), each checked against its record's
/// checksum: `ringmaster-check-pack 1\n`, a u32 count, per entry a key,
/// payload offset and length and 16 bytes of SHA-256(key, length, payload),
/// then the payloads.
#[track_caller]
fn pack_entries(bytes: &[u8]) -> Vec<([u8; 32], Vec<u8>)> {
    const MAGIC: &[u8] = b"ringmaster-check-pack 1\n";
    const RECORD: usize = 56;
    assert!(bytes.starts_with(MAGIC), "not a pack");
    let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    let count = u32_at(MAGIC.len());
    let table = MAGIC.len() + 4;
    let data = table + count * RECORD;
    (0..count)
        .map(|i| {
            let at = table + i * RECORD;
            let key: [u8; 32] = bytes[at..at + 32].try_into().unwrap();
            let (offset, len) = (u32_at(at + 32), u32_at(at + 36));
            let payload = bytes[data + offset..data + offset + len].to_vec();
            let mut h = Sha256::new();
            h.update(key);
            h.update((len as u32).to_le_bytes());
            h.update(&payload);
            assert_eq!(&h.finalize()[..16], &bytes[at + 40..at + 56], "entry {i}");
            if !payload.is_empty() {
                serde_json::from_slice::<serde_json::Value>(&payload).expect("payload is JSON");
            }
            (key, payload)
        })
        .collect()
}

/// Every file in the cache directory is a whole pack (no temp file is
/// left); the number of distinct entries.
#[track_caller]
fn assert_whole_packs(repo: &TestRepo) -> usize {
    let mut keys = std::collections::BTreeSet::new();
    for path in packs(repo) {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with("pack1-") && name.ends_with(".rmc"),
            "not a pack: {name}"
        );
        let bytes = std::fs::read(&path).expect("read pack");
        keys.extend(pack_entries(&bytes).into_iter().map(|(k, _)| k));
    }
    keys.len()
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
    assert!(assert_whole_packs(&repo) >= 7);
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

/// `bytes` (a pack) with entry `i`'s payload replaced, its record's
/// checksum left as it was.
fn swap_payload(bytes: &[u8], i: usize, payload: &[u8]) -> Vec<u8> {
    let entries = pack_entries(bytes);
    let table = 24 + 4;
    let data = table + entries.len() * 56;
    let mut out = bytes[..data].to_vec();
    let mut offset = 0u32;
    for (j, (_, old)) in entries.iter().enumerate() {
        let new = if j == i { payload } else { &old[..] };
        let at = table + j * 56;
        out[at + 32..at + 36].copy_from_slice(&offset.to_le_bytes());
        out[at + 36..at + 40].copy_from_slice(&(new.len() as u32).to_le_bytes());
        offset += new.len() as u32;
    }
    for (j, (_, old)) in entries.iter().enumerate() {
        out.extend_from_slice(if j == i { payload } else { old });
    }
    out
}

/// The key of the memo that `manifest` passed ringmaster's own manifest
/// schema (`check::cache::own_schema_key`), for the build under test.
fn own_schema_key(manifest: &[u8]) -> [u8; 32] {
    let build = concat!(
        env!("CARGO_PKG_VERSION"),
        "+",
        env!("RINGMASTER_SOURCE_HASH")
    );
    let mut hasher = Sha256::new();
    for part in [
        b"ringmaster-manifest-own-schema 1".as_slice(),
        build.as_bytes(),
        manifest,
    ] {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hasher.finalize().into()
}

#[test]
fn a_damaged_pack_is_a_miss_and_the_answer_stays_right() {
    let repo = repo();
    let expected = uncached(&repo, "human");
    cached(&repo, "human");
    let [pack] = &packs(&repo)[..] else {
        panic!("one pack: {:?}", packs(&repo));
    };
    let bytes = std::fs::read(pack).expect("read pack");
    let entries = pack_entries(&bytes);
    assert!(entries.len() >= 7);
    let with_findings = entries
        .iter()
        .position(|(_, p)| !p.is_empty())
        .expect("an entry with findings");
    // Not the manifest's own-schema memo, also an entry without findings:
    // damaged, it is a miss too (the manifest is validated again), but not
    // a file's or a class's, so the counts below would not show it. Where
    // it sorts among the keys changes with every build.
    let memo = own_schema_key(MANIFEST.as_bytes());
    assert!(
        entries.iter().any(|(key, _)| *key == memo),
        "the memo's key"
    );
    let without = entries
        .iter()
        .position(|(key, p)| p.is_empty() && *key != memo)
        .expect("an entry without");
    // Each a different damage: a payload swapped for "no findings" or a
    // forged finding under the old checksum, a flipped byte, a truncation,
    // garbage, an empty file.
    // (what, the damaged pack, whether it still parses as a pack)
    let damages: Vec<(&str, Vec<u8>, bool)> = vec![
        (
            "findings dropped",
            swap_payload(&bytes, with_findings, b""),
            true,
        ),
        (
            "finding forged",
            swap_payload(&bytes, without, FAKE_FINDING.as_bytes()),
            true,
        ),
        (
            "flipped byte",
            {
                let mut b = bytes.clone();
                let last = b.len() - 1;
                b[last] ^= 0x01;
                b
            },
            true,
        ),
        // Cut inside the first record: the table itself is incomplete (a
        // cut among the payloads leaves a pack whose other records answer).
        ("truncated", bytes[..60].to_vec(), false),
        ("garbage", b"\x00\xffnot a pack".to_vec(), false),
        ("empty", Vec::new(), false),
    ];
    for (what, damaged, parses) in damages {
        let _ = std::fs::remove_dir_all(cache_dir(&repo));
        std::fs::create_dir_all(cache_dir(&repo)).expect("cache dir");
        std::fs::write(pack, &damaged).expect("damage pack");
        let out = cached(&repo, "human");
        assert_eq!(out.stdout, expected.stdout, "{what}");
        assert_eq!(out.code, expected.code, "{what}");
        // The damaged entry may be a file's or (the pack's last) a class's.
        let (hits, lookups) = cache_stat(&out);
        let (class_hits, class_lookups) = class_stat(&out);
        assert!(
            hits < lookups || class_hits < class_lookups,
            "{what}: a damaged entry was used"
        );
        // What did not verify was written again, whole.
        let again = cached(&repo, "human");
        assert_eq!(again.stdout, expected.stdout, "{what}");
        let (hits, lookups) = cache_stat(&again);
        assert_eq!(hits, lookups, "{what}");
        // A pack that does not parse is replaced (here by the same entries,
        // so under the same name); one with a damaged entry stays (until
        // packs are merged) beside a pack holding that entry again.
        let all = packs(&repo);
        let others: Vec<&PathBuf> = all.iter().filter(|p| !parses || *p != pack).collect();
        assert_eq!(all.len(), 1 + usize::from(parses), "{what}: {all:?}");
        let [rewritten] = &others[..] else {
            panic!("{what}: {all:?}");
        };
        let entries = pack_entries(&std::fs::read(rewritten).expect("read pack"));
        assert!(entries.len() >= if parses { 1 } else { 7 }, "{what}");
    }
}

#[test]
fn two_cold_checks_at_once_agree_and_leave_whole_packs() {
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
        assert!(assert_whole_packs(&repo) >= 7, "round {round}");
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
    let steps = crate::github::action_steps();
    let step = |name: &str| crate::github::step(&steps, name).clone();
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
    let (code, _, stderr) = crate::github::run_step(
        key_step["run"].as_str().expect("run"),
        runner.path(),
        &[
            ("CONFIG_DIR", &repo.path().display().to_string()),
            ("RUNNER_OS", "Linux"),
            ("GITHUB_OUTPUT", &outputs.display().to_string()),
        ],
    );
    assert_eq!(code, 0, "{stderr}");
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

// ------------------------------------------------ host classes (effective) ----

/// Three host classes over shared layers, checked against an effective
/// schema; `config/none/{role}.yaml` matches no file (an `unused-layer`
/// finding, which needs to know which layers exist).
const CLASS_MANIFEST: &str = "\
version: 1
hierarchy:
  - config/defaults.yaml
  - config/role/{role}.yaml
  - config/host/{class}.yaml
  - config/none/{role}.yaml
host_classes:
  web1: { role: web }
  web2: { role: web }
  db1: { role: db }
schemas:
  - files: \"config/**/*.yaml\"
    schema: schemas/layer.schema.json
effective:
  schema: schemas/effective.schema.json
";

const EFFECTIVE_SCHEMA: &str = r#"{
  "type": "object",
  "required": ["name", "port"],
  "properties": { "port": { "type": "integer", "maximum": 9000 } }
}
"#;

fn class_repo() -> TestRepo {
    let repo = TestRepo::new();
    repo.file("ringmaster.yaml", CLASS_MANIFEST)
        .file("schemas/layer.schema.json", "{ \"type\": \"object\" }\n")
        .file("schemas/effective.schema.json", EFFECTIVE_SCHEMA)
        .file("config/defaults.yaml", "name: base\nport: 80\n")
        .file("config/role/web.yaml", "port: 8080\n")
        // Over the effective maximum: a finding for db1 alone.
        .file("config/role/db.yaml", "port: 15432\n")
        .file("config/host/web1.yaml", "name: web1\n")
        .file("config/host/db1.yaml", "name: db1\n");
    repo.commit("class cache fixture");
    repo
}

/// `(host classes from the cache, host classes looked up)` from `-v`.
#[track_caller]
fn class_stat(out: &Output) -> (usize, usize) {
    let line = out
        .stderr
        .lines()
        .find_map(|l| l.strip_suffix(" host classes from the cache"))
        .and_then(|l| l.strip_prefix("cache: "))
        .unwrap_or_else(|| panic!("no host class line on stderr:\n{}", out.stderr));
    let (hits, lookups) = line.split_once(" of ").expect("H of N");
    (
        hits.parse().expect("hits"),
        lookups.parse().expect("lookups"),
    )
}

/// The classes with a finding of `rule`.
fn classes_with(out: &Output, rule: &str) -> Vec<String> {
    let mut classes: Vec<String> = out
        .findings_of(rule)
        .iter()
        .filter_map(|f| f["class"].as_str().map(str::to_owned))
        .collect();
    classes.sort();
    classes.dedup();
    classes
}

#[test]
fn a_warm_check_takes_host_classes_from_the_cache_byte_for_byte() {
    let repo = class_repo();
    for format in ["human", "json"] {
        let expected = uncached(&repo, format);
        expected.assert_code(1);
        let cold = cached(&repo, format);
        let warm = cached(&repo, format);
        assert_eq!(cold.stdout, expected.stdout, "{format}: cold");
        assert_eq!(warm.stdout, expected.stdout, "{format}: warm");
        assert_eq!(warm.code, expected.code);
        assert_eq!(class_stat(&warm), (3, 3), "{}", warm.stderr);
        // Nothing changed: no layer had to be read (the index vouches).
        let (hits, lookups) = cache_stat(&warm);
        assert_eq!(hits, lookups);
    }
    let json = cached(&repo, "json");
    assert_eq!(classes_with(&json, "schema"), ["db1"], "{}", json.stdout);
    assert!(json.stdout.contains("unused-layer"), "{}", json.stdout);
    // The snippet of db1's finding comes from a layer that was not parsed.
    let human = cached(&repo, "human");
    assert!(human.stdout.contains("port: 15432"), "{}", human.stdout);
    assert_eq!(repo.git(&["status", "--porcelain", "--ignored"]), "");
}

#[test]
fn a_changed_layer_rechecks_exactly_the_classes_using_it() {
    let repo = class_repo();
    cached(&repo, "json").assert_code(1);
    repo.file("config/role/web.yaml", "port: 10080\n");
    let out = cached(&repo, "json");
    assert_eq!(out.stdout, uncached(&repo, "json").stdout);
    // db1 from the cache; web1 and web2 merged again, each with its new finding.
    assert_eq!(class_stat(&out), (1, 3), "{}", out.stderr);
    // (web2's finding is web1's, collapsed into it.)
    assert_eq!(classes_with(&out, "schema"), ["db1", "web1"]);
    assert!(
        out.stdout.contains("also in host classes web2"),
        "{}",
        out.stdout
    );
    // A host layer: that one class only.
    repo.file("config/host/web1.yaml", "name: web1\nport: 80\n");
    let out = cached(&repo, "json");
    assert_eq!(out.stdout, uncached(&repo, "json").stdout);
    assert_eq!(class_stat(&out), (2, 3), "{}", out.stderr);
    assert_eq!(classes_with(&out, "schema"), ["db1", "web2"]);
    // A layer that did not exist for web2 now does.
    repo.file("config/host/web2.yaml", "name: web2\nport: 81\n");
    let out = cached(&repo, "json");
    assert_eq!(out.stdout, uncached(&repo, "json").stdout);
    assert_eq!(class_stat(&out), (2, 3), "{}", out.stderr);
    assert_eq!(classes_with(&out, "schema"), ["db1"]);
    // And the file a template matched appears: no longer unused.
    repo.file("config/none/db.yaml", "name: db\n");
    let out = cached(&repo, "json");
    assert_eq!(out.stdout, uncached(&repo, "json").stdout);
    assert!(!out.stdout.contains("unused-layer"), "{}", out.stdout);
    assert_eq!(class_stat(&out), (2, 3), "{}", out.stderr);
}

#[test]
fn a_changed_effective_schema_or_manifest_invalidates_every_class() {
    let repo = class_repo();
    cached(&repo, "json").assert_code(1);
    assert_eq!(class_stat(&cached(&repo, "json")), (3, 3));
    // The effective schema: names must now be numbers.
    repo.file(
        "schemas/effective.schema.json",
        &EFFECTIVE_SCHEMA.replace(
            r#""properties": {"#,
            r#""properties": { "name": { "type": "number" },"#,
        ),
    );
    let out = cached(&repo, "json");
    assert_eq!(out.stdout, uncached(&repo, "json").stdout);
    assert_eq!(class_stat(&out), (0, 3), "{}", out.stderr);
    assert_eq!(classes_with(&out, "schema"), ["db1", "web1", "web2"]);
    // A fact in the manifest: web2 becomes a db.
    repo.file(
        "ringmaster.yaml",
        &CLASS_MANIFEST.replace("web2: { role: web }", "web2: { role: db }"),
    );
    let out = cached(&repo, "json");
    assert_eq!(out.stdout, uncached(&repo, "json").stdout);
    assert_eq!(class_stat(&out), (0, 3), "{}", out.stderr);
}

#[test]
fn a_changed_hiera_config_invalidates_files_and_classes() {
    let repo = TestRepo::new();
    repo.file(
        "ringmaster.yaml",
        "version: 1\nhiera:\n  config: hiera.yaml\nhost_classes:\n  web1: { role: web }\n\
         schemas:\n  - files: \"data/**/*.yaml\"\n    schema: s.json\n",
    )
    .file("s.json", "{ \"type\": \"object\" }\n")
    .file(
        "hiera.yaml",
        "---\nversion: 5\ndefaults:\n  datadir: data\n  data_hash: yaml_data\n\
         hierarchy:\n  - name: common\n    path: common.yaml\n",
    )
    .file("data/common.yaml", "a: 1\n")
    // Two documents: a finding only once it is a layer.
    .file("data/extra.yaml", "b: 1\n---\nc: 2\n");
    repo.commit("hiera fixture");
    cached(&repo, "json").assert_code(0);
    assert_eq!(class_stat(&cached(&repo, "json")), (1, 1));
    // The manifest's text is the same; what hiera.yaml expands to is not.
    repo.file(
        "hiera.yaml",
        "---\nversion: 5\ndefaults:\n  datadir: data\n  data_hash: yaml_data\n\
         hierarchy:\n  - name: common\n    path: common.yaml\n  - name: extra\n    path: extra.yaml\n",
    );
    let out = cached(&repo, "json");
    let expected = uncached(&repo, "json");
    assert_eq!(out.stdout, expected.stdout);
    assert_eq!(out.code, expected.code);
    out.assert_code(1);
    assert!(
        out.findings()
            .iter()
            .any(|f| f["file"] == "data/extra.yaml" && f["rule"] == "yaml-syntax"),
        "{}",
        out.stdout
    );
    assert_eq!(class_stat(&out), (0, 1), "{}", out.stderr);
}

#[test]
fn a_damaged_class_entry_is_a_miss() {
    let repo = class_repo();
    let expected = uncached(&repo, "human");
    cached(&repo, "human");
    let [pack] = &packs(&repo)[..] else {
        panic!("one pack: {:?}", packs(&repo));
    };
    let bytes = std::fs::read(pack).expect("read pack");
    let db1 = pack_entries(&bytes)
        .iter()
        .position(|(_, p)| String::from_utf8_lossy(p).contains(r#""class":"db1""#))
        .expect("db1's entry");
    // db1's findings dropped under the old checksum.
    std::fs::write(pack, swap_payload(&bytes, db1, b"")).expect("damage pack");
    let out = cached(&repo, "human");
    assert_eq!(out.stdout, expected.stdout);
    assert_eq!(out.code, expected.code);
    assert_eq!(class_stat(&out), (2, 3), "{}", out.stderr);
    let again = cached(&repo, "human");
    assert_eq!(again.stdout, expected.stdout);
    assert_eq!(class_stat(&again), (3, 3), "{}", again.stderr);
}
