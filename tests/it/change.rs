//! `check --base REV [--head REV]`: the rules on the change itself (issue 4,
//! SPEC §4): `dual-change`, `secret` (masked in every format) and
//! `wide-change`, each firing and not firing, with exact positions and exit
//! codes. The base is always a commit; the head is the working tree unless
//! `--head` names a revision.
//!
//! Every expectation is written by hand from the fixture text; comments give
//! the line:column a finding must point at.

use serde_json::Value;

use crate::support::{Output, TENANT_MANIFEST as MANIFEST, TestRepo, at, briefs, related};

/// Line numbers matter: the tests name them.
const DEFAULTS: &str = "\
db:
  host: db.internal
  pool_size: 10
  timeout_ms: 2500
server:
  port: 8080
  log_level: info
";

const DOGFOOD: &str = "server:\n  port: 9090\n";
const SINGLE_TENANT: &str = "server:\n  log_level: debug\n";

const OLD_SEARCH: &str = "\
name: old-search
owner: team-search
type: bool
default: false
rings:
  dogfood: true
";

const NEW_SEARCH: &str = "\
name: new-search
owner: team-search
type: bool
default: false
rings:
  dogfood: true
";

/// A GitHub token (`ghp_` + 36), an AWS access key id (`AKIA` + 16), a
/// literal password and a PEM private key: fake, but of the real shapes.
const GITHUB_TOKEN: &str = "ghp_R7x9Kq2LmZ4vT8nW3bY6pA1sD5fG0hJcEuQi";
const AWS_KEY_ID: &str = "AKIAZ7QF3XW2LM5PR9TB";
const PASSWORD: &str = "hunter2-is-secret";
const PEM_BODY: [&str; 2] = [
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj",
    "MzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu",
];

/// The config repo, committed once: the base of every change below.
fn change_repo() -> TestRepo {
    TestRepo::committed(
        &[
            ("ringmaster.yaml", MANIFEST),
            ("config/defaults.yaml", DEFAULTS),
            ("config/ring/dogfood.yaml", DOGFOOD),
            ("config/ring/single-tenant.yaml", SINGLE_TENANT),
            ("flags/old-search.yaml", OLD_SEARCH),
        ],
        "base",
    )
}

/// `check --base HEAD --format json` (the working tree against HEAD).
fn check_change(repo: &TestRepo) -> Output {
    repo.run(&["check", "--base", "HEAD", "--format", "json"])
}

/// Edits one value of one class in one ring (`api-dogfood`'s port): no rule
/// has anything to say. Puts the ring's file back afterwards.
fn assert_one_class_edit_is_silent(repo: &TestRepo) {
    repo.file("config/ring/dogfood.yaml", "server:\n  port: 9091\n");
    let out = check_change(repo).expect_code(0);
    assert_eq!(out.findings(), Vec::<Value>::new());
    repo.file("config/ring/dogfood.yaml", DOGFOOD);
}

