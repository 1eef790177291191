//! The trust boundary (issue 12): a pull request controls every file in the
//! config repo, so nothing it writes may make ringmaster read outside the
//! repo (`..`, absolute paths, symbolic links, `$ref`s), print what lies
//! there, or write through a planted link; and ringmaster's own state
//! (journal, lock) is one per repository, shared by linked worktrees.

use std::os::unix::fs::symlink;
use std::path::Path;

use crate::support::{Output, TestRepo, temp_dir};

/// What the file outside the repo holds: no output may ever carry it.
const OUTSIDE_SECRET: &str = "TOPSECRET-c0ffee-outside-the-repo";
/// The first field of /etc/passwd's first line.
const PASSWD_HEAD: &str = "root:x:0:0";

/// A config repo in `<tmp>/repo` with a file holding [`OUTSIDE_SECRET`] in
/// `<tmp>/outside/`, next to it (so `../outside/…` from the repo root
/// reaches it).
struct Sandbox {
    dir: tempfile::TempDir,
    repo: TestRepo,
}

impl Sandbox {
    fn new() -> Sandbox {
        let dir = temp_dir("ringmaster-boundary-");
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(outside.join("flags")).expect("outside dir");
        let secret = format!("token: {OUTSIDE_SECRET}\n");
        std::fs::write(outside.join("x.yaml"), &secret).expect("outside file");
        std::fs::write(outside.join("flags/leak.yaml"), &secret).expect("outside flag");
        std::fs::write(
            outside.join("schema.json"),
            format!("{{\"description\": \"{OUTSIDE_SECRET}\", \"type\": 7}}"),
        )
        .expect("outside schema");
        let repo = TestRepo::new();
        Sandbox { dir, repo }
    }

    fn outside(&self, rel: &str) -> std::path::PathBuf {
        self.dir.path().join("outside").join(rel)
    }

    /// `../outside/<rel>` as seen from `link_dir` inside the repo: the relative
    /// way out, through the repo's real location.
    fn link(&self, at: &str, target: &Path) {
        let full = self.repo.path().join(at);
        std::fs::create_dir_all(full.parent().expect("parent")).expect("dirs");
        symlink(target, &full).expect("symlink");
    }
}

/// Asserts nothing of the outside files reached stdout or stderr.
#[track_caller]
fn assert_leaks_nothing(out: &Output) {
    let all = out.all_output();
    assert!(
        !all.contains(OUTSIDE_SECRET) && !all.contains(PASSWD_HEAD),
        "the output carries content from outside the repo:\n{all}"
    );
}

/// Runs `check` in every format that reaches a pull request and asserts each
/// exits 2 and leaks nothing; returns the JSON findings.
#[track_caller]
fn check_every_format(repo: &TestRepo, extra: &[&str]) -> Vec<serde_json::Value> {
    for format in ["human", "github", "sarif"] {
        let mut args = vec!["check", "--format", format];
        args.extend_from_slice(extra);
        let out = repo.run(&args);
        out.assert_code(2);
        assert_leaks_nothing(&out);
    }
    let mut args = vec!["check", "--format", "json"];
    args.extend_from_slice(extra);
    let out = repo.run(&args);
    out.assert_code(2);
    assert_leaks_nothing(&out);
    out.findings()
}

/// A manifest whose hierarchy starts at `config/defaults.yaml`; `rest`
/// goes on from the next line (more layers, then the other keys).
fn manifest_after_defaults(rest: &str) -> String {
    format!("version: 1\nhierarchy:\n  - config/defaults.yaml\n{rest}")
}

fn layer_schema() -> &'static str {
    "{\"type\": \"object\"}\n"
}