fn rules(out: &Output) -> Vec<String> {
    out.findings()
        .iter()
        .map(|f| f["rule"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn message(f: &Value) -> &str {
    f["message"].as_str().unwrap_or_default()
}

/// The defaults with one line replaced (1-based).
fn defaults_with(line: usize, text: &str) -> String {
    let mut lines: Vec<&str> = DEFAULTS.lines().collect();
    lines[line - 1] = text;
    lines.join("\n") + "\n"
}

// ------------------------------------------------------------ dual-change

#[test]
fn dual_change_fires_on_a_key_renamed_with_the_same_value() {
    let repo = change_repo();
    // Line 3: `pool_size: 10` becomes `max_pool_size: 10`.
    repo.file(
        "config/defaults.yaml",
        &defaults_with(3, "  max_pool_size: 10"),
    );
    let out = check_change(&repo);
    // A warning (and the wide-change notice): exit 0.
    out.assert_code(0);
    let found = out.findings_of("dual-change");
    // The new key `max_pool_size` at 3:3.
    assert_eq!(
        briefs(&found),
        [at(
            "dual-change",
            "warning",
            "config/defaults.yaml",
            3,
            3,
            Some("/db/max_pool_size")
        )]
    );
    let m = message(&found[0]);
    assert!(
        m.contains("max_pool_size") && m.contains("pool_size"),
        "{m}"
    );
    // The removed key, at the base revision: `pool_size` at 3:3.
    assert_eq!(
        related(&found[0]),
        [("config/defaults.yaml".to_owned(), 3, 3)]
    );
    assert_eq!(out.findings_of("secret"), Vec::<Value>::new());
}

#[test]
fn dual_change_fires_on_a_renamed_mapping_and_a_similar_string() {
    let repo = change_repo();
    // `db:` (1:1) becomes `database:` with the same children; in the ring
    // file `log_level: debug` becomes `level: debug` (2:3).
    repo.file("config/defaults.yaml", &defaults_with(1, "database:"))
        .file(
            "config/ring/single-tenant.yaml",
            "server:\n  level: debug\n",
        );
    let out = check_change(&repo).expect_code(0);
    assert_eq!(
        briefs(&out.findings_of("dual-change")),
        [
            at(
                "dual-change",
                "warning",
                "config/defaults.yaml",
                1,
                1,
                Some("/database")
            ),
            at(
                "dual-change",
                "warning",
                "config/ring/single-tenant.yaml",
                2,
                3,
                Some("/server/level")
            ),
        ]
    );
}

#[test]
fn dual_change_fires_when_a_flag_is_removed_and_another_added() {
    let repo = change_repo();
    repo.remove("flags/old-search.yaml")
        .file("flags/new-search.yaml", NEW_SEARCH);
    let out = check_change(&repo).expect_code(0);
    let found = out.findings_of("dual-change");
    // The added flag's name, `new-search` at 1:7.
    assert_eq!(
        briefs(&found),
        [at(
            "dual-change",
            "warning",
            "flags/new-search.yaml",
            1,
            7,
            Some("/name")
        )]
    );
    let m = message(&found[0]);
    assert!(m.contains("new-search") && m.contains("old-search"), "{m}");
}

#[test]
fn dual_change_does_not_fire_on_an_ordinary_edit_of_one_value() {
    let repo = change_repo();
    // In one ring's file: one class, one ring, nothing to say at all.
    assert_one_class_edit_is_silent(&repo);

    // In the defaults: every ring changes (a wide-change notice), but no
    // key was renamed.
    repo.file(
        "config/defaults.yaml",
        &defaults_with(4, "  timeout_ms: 3000"),
    );
    let out = check_change(&repo).expect_code(0);
    assert_eq!(rules(&out), ["wide-change"]);
}

#[test]
fn dual_change_does_not_fire_on_adding_or_removing_a_key_alone() {
    let repo = change_repo();
    // Added: `max_idle: 10`, the same value as the untouched `pool_size`.
    repo.file(
        "config/defaults.yaml",
        &defaults_with(3, "  pool_size: 10\n  max_idle: 10"),
    );
    let out = check_change(&repo).expect_code(0);
    assert_eq!(out.findings_of("dual-change"), Vec::<Value>::new());

    // Removed: `timeout_ms`.
    repo.file(
        "config/defaults.yaml",
        &DEFAULTS.replace("  timeout_ms: 2500\n", ""),
    );
    let out = check_change(&repo).expect_code(0);
    assert_eq!(out.findings_of("dual-change"), Vec::<Value>::new());

    // One removed and another added, with unrelated values: not a rename.
    repo.file("config/defaults.yaml", &defaults_with(4, "  retries: 3"));
    let out = check_change(&repo).expect_code(0);
    assert_eq!(out.findings_of("dual-change"), Vec::<Value>::new());
}

#[test]
fn dual_change_does_not_fire_on_adding_or_removing_a_flag_alone() {
    let repo = change_repo();
    repo.file("flags/new-search.yaml", NEW_SEARCH);
    let out = check_change(&repo).expect_code(0);
    assert_eq!(out.findings_of("dual-change"), Vec::<Value>::new());

    let repo = change_repo();
    repo.remove("flags/old-search.yaml");
    let out = check_change(&repo).expect_code(0);
    assert_eq!(out.findings_of("dual-change"), Vec::<Value>::new());
}

// ----------------------------------------------------------------- secret

/// The defaults plus four credentials. Columns: `password: ` ends at 12,
/// `deploy_token: ` at 16, `aws_access_key_id: ` at 21; the key block's
/// text starts on line 13 at column 5.
fn defaults_with_secrets() -> String {
    format!(
        "\
db:
  host: db.internal
  pool_size: 10
  timeout_ms: 2500
  password: {PASSWORD}
server:
  port: 8080
  log_level: info
  deploy_token: {GITHUB_TOKEN}
  aws_access_key_id: {AWS_KEY_ID}
tls:
  key: |
    -----BEGIN PRIVATE KEY-----
    {}
    {}
    -----END PRIVATE KEY-----
",
        PEM_BODY[0], PEM_BODY[1]
    )
}

#[test]
fn secret_fires_on_added_credentials() {
    let repo = change_repo();
    repo.file("config/defaults.yaml", &defaults_with_secrets());
    let out = check_change(&repo).expect_code(1);
    let found = out.findings_of("secret");
    assert_eq!(
        briefs(&found),
        [
            at(
                "secret",
                "error",
                "config/defaults.yaml",
                5,
                13,
                Some("/db/password")
            ),
            at(
                "secret",
                "error",
                "config/defaults.yaml",
                9,
                17,
                Some("/server/deploy_token")
            ),
            at(
                "secret",
                "error",
                "config/defaults.yaml",
                10,
                22,
                Some("/server/aws_access_key_id")
            ),
            at(
                "secret",
                "error",
                "config/defaults.yaml",
                13,
                5,
                Some("/tls/key")
            ),
        ]
    );
    let kinds: Vec<&str> = found.iter().map(message).collect();
    for (m, kind) in kinds
        .iter()
        .zip(["password", "GitHub token", "AWS access key", "private key"])
    {
        assert!(m.contains(kind), "`{kind}` in {m}");
    }
    assert_eq!(out.json()["summary"]["errors"], 4);
    // Nothing renamed.
    assert_eq!(out.findings_of("dual-change"), Vec::<Value>::new());
}

#[test]
fn secret_fires_in_a_new_untracked_file() {
    let repo = change_repo();
    // `password: ` ends at column 12 of line 3.
    repo.file(
        "config/ring/multi-tenant.yaml",
        &format!("server:\n  port: 7070\n  password: {PASSWORD}\n"),
    );
    let out = check_change(&repo).expect_code(1);
    assert_eq!(
        briefs(&out.findings_of("secret")),
        [at(
            "secret",
            "error",
            "config/ring/multi-tenant.yaml",
            3,
            13,
            Some("/server/password")
        )]
    );
}

/// Every piece of secret text that must never be printed.
fn raw_secrets() -> Vec<&'static str> {
    let mut raw = vec![PASSWORD, GITHUB_TOKEN, AWS_KEY_ID];
    raw.extend(PEM_BODY);
    raw
}

#[test]
fn secret_values_never_appear_unmasked_in_any_format() {
    let repo = TestRepo::new();
    // A layer schema that wants `db.password` to be a reference: its own
    // finding quotes the value, so it must be masked too.
    repo.file(
        "ringmaster.yaml",
        &format!(
            "{MANIFEST}schemas:\n  - files: \"config/**/*.yaml\"\n    schema: schemas/layer.schema.json\n"
        ),
    )
    .file(
        "schemas/layer.schema.json",
        r#"{
  "type": "object",
  "properties": {
    "db": {
      "type": "object",
      "properties": { "password": { "type": "string", "pattern": "^\\$\\{[A-Z_]+\\}$" } }
    }
  }
}
"#,
    )
    .file("config/defaults.yaml", DEFAULTS)
    .file("config/ring/dogfood.yaml", DOGFOOD)
    .file("config/ring/single-tenant.yaml", SINGLE_TENANT)
    .file("flags/old-search.yaml", OLD_SEARCH)
    .commit("base");
    repo.file("config/defaults.yaml", &defaults_with_secrets());
    for format in ["human", "json", "sarif", "github"] {
        let out = repo
            .run(&["check", "--base", "HEAD", "--format", format])
            .expect_code(1);
        assert!(out.stdout.contains("secret"), "{format}:\n{}", out.stdout);
        for raw in raw_secrets() {
            assert!(
                !out.stdout.contains(raw) && !out.stderr.contains(raw),
                "{format} prints `{raw}`:\n--- stdout\n{}\n--- stderr\n{}",
                out.stdout,
                out.stderr
            );
        }
    }
    // The schema finding on the password is there, masked.
    let out = check_change(&repo);
    let schema = out.findings_of("schema");
    assert_eq!(
        briefs(&schema),
        [at(
            "schema",
            "error",
            "config/defaults.yaml",
            5,
            13,
            Some("/db/password")
        )]
    );
    // And the human report with every detail on.
    let out = repo.run(&["check", "--base", "HEAD", "-v"]).expect_code(1);
    for raw in raw_secrets() {
        assert!(!out.all_output().contains(raw), "-v prints `{raw}`");
    }
}

#[test]
fn secret_does_not_fire_on_references_to_a_secret_store() {
    let repo = change_repo();
    repo.file(
        "config/defaults.yaml",
        &defaults_with(
            4,
            "  timeout_ms: 2500\n  password: ${DB_PASSWORD}\n  api_token: vault:secret/data/api#token\n  client_secret: $CLIENT_SECRET",
        ),
    );
    let out = check_change(&repo).expect_code(0);
    assert_eq!(out.findings_of("secret"), Vec::<Value>::new());
}

#[test]
fn secret_does_not_fire_on_a_value_already_there_at_the_base() {
    let repo = change_repo();
    // History already holds a token (a secret finding of its own day).
    let with_token = defaults_with(
        7,
        &format!("  log_level: info\n  deploy_token: {GITHUB_TOKEN}"),
    );
    repo.file("config/defaults.yaml", &with_token)
        .commit("a token, long ago");
    // Today's change edits another value of the same file (line 4).
    repo.file(
        "config/defaults.yaml",
        &with_token.replace("timeout_ms: 2500", "timeout_ms: 3000"),
    );
    let out = check_change(&repo).expect_code(0);
    assert_eq!(out.findings_of("secret"), Vec::<Value>::new());
    assert_eq!(rules(&out), ["wide-change"]);
}

#[test]
fn secret_does_not_fire_on_ordinary_values() {
    let repo = change_repo();
    repo.file(
        "config/defaults.yaml",
        &defaults_with(
            7,
            "  log_level: info
  image: registry.example.com/team/api:1.4.2
  checksum: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
  commit: 9fceb02d0ae598e95dc970b74767f19372d61af8
  request_id: 3f2b8c1e-9a4d-4e7b-8f6a-2c1d0e9b7a55
  endpoint: https://db.internal:5432/app
  owner: team-payments
  handler: MyServiceHandlerFactory
  log_format: \"%(asctime)s %(levelname)s %(message)s\"
  password_min_length: 12",
        ),
    );
    let out = check_change(&repo).expect_code(0);
    assert_eq!(out.findings_of("secret"), Vec::<Value>::new());
}

// ------------------------------------------------------------ wide-change

#[test]
fn wide_change_fires_when_a_defaults_edit_alters_classes_in_several_rings() {
    let repo = change_repo();
    // Line 4: every class inherits `db.timeout_ms`.
    repo.file(
        "config/defaults.yaml",
        &defaults_with(4, "  timeout_ms: 3000"),
    );
    let out = check_change(&repo).expect_code(0);
    let found = out.findings();
    assert_eq!(
        briefs(&found),
        [at(
            "wide-change",
            "notice",
            "config/defaults.yaml",
            4,
            1,
            None
        )]
    );
    let m = message(&found[0]);
    for ring in ["dogfood", "multi-tenant", "single-tenant"] {
        assert!(m.contains(ring), "`{ring}` in {m}");
    }
    assert_eq!(out.json()["summary"]["notices"], 1);
    assert_eq!(out.json()["summary"]["errors"], 0);
}

#[test]
fn wide_change_fires_on_a_flag_turned_on_in_two_rings() {
    let repo = change_repo();
    // Already on in dogfood; now on in single-tenant and multi-tenant too.
    repo.file(
        "flags/old-search.yaml",
        &format!("{OLD_SEARCH}  single-tenant: true\n  multi-tenant: true\n"),
    );
    let out = check_change(&repo).expect_code(0);
    let found = out.findings_of("wide-change");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["file"], "flags/old-search.yaml");
    assert_eq!(found[0]["severity"], "notice");
    let m = message(&found[0]);
    assert!(
        m.contains("single-tenant") && m.contains("multi-tenant"),
        "{m}"
    );
    assert!(!m.contains("dogfood"), "{m}");
}

#[test]
fn wide_change_does_not_fire_within_one_ring() {
    let repo = change_repo();
    // One class in one ring.
    assert_one_class_edit_is_silent(&repo);

    // Two classes (api-acme, api-globex), still one ring.
    repo.file(
        "config/ring/single-tenant.yaml",
        "server:\n  log_level: warn\n",
    );
    let out = check_change(&repo).expect_code(0);
    assert_eq!(out.findings(), Vec::<Value>::new());

    // A flag turned on for one more ring only.
    repo.file("config/ring/single-tenant.yaml", SINGLE_TENANT)
        .file(
            "flags/old-search.yaml",
            &format!("{OLD_SEARCH}  single-tenant: true\n"),
        );
    let out = check_change(&repo).expect_code(0);
    assert_eq!(out.findings(), Vec::<Value>::new());
}

#[test]
fn wide_change_severity_is_set_by_the_manifest() {
    let repo = change_repo();
    repo.file(
        "ringmaster.yaml",
        &format!("{MANIFEST}rules:\n  wide-change: error\n"),
    )
    .commit("wide changes are errors here");
    repo.file(
        "config/defaults.yaml",
        &defaults_with(4, "  timeout_ms: 3000"),
    );
    let out = check_change(&repo).expect_code(1);
    assert_eq!(
        briefs(&out.findings()),
        [at(
            "wide-change",
            "error",
            "config/defaults.yaml",
            4,
            1,
            None
        )]
    );
    // Human output too.
    repo.run(&["check", "--base", "HEAD"]).assert_code(1);

    let repo = change_repo();
    repo.file(
        "ringmaster.yaml",
        // Quoted: plain `off` is a YAML 1.1 boolean (`ambiguous-scalar`).
        &format!("{MANIFEST}rules:\n  wide-change: \"off\"\n"),
    )
    .commit("no wide-change");
    repo.file(
        "config/defaults.yaml",
        &defaults_with(4, "  timeout_ms: 3000"),
    );
    let out = check_change(&repo).expect_code(0);
    assert_eq!(out.findings(), Vec::<Value>::new());
}