#[test]
fn paths_outside_the_repo_are_manifest_errors_at_their_line_and_print_nothing_of_the_target() {
    let sandbox = Sandbox::new();
    let repo = &sandbox.repo;
    repo.file(
        "ringmaster.yaml",
        &manifest_after_defaults(
            "  - ../outside/x.yaml
  - /etc/passwd
host_classes:
  api: { role: api }
schemas:
  - files: \"config/**/*.yaml\"
    schema: ../../../../etc/passwd
  - files: \"config/**/*.json\"
    schema: /etc/passwd
effective:
  schema: config/../../outside/schema.json
metrics:
  kind: embedded
  file: ../outside/x.yaml
",
        ),
    )
    .file("config/defaults.yaml", "port: 80\n")
    .commit("hostile paths");
    let findings = check_every_format(repo, &[]);
    insta::assert_json_snapshot!("paths_outside_the_repo", findings);
    // The same verdict from the revision, and every reading command refuses.
    let at_head = check_every_format(repo, &["--head", "HEAD"]);
    assert_eq!(at_head, findings);
    for args in [
        &["render", "--class", "api"][..],
        &["render", "--class", "api", "--rev", "HEAD"],
        &["explain", "--class", "api", "token"],
        &["diff", "--base", "HEAD", "--head", "HEAD"],
    ] {
        let out = repo.run(args);
        out.assert_code(2);
        assert_leaks_nothing(&out);
        assert!(
            out.stderr.contains("ringmaster.yaml:4:5"),
            "{args:?} names the template's line: {}",
            out.stderr
        );
    }
}