// ----------------------------------------------------------------- --head

#[test]
fn head_checks_one_revision_against_another() {
    let repo = change_repo();
    let base = repo.rev_parse("HEAD");
    repo.file(
        "config/defaults.yaml",
        &defaults_with(3, "  max_pool_size: 10"),
    )
    .commit("rename pool_size");
    let head = repo.rev_parse("HEAD");
    // The working tree adds a secret: not part of HEAD~1..HEAD.
    repo.file("config/defaults.yaml", &defaults_with_secrets());
    let out = repo
        .run(&[
            "check", "--base", &base, "--head", &head, "--format", "json",
        ])
        .expect_code(0);
    assert_eq!(
        briefs(&out.findings_of("dual-change")),
        [at(
            "dual-change",
            "warning",
            "config/defaults.yaml",
            3,
            3,
            Some("/db/max_pool_size")
        )]
    );
    assert_eq!(out.findings_of("secret"), Vec::<Value>::new());
    // By name, and the other way round: the reverse of a rename is a rename.
    let out = repo
        .run(&[
            "check", "--base", "HEAD", "--head", "HEAD~1", "--format", "json",
        ])
        .expect_code(0);
    assert_eq!(
        briefs(&out.findings_of("dual-change")),
        [at(
            "dual-change",
            "warning",
            "config/defaults.yaml",
            3,
            3,
            Some("/db/pool_size")
        )]
    );
}

#[test]
fn head_finds_a_secret_committed_in_the_head_revision() {
    let repo = change_repo();
    repo.file("config/defaults.yaml", &defaults_with_secrets())
        .commit("oops");
    // The working tree has already removed it again: the commit still counts.
    repo.file("config/defaults.yaml", DEFAULTS);
    let out = repo
        .run(&[
            "check", "--base", "HEAD~1", "--head", "HEAD", "--format", "json",
        ])
        .expect_code(1);
    assert_eq!(out.findings_of("secret").len(), 4, "{}", out.stdout);
    for raw in raw_secrets() {
        assert!(!out.all_output().contains(raw), "prints `{raw}`");
    }
    // Against the working tree, the secrets are removed, not added.
    let out = check_change(&repo).expect_code(0);
    assert_eq!(out.findings_of("secret"), Vec::<Value>::new());
}

// ------------------------------------------------------------- exit codes

#[test]
fn exit_codes_follow_the_spec() {
    let repo = change_repo();
    // No change at all: 0.
    let out = check_change(&repo).expect_code(0);
    assert_eq!(out.findings(), Vec::<Value>::new());
    // Warnings and notices only: 0.
    repo.file(
        "config/defaults.yaml",
        &defaults_with(3, "  max_pool_size: 10"),
    );
    repo.run(&["check", "--base", "HEAD"]).assert_code(0);
    // An error: 1.
    repo.file("config/defaults.yaml", &defaults_with_secrets());
    repo.run(&["check", "--base", "HEAD"]).assert_code(1);
    // An unknown revision: 2, naming it.
    for args in [
        ["check", "--base", "no-such-rev", "--head", "HEAD"],
        ["check", "--base", "HEAD", "--head", "no-such-rev"],
    ] {
        let out = repo.run(&args).expect_code(2);
        out.assert_stderr_has("no-such-rev");
    }
    let out = repo.run(&["check", "--base", "no-such-rev"]).expect_code(2);
    out.assert_stderr_has("no-such-rev");
    // --staged reads the index; it does not combine with --base: 2.
    repo.run(&["check", "--staged", "--base", "HEAD"])
        .assert_code(2);
}