#[test]
fn symlinks_to_outside_the_repo_are_never_read_from_the_working_tree_or_a_revision() {
    let sandbox = Sandbox::new();
    let repo = &sandbox.repo;
    repo.file(
        "ringmaster.yaml",
        &manifest_after_defaults(
            "  - config/class/{class}.yaml
host_classes:
  api: { role: api }
schemas:
  - files: \"config/**/*.yaml\"
    schema: schemas/layer.json
flags: flags/
",
        ),
    )
    .file("config/defaults.yaml", "port: 80\n")
    .file("schemas/layer.json", layer_schema());
    // A layer, a schema and the flags directory, each a link leading out:
    // relative through `..` and absolute.
    sandbox.link(
        "config/class/api.yaml",
        Path::new("../../../outside/x.yaml"),
    );
    sandbox.link("schemas/layer.json.link", &sandbox.outside("schema.json"));
    sandbox.link("flags", &sandbox.outside("flags"));
    repo.commit("links out");
    for extra in [&[][..], &["--head", "HEAD"]] {
        let findings = check_every_format(repo, extra);
        let messages: Vec<(u64, &str)> = findings
            .iter()
            .map(|f| {
                assert_eq!(f["rule"], "manifest", "{f}");
                assert_eq!(f["file"], "ringmaster.yaml", "{f}");
                (
                    f["line"].as_u64().unwrap_or_default(),
                    f["message"].as_str().unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(messages.len(), 2, "{findings:#?}");
        assert_eq!(messages[0].0, 4, "the template's line: {findings:#?}");
        assert!(messages[0].1.contains("config/class/api.yaml"));
        assert!(messages[0].1.contains("symbolic link"));
        assert_eq!(messages[1].0, 10, "the `flags:` line: {findings:#?}");
    }
    for rev in [&[][..], &["--rev", "HEAD"]] {
        let mut args = vec!["render", "--class", "api"];
        args.extend_from_slice(rev);
        let out = repo.run(&args);
        out.assert_code(2);
        assert_leaks_nothing(&out);
    }
    // Links out where ringmaster looks for files (a flag file, a ring file,
    // a file a template's glob covers) are named at the line that looks there.
    repo.file(
        "ringmaster.yaml",
        &manifest_after_defaults(
            "  - config/role/{role}.yaml
host_classes:
  api: { role: api, ring: dogfood }
flags: flags/
rings: rings/
",
        ),
    );
    std::fs::remove_file(repo.path().join("flags")).expect("remove the flags link");
    repo.file(
        "rings/dogfood.yaml",
        "name: dogfood\norder: 1\nsoak: 1m\ninterval: 30s\ngates: []\n",
    );
    sandbox.link("flags/leak.yaml", &sandbox.outside("x.yaml"));
    sandbox.link("rings/leak.yaml", Path::new("/etc/passwd"));
    sandbox.link("config/role/web.yaml", Path::new("../../../outside/x.yaml"));
    repo.commit("links out where ringmaster looks");
    for extra in [&[][..], &["--head", "HEAD"]] {
        let findings = check_every_format(repo, extra);
        let at: Vec<(Option<u64>, Option<&str>)> = findings
            .iter()
            .map(|f| (f["line"].as_u64(), f["rule"].as_str()))
            .collect();
        assert_eq!(
            at,
            [
                (Some(4), Some("manifest")),
                (Some(7), Some("manifest")),
                (Some(8), Some("manifest"))
            ],
            "{findings:#?}"
        );
    }
    // A schema named by the manifest that is itself a link out.
    repo.file(
        "ringmaster.yaml",
        "\
version: 1
schemas:
  - files: \"config/defaults.yaml\"
    schema: schemas/layer.json.link
",
    );
    let findings = check_every_format(repo, &[]);
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(
        (findings[0]["rule"].as_str(), findings[0]["line"].as_u64()),
        (Some("manifest"), Some(4))
    );
}

#[test]
fn a_schema_ref_to_a_file_outside_the_repo_is_never_read() {
    let sandbox = Sandbox::new();
    let repo = &sandbox.repo;
    repo.file(
        "ringmaster.yaml",
        "\
version: 1
schemas:
  - files: \"config/a.yaml\"
    schema: schemas/climbs.json
  - files: \"config/b.yaml\"
    schema: schemas/linked.json
",
    )
    .file("config/a.yaml", "port: 80\n")
    .file("config/b.yaml", "port: 80\n")
    .file("schemas/climbs.json", "{\"$ref\": \"../../etc/passwd\"}\n")
    .file("schemas/linked.json", "{\"$ref\": \"outside.json\"}\n");
    sandbox.link("schemas/outside.json", &sandbox.outside("schema.json"));
    sandbox.link("schemas/passwd.json", Path::new("/etc/passwd"));
    repo.file("schemas/passwd-ref.json", "{\"$ref\": \"passwd.json\"}\n")
        .file(
            "ringmaster.yaml",
            "\
version: 1
schemas:
  - files: \"config/a.yaml\"
    schema: schemas/climbs.json
  - files: \"config/b.yaml\"
    schema: schemas/linked.json
  - files: \"config/b.yaml\"
    schema: schemas/passwd-ref.json
",
        )
        .commit("refs out");
    for extra in [&[][..], &["--head", "HEAD"]] {
        for format in ["human", "json", "github", "sarif"] {
            let mut args = vec!["check", "--format", format];
            args.extend_from_slice(extra);
            let out = repo.run(&args);
            out.assert_code(1);
            assert_leaks_nothing(&out);
        }
        let mut args = vec!["check", "--format", "json"];
        args.extend_from_slice(extra);
        let out = repo.run(&args);
        let invalid = out.findings_of("schema-invalid");
        let files: Vec<&str> = invalid.iter().filter_map(|f| f["file"].as_str()).collect();
        assert_eq!(
            files,
            [
                "schemas/climbs.json",
                "schemas/linked.json",
                "schemas/passwd-ref.json"
            ],
            "{}",
            out.stdout
        );
        for f in &invalid {
            let message = f["message"].as_str().unwrap_or_default();
            assert!(message.contains("outside the repository"), "{message}");
        }
        // Named at the `$ref` itself.
        assert_eq!(
            (invalid[0]["line"].as_u64(), invalid[0]["column"].as_u64()),
            (Some(1), Some(10)),
            "{}",
            invalid[0]
        );
    }
}

#[test]
fn symlinks_inside_the_repo_are_listed_and_merged_alike_in_the_working_tree_and_git() {
    let repo = TestRepo::new();
    repo.file(
        "ringmaster.yaml",
        &manifest_after_defaults(
            "  - config/class/{class}.yaml
host_classes:
  api: { role: api }
  web: { role: web }
schemas:
  - files: \"config/**/*.yaml\"
    schema: schemas/layer.json
",
        ),
    )
    .file("config/defaults.yaml", "port: 80\n")
    .file("config/class/api.yaml", "port: 8080\n")
    .file(
        "schemas/layer.json",
        "{\"type\": \"object\", \"properties\": {\"port\": {\"type\": \"integer\"}}}\n",
    );
    // `web` shares `api`'s layer through a link inside the repo.
    symlink("api.yaml", repo.path().join("config/class/web.yaml")).expect("symlink");
    repo.commit("a shared layer");
    let from_tree = repo.run(&["render", "--class", "web", "--format", "json"]);
    from_tree.assert_code(0);
    let from_git = repo.run(&[
        "render", "--class", "web", "--format", "json", "--rev", "HEAD",
    ]);
    from_git.assert_code(0);
    assert_eq!(from_tree.json(), serde_json::json!({"port": 8080}));
    assert_eq!(from_git.json(), from_tree.json());
    // `check` sees it as a file in both views: a bad value in the target is
    // reported once for each name it is read under.
    repo.file("config/class/api.yaml", "port: eighty\n")
        .commit("bad port");
    let tree = repo.run(&["check", "--format", "json"]);
    let git = repo.run(&["check", "--format", "json", "--head", "HEAD"]);
    tree.assert_code(1);
    assert_eq!(tree.json(), git.json());
    let files: std::collections::BTreeSet<String> = tree
        .findings_of("schema")
        .iter()
        .filter(|f| f["class"].is_null())
        .filter_map(|f| f["file"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        files.into_iter().collect::<Vec<_>>(),
        ["config/class/api.yaml", "config/class/web.yaml"]
    );
}

#[test]
fn fact_values_that_cannot_form_a_path_are_manifest_errors_naming_class_and_fact() {
    let long = "x".repeat(256);
    let repo = TestRepo::new();
    repo.file(
        "ringmaster.yaml",
        &manifest_after_defaults(&format!(
            "  - config/role/{{role}}.yaml
  - config/region/{{region}}.yaml
host_classes:
  nul: {{ role: \"ap\\0i\", region: eu }}
  slash: {{ role: \"api/../../outside\", region: eu }}
  dots: {{ role: \"..\", region: eu }}
  empty: {{ role: \"\", region: eu }}
  long: {{ role: api, region: {long} }}
  fine: {{ role: api, region: eu, unused: \"a/b\" }}
"
        )),
    )
    .file("config/defaults.yaml", "port: 80\n")
    .file("config/role/api.yaml", "port: 81\n")
    .commit("hostile facts");
    let tree = repo.run(&["check", "--format", "json"]);
    tree.assert_code(2);
    let git = repo.run(&["check", "--format", "json", "--head", "HEAD"]);
    git.assert_code(2);
    assert_eq!(
        tree.json(),
        git.json(),
        "same verdict from the tree and a revision"
    );
    insta::assert_json_snapshot!("fact_values_that_cannot_form_a_path", tree.findings());
    for rev in [&[][..], &["--rev", "HEAD"]] {
        let mut args = vec!["render", "--class", "slash"];
        args.extend_from_slice(rev);
        let out = repo.run(&args);
        out.assert_code(2);
        assert!(out.stderr.contains("fact `role`"), "{}", out.stderr);
    }
}

/// A repo scaffolded by `ringmaster init`, committed: rings, classes, flags.
fn initialised() -> TestRepo {
    let repo = TestRepo::new();
    repo.run(&["init"]).assert_code(0);
    repo.commit("init");
    repo
}

#[test]
fn linked_worktrees_share_one_journal_and_one_lock() {
    let repo = initialised();
    let linked = temp_dir("ringmaster-linked-");
    let linked_path = linked.path().join("second");
    repo.git(&[
        "worktree",
        "add",
        "-q",
        "--detach",
        linked_path.to_str().expect("utf-8 path"),
    ]);
    let run_linked = |args: &[&str]| {
        crate::support::run_at(
            &linked_path,
            &[
                &["--repo", linked_path.to_str().expect("utf-8 path")][..],
                args,
            ]
            .concat(),
        )
    };
    // A rollout started in the main checkout is the linked one's rollout too.
    let started = repo.run(&["rollout", "start", "--format", "json"]);
    started.assert_code(0);
    let id = started.json()["id"].as_str().expect("an id").to_owned();
    let status = run_linked(&["rollout", "status", "--format", "json"]);
    status.assert_code(0);
    assert_eq!(status.json()["id"], id.as_str());
    let verify = run_linked(&["audit", "verify", "--format", "json"]);
    verify.assert_code(0);
    assert_eq!(verify.json()["entries"], 1);
    // The driver lock held in the main checkout stops a driver in the linked one.
    let lock_path = repo.path().join(".git/ringmaster/driver.lock");
    let lock = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .expect("open the lock file");
    lock.lock().expect("hold the lock");
    std::fs::write(
        &lock_path,
        r#"{"pid":1,"host":"elsewhere","actor":"main-checkout","since":"2026-01-01T00:00:00Z"}"#,
    )
    .expect("say who holds it");
    let second = run_linked(&["rollout", "start", "--supersede"]);
    second.assert_code(3);
    assert!(second.stderr.contains("main-checkout"), "{}", second.stderr);
    drop(lock);
    assert!(
        !repo
            .path()
            .join(".git/worktrees/second/ringmaster")
            .exists(),
        "the linked worktree has no state of its own"
    );
}

#[test]
fn init_never_writes_through_a_symlink_and_names_it() {
    let sandbox = Sandbox::new();
    let victim = sandbox.outside("victim.yaml");
    // A dangling link where init writes a file: following it would create
    // the file outside.
    let target = temp_dir("ringmaster-init-");
    std::fs::create_dir_all(target.path().join("config")).expect("config dir");
    symlink(&victim, target.path().join("config/defaults.yaml")).expect("symlink");
    let out = crate::support::run_at(target.path(), &["init"]);
    out.assert_code(2);
    out.assert_stderr_has("config/defaults.yaml");
    assert!(out.stderr.contains("symbolic link"), "{}", out.stderr);
    assert!(!victim.exists(), "init wrote through the link");
    assert!(
        !target.path().join("ringmaster.yaml").exists(),
        "nothing is written when init refuses"
    );
    // A linked directory on the way is refused the same way.
    std::fs::remove_file(target.path().join("config/defaults.yaml")).expect("remove link");
    symlink(sandbox.outside(""), target.path().join("schemas")).expect("symlink");
    let out = crate::support::run_at(target.path(), &["init"]);
    out.assert_code(2);
    assert!(out.stderr.contains("schemas"), "{}", out.stderr);
    assert!(!sandbox.outside("layer.schema.json").exists());
}

#[test]
fn state_directory_errors_name_the_file_and_exit_3() {
    let repo = initialised();
    // A file where the state directory goes: every write and read fails
    // (root ignores permission bits, so a read-only directory proves nothing).
    std::fs::write(repo.path().join(".git/ringmaster"), "not a directory").expect("plant");
    for args in [
        &["rollout", "start"][..],
        &["rollout", "status"],
        &["audit", "verify"],
    ] {
        let out = repo.run(args);
        out.assert_code(3);
        assert!(
            out.stderr.contains(".git/ringmaster"),
            "{args:?} names the file: {}",
            out.stderr
        );
    }
}

#[test]
fn init_names_a_file_it_cannot_create_and_exits_3() {
    let target = temp_dir("ringmaster-init-");
    // A file where init's `config/` directory goes.
    std::fs::write(target.path().join("config"), "in the way").expect("plant");
    let out = crate::support::run_at(target.path(), &["init"]);
    out.assert_code(3);
    assert!(out.stderr.contains("config"), "{}", out.stderr);
    assert!(out.stderr.contains("cannot create"), "{}", out.stderr);
    // No manifest is left behind, so init can run again once the way is clear.
    assert!(!target.path().join("ringmaster.yaml").exists());
    std::fs::remove_file(target.path().join("config")).expect("clear the way");
    crate::support::run_at(target.path(), &["init"]).assert_code(0);
}

#[test]
fn a_tree_or_blob_revision_is_named_as_such() {
    let repo = initialised();
    let blob = repo.rev_parse("HEAD:ringmaster.yaml");
    for (rev, kind) in [("HEAD^{tree}", "tree"), (blob.as_str(), "blob")] {
        for args in [
            &["render", "--class", "app-dogfood", "--rev", rev][..],
            &["check", "--head", rev],
            &["diff", "--base", rev, "--head", "HEAD"],
            &["rollout", "start", "--rev", rev],
        ] {
            let out = repo.run(args);
            out.assert_code(2);
            assert!(
                out.stderr.contains(&format!("is a {kind}, not a commit")),
                "{args:?}: {}",
                out.stderr
            );
        }
    }
}

#[test]
fn a_manifest_that_is_a_link_out_of_the_repo_is_never_read() {
    let sandbox = Sandbox::new();
    let repo = &sandbox.repo;
    sandbox.link("ringmaster.yaml", Path::new("/etc/passwd"));
    repo.commit("a manifest link");
    for extra in [&[][..], &["--head", "HEAD"]] {
        let findings = check_every_format(repo, extra);
        assert_eq!(findings.len(), 1, "{findings:#?}");
        let message = findings[0]["message"].as_str().unwrap_or_default();
        assert!(message.contains("outside the repository"), "{message}");
    }
}