// ------------------------------------------- secret: edge cases (bugs found)

#[test]
fn secret_already_there_is_not_reported_again_when_a_list_item_is_inserted_before_it() {
    let repo = change_repo();
    // History already holds a URL with a password, second in a list (line 10).
    let mirrors = "mirrors:\n  - https://mirror1.internal/repo\n  - https://ci:Zx81hQm3pTq@mirror2.internal/repo\n";
    repo.file("config/defaults.yaml", &format!("{DEFAULTS}{mirrors}"))
        .commit("mirrors, long ago");
    // Today's change puts a plain mirror first: nothing secret is added, the
    // old URL only moves from /mirrors/1 to /mirrors/2.
    let with_first = |first: &str| {
        format!(
            "{DEFAULTS}{}",
            mirrors.replace("mirrors:\n", &format!("mirrors:\n  - {first}\n"))
        )
    };
    repo.file(
        "config/defaults.yaml",
        &with_first("https://mirror0.internal/repo"),
    );
    let out = check_change(&repo);
    assert_eq!(
        out.findings_of("secret"),
        Vec::<Value>::new(),
        "{}",
        out.stdout
    );
    out.assert_code(0);
    // A new URL with a password put first is reported, and only it (9:5).
    repo.file(
        "config/defaults.yaml",
        &with_first("https://ci:N3wPa55w0rdXy@mirror0.internal/repo"),
    );
    let out = check_change(&repo).expect_code(1);
    assert_eq!(
        briefs(&out.findings_of("secret")),
        [at(
            "secret",
            "error",
            "config/defaults.yaml",
            9,
            5,
            Some("/mirrors/0")
        )]
    );
}

#[test]
fn secret_written_with_yaml_escapes_is_masked_in_every_format() {
    let repo = change_repo();
    // In the file: `Tr0ub4dor\\3-horse-battery` (a double-quoted backslash)
    // and `it''s-a-long-secret` (a single-quoted quote); the values are
    // `Tr0ub4dor\3-horse-battery` and `it's-a-long-secret`.
    repo.file(
        "config/defaults.yaml",
        &defaults_with(
            4,
            "  timeout_ms: 2500\n  password: \"Tr0ub4dor\\\\3-horse-battery\"\n  admin_password: 'it''s-a-long-secret'",
        ),
    );
    let out = check_change(&repo).expect_code(1);
    // `password: ` ends at 12 on line 5, `admin_password: ` at 18 on line 6.
    assert_eq!(
        briefs(&out.findings_of("secret")),
        [
            at(
                "secret",
                "error",
                "config/defaults.yaml",
                5,
                13,
                Some("/db/password")
            ),
            at(
                "secret",
                "error",
                "config/defaults.yaml",
                6,
                19,
                Some("/db/admin_password")
            ),
        ]
    );
    for format in ["human", "json", "sarif", "github"] {
        let out = repo
            .run(&["check", "--base", "HEAD", "--format", format])
            .expect_code(1);
        for raw in ["3-horse-battery", "s-a-long-secret"] {
            assert!(
                !out.all_output().contains(raw),
                "{format} prints `{raw}`:\n--- stdout\n{}\n--- stderr\n{}",
                out.stdout,
                out.stderr
            );
        }
    }
}

#[test]
fn secret_fires_on_a_numeric_literal_password() {
    let repo = change_repo();
    // `password: 84736251` is a literal password; YAML reads it as a number.
    repo.file(
        "config/defaults.yaml",
        &defaults_with(4, "  timeout_ms: 2500\n  password: 84736251"),
    );
    let out = check_change(&repo);
    assert_eq!(
        briefs(&out.findings_of("secret")),
        [at(
            "secret",
            "error",
            "config/defaults.yaml",
            5,
            13,
            Some("/db/password")
        )],
        "{}",
        out.stdout
    );
    out.assert_code(1);
    for format in ["human", "json", "sarif", "github"] {
        let out = repo.run(&["check", "--base", "HEAD", "--format", format]);
        assert!(
            !out.all_output().contains("84736251"),
            "{format} prints the password:\n{}",
            out.stdout
        );
    }
}

#[test]
fn the_change_that_adopts_ringmaster_is_checked_against_an_empty_base() {
    let repo = TestRepo::new();
    repo.file("README.md", "# app\n")
        .commit("before ringmaster");
    repo.run(&["init"]).assert_code(0);
    repo.file(
        "config/defaults.yaml",
        "server:\n  port: 8080\nlogging:\n  level: info\n  password: \"Tr0ub4dor-3-horse\"\n",
    );
    let out = repo
        .run(&["check", "--base", "HEAD", "--format", "json"])
        .expect_code(1);
    let secrets = out.findings_of("secret");
    assert_eq!(secrets.len(), 1, "{}", out.stdout);
    assert_eq!(
        (secrets[0]["line"].as_u64(), secrets[0]["column"].as_u64()),
        (Some(5), Some(13))
    );
    assert!(!out.stdout.contains("Tr0ub4dor-3-horse"), "{}", out.stdout);
    // Nothing to compare rings or renames with at a base without a manifest.
    assert!(out.findings_of("wide-change").is_empty());
    assert!(out.findings_of("dual-change").is_empty());
}
