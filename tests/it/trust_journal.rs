//! Trust under hostile input, for the journal and the delivery targets
//! (issue 12, items 4, 6 and 14): a journal that does not verify is never
//! acted on or laundered, an interrupted append is finished rather than
//! called tampering, rollout ids stay unique across a restarted journal,
//! a `dir` delivery never destroys what it did not write, and a completed
//! rollout's ring can be rolled back.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use crate::etcd::EtcdServer;
use crate::support::{BIN, Output, TestRepo};

/// Three rings of one class each (dogfood: a, single: b, multi: c), one
/// embedded gate per ring, one 30 s round to promote; `approval` makes
/// single and multi need rm@example.com; `deliver` is the manifest's
/// `deliver:` section ("" for git refs); `dogfood_error` breaches above 0.01.
fn rollout_repo(dogfood_error: f64, approval: bool, deliver: &str) -> TestRepo {
    let repo = TestRepo::new();
    repo.file(
        "ringmaster.yaml",
        &format!(
            "version: 1\nhierarchy:\n  - config/defaults.yaml\nhost_classes:\n  a: {{ring: dogfood}}\n  b: {{ring: single}}\n  c: {{ring: multi}}\nrings: rings/\nmetrics:\n  kind: embedded\n  file: metrics.yaml\n{deliver}"
        ),
    )
    .file("config/defaults.yaml", "port: 8080\n")
    .file(".gitignore", "out/\n");
    for (order, ring) in ["dogfood", "single", "multi"].iter().enumerate() {
        let approval = if approval && *ring != "dogfood" {
            "approval:\n  required: true\n  approvers: [rm@example.com]\n"
        } else {
            ""
        };
        repo.file(
            &format!("rings/{ring}.yaml"),
            &format!(
                "name: {ring}\norder: {}\nsoak: 30s\ninterval: 30s\n{approval}gates:\n  - name: errors\n    query: errors{{ring=\"{ring}\"}}\n    max: 0.01\ninconclusive_limit: 2\non_breach: rollback\n",
                order + 1
            ),
        );
    }
    repo.file(
        "metrics.yaml",
        &format!(
            "series:\n  'errors{{ring=\"dogfood\"}}': [[0, {dogfood_error}]]\n  'errors{{ring=\"single\"}}': [[0, 0.001]]\n  'errors{{ring=\"multi\"}}': [[0, 0.001]]\n"
        ),
    );
    commit_as_dev(&repo, "config");
    repo
}

fn commit_as_dev(repo: &TestRepo, message: &str) {
    repo.git_env(&["add", "-A"], &[]);
    repo.git_env(
        &["commit", "-qm", message],
        &[
            ("GIT_AUTHOR_EMAIL", "dev@example.com"),
            ("GIT_COMMITTER_EMAIL", "dev@example.com"),
        ],
    );
}

fn start(repo: &TestRepo) -> String {
    let out = repo.run(&["rollout", "start", "--format", "json"]);
    out.assert_code(0);
    out.json()["id"].as_str().unwrap().to_owned()
}

/// `rollout run ARGS…` on the simulated clock.
fn drive(repo: &TestRepo, args: &[&str]) -> Output {
    let mut full = vec!["rollout", "run"];
    full.extend_from_slice(args);
    repo.run_env(&full, &[("RINGMASTER_CLOCK", "simulated")])
}

fn journal_path(repo: &TestRepo) -> PathBuf {
    repo.path().join(".git/ringmaster/journal.jsonl")
}

fn head_path(repo: &TestRepo) -> PathBuf {
    repo.path().join(".git/ringmaster/journal.head")
}

fn journal_lines(repo: &TestRepo) -> Vec<String> {
    std::fs::read_to_string(journal_path(repo))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn write_journal(repo: &TestRepo, lines: &[String]) {
    std::fs::write(journal_path(repo), lines.join("\n") + "\n").unwrap();
}

fn combined(out: &Output) -> String {
    format!("{}{}", out.stdout, out.stderr)
}

fn ref_of(repo: &TestRepo, name: &str) -> Option<String> {
    let out = Command::new("git")
        .args(["rev-parse", "--verify", "-q", name])
        .current_dir(repo.path())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .unwrap();
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Every state-changing rollout command, as `rm@example.com`.
fn state_changing(id: &str) -> Vec<Vec<String>> {
    let ids = |args: &[&str]| -> Vec<String> {
        args.iter()
            .map(|a| a.replace("ID", id))
            .chain(["--as".to_owned(), "rm@example.com".to_owned()])
            .collect()
    };
    vec![
        ids(&["rollout", "run", "ID"]),
        ids(&["rollout", "approve", "ID", "--ring", "single"]),
        ids(&["rollout", "halt", "ID", "--reason", "x"]),
        ids(&["rollout", "rollback", "ID", "--ring", "dogfood"]),
        ids(&["rollout", "resume", "ID"]),
        ids(&["rollout", "freeze", "--reason", "x"]),
        ids(&["rollout", "unfreeze"]),
        ids(&["rollout", "start", "--supersede"]),
    ]
}

// ------------------------------------------------------------ item 4

#[test]
fn a_journal_that_fails_verification_is_refused_by_every_state_changing_command_and_never_laundered()
 {
    let repo = rollout_repo(0.001, true, "");
    let id = start(&repo);
    // dogfood goes out; single waits for rm@example.com's approval.
    drive(&repo, &[]).assert_code(4);
    assert_eq!(ref_of(&repo, "refs/rings/single"), None);
    let intact = journal_lines(&repo);
    let head_before = std::fs::read_to_string(head_path(&repo)).unwrap();

    // A forged approval: a well-formed entry with a made-up hash.
    let last: Value = serde_json::from_str(intact.last().unwrap()).unwrap();
    let seq = last["seq"].as_u64().unwrap() + 1;
    let forged = serde_json::json!({
        "seq": seq, "at": "2026-11-22T10:00:00Z", "actor": "rm@example.com",
        "rollout": id, "event": {"kind": "approved", "ring": "single", "by": "rm@example.com"},
        "prev": last["hash"], "hash": "f".repeat(64),
    });
    let mut lines = intact.clone();
    lines.push(forged.to_string());
    write_journal(&repo, &lines);

    for args in state_changing(&id) {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = repo.run_env(&args, &[("RINGMASTER_CLOCK", "simulated")]);
        out.assert_code(2);
        assert!(
            out.stderr.contains(&format!("entry {seq}")) && out.stderr.contains("audit verify"),
            "{args:?} names the entry and what to do:\n{}",
            out.stderr
        );
    }
    // Nothing was delivered on the forged approval, nothing was appended,
    // and the head was not rewritten to make the forgery verify.
    assert_eq!(ref_of(&repo, "refs/rings/single"), None);
    assert_eq!(journal_lines(&repo), lines);
    assert_eq!(
        std::fs::read_to_string(head_path(&repo)).unwrap(),
        head_before
    );
    repo.run(&["audit", "verify"]).assert_code(1);
    // Read-only commands still work, to debug it, with a warning.
    let status = repo.run(&["rollout", "status", &id]);
    status.assert_code(0);
    status.assert_stderr_has("does not verify");
    repo.run(&["rollout", "timeline", &id]).assert_code(0);

    // A removed entry and a duplicated one are refused the same way.
    let mut removed = intact.clone();
    removed.remove(2);
    write_journal(&repo, &removed);
    let out = drive(&repo, &[]);
    out.assert_code(2);
    assert!(out.stderr.contains("missing"), "{}", out.stderr);
    let mut duplicated = intact.clone();
    duplicated.insert(3, intact[2].clone());
    write_journal(&repo, &duplicated);
    let approve_single = || {
        repo.run(&[
            "rollout",
            "approve",
            &id,
            "--ring",
            "single",
            "--as",
            "rm@example.com",
        ])
    };
    let out = approve_single();
    out.assert_code(2);
    assert!(out.stderr.contains("duplicated"), "{}", out.stderr);
    assert_eq!(ref_of(&repo, "refs/rings/single"), None);

    // Put back, the journal is accepted again and the rollout goes on.
    write_journal(&repo, &intact);
    repo.run(&["audit", "verify"]).assert_code(0);
    approve_single().assert_code(0);
}

#[test]
fn an_etcd_journal_that_fails_verification_is_refused_and_never_laundered() {
    let etcd = EtcdServer::start();
    let url = etcd.url();
    let repo = rollout_repo(
        0.001,
        true,
        &format!("state:\n  kind: etcd\n  endpoints: [{url}]\n  prefix: /tj\n"),
    );
    let id = start(&repo);
    drive(&repo, &[]).assert_code(4);
    assert_eq!(ref_of(&repo, "refs/rings/single"), None);
    let keys = etcd.keys(&format!("/tj/journal/{id}/"));
    let head_before = etcd.get("/tj/journal-head").unwrap();
    // A forged approval, written straight into etcd at the next key.
    let last: Value = serde_json::from_str(&etcd.get(keys.last().unwrap()).unwrap()).unwrap();
    let seq = last["seq"].as_u64().unwrap() + 1;
    let forged = serde_json::json!({
        "seq": seq, "at": "2026-11-22T10:00:00Z", "actor": "rm@example.com",
        "rollout": id, "event": {"kind": "approved", "ring": "single", "by": "rm@example.com"},
        "prev": last["hash"], "hash": "f".repeat(64),
    });
    let key = format!("/tj/journal/{id}/{seq:020}");
    etcd.ctl_ok(&["put", &key, &forged.to_string()]);
    for args in [
        vec!["rollout", "run"],
        vec!["rollout", "freeze", "--reason", "x"],
        vec!["rollout", "halt", &id, "--reason", "x"],
    ] {
        let out = repo.run_env(&args, &[("RINGMASTER_CLOCK", "simulated")]);
        out.assert_code(2);
        assert!(
            out.stderr.contains(&format!("entry {seq}")),
            "{args:?}:\n{}",
            out.stderr
        );
    }
    assert_eq!(ref_of(&repo, "refs/rings/single"), None);
    assert_eq!(etcd.get("/tj/journal-head").unwrap(), head_before);
    assert_eq!(
        etcd.keys(&format!("/tj/journal/{id}/")).len(),
        keys.len() + 1
    );
    repo.run(&["audit", "verify"]).assert_code(1);
}

#[test]
fn an_append_cut_short_is_finished_as_an_interrupted_write_never_called_tampering() {
    let repo = TestRepo::new();
    repo.file("README", "x\n").commit("repo");
    repo.run(&["rollout", "freeze", "--reason", "one", "--as", "a"])
        .assert_code(0);
    // A crash after the entry was written but before the head moved on.
    let head = std::fs::read(head_path(&repo)).unwrap();
    repo.run(&["rollout", "unfreeze", "--as", "a"])
        .assert_code(0);
    std::fs::write(head_path(&repo), &head).unwrap();
    // And a later append torn by a full disk: half a line, no newline.
    let mut text = std::fs::read_to_string(journal_path(&repo)).unwrap();
    let whole = text.clone();
    text.push_str(&whole.lines().last().unwrap()[..40]);
    std::fs::write(journal_path(&repo), &text).unwrap();
    std::fs::write(repo.path().join(".git/ringmaster/journal.head.tmp"), "{").unwrap();

    let verify = repo.run(&["audit", "verify", "--format", "json"]);
    verify.assert_code(0);
    let report = verify.json();
    assert_eq!(report["intact"], true, "{report}");
    assert!(
        report["interrupted"]
            .as_str()
            .is_some_and(|s| s.contains("interrupted write")),
        "{report}"
    );
    // The next state-changing command finishes it, and goes on.
    let out = repo.run(&["rollout", "freeze", "--reason", "two", "--as", "a"]);
    out.assert_code(0);
    assert!(out.stderr.contains("interrupted write"), "{}", out.stderr);
    let verify = repo.run(&["audit", "verify"]);
    verify.assert_code(0);
    verify.assert_stdout_has("3 entries, intact");
    assert!(
        std::fs::read_to_string(journal_path(&repo))
            .unwrap()
            .starts_with(&whole),
        "the two acknowledged entries are kept"
    );
    let left: Vec<String> = std::fs::read_dir(repo.path().join(".git/ringmaster"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("tmp"))
        .collect();
    assert_eq!(left, Vec::<String>::new(), "no temporary file is left");
}

#[test]
fn a_journal_started_afresh_never_reuses_a_rollout_id_the_delivery_target_recorded() {
    let repo = rollout_repo(0.001, false, "");
    let first = start(&repo);
    drive(&repo, &[]).assert_code(0);
    // The journal's entries gone, its head kept: truncation, refused.
    std::fs::remove_file(journal_path(&repo)).unwrap();
    let out = repo.run(&["rollout", "start"]);
    out.assert_code(2);
    assert!(out.stderr.contains("truncated"), "{}", out.stderr);
    // Both moved away: a fresh journal, but the refs remember the id.
    std::fs::remove_file(head_path(&repo)).unwrap();
    let second = start(&repo);
    assert_ne!(
        second, first,
        "a delivered rollout's id is never handed out again"
    );
    assert!(second.ends_with("-0002"), "{second}");
}

// ------------------------------------------------------------ item 6

#[test]
fn a_dir_delivery_inside_the_repos_tracked_files_is_refused_before_anything_is_written() {
    let repo = rollout_repo(0.001, false, "deliver:\n  kind: dir\n  path: .\n");
    // A ring named `config`: its directory is the repo's own config/.
    repo.file(
        "rings/dogfood.yaml",
        "name: config\norder: 1\nsoak: 30s\ninterval: 30s\ngates:\n  - name: errors\n    query: errors{ring=\"dogfood\"}\n    max: 0.01\n",
    )
    .file(
        "ringmaster.yaml",
        &repo
            .read("ringmaster.yaml")
            .replace("a: {ring: dogfood}", "a: {ring: config}"),
    );
    commit_as_dev(&repo, "ring config");
    start(&repo);
    let out = drive(&repo, &[]);
    out.assert_code(2);
    assert!(
        out.stderr.contains("deliver.path") && out.stderr.contains("tracks"),
        "{}",
        out.stderr
    );
    assert_eq!(repo.read("config/defaults.yaml"), "port: 8080\n");
    assert!(!repo.path().join("config/a.yaml").exists());
    assert!(!repo.path().join("config/REVISION").exists());
}

const SIMULATED: &[(&str, &str)] = &[("RINGMASTER_CLOCK", "simulated")];

/// The binary on `repo` with `args`, started by a shell under `umask 022`
/// (what a typical user has), git configuration isolated, plus `envs`; it
/// must exit with `code`.
fn run_with_umask_022(repo: &TestRepo, args: &[&str], envs: &[(&str, &str)], code: i32) {
    let run = Command::new("sh")
        .args(["-c", "umask 022 && exec \"$0\" \"$@\""])
        .arg(BIN)
        .args(["--repo"])
        .arg(repo.path())
        .args(args)
        .envs(envs.iter().copied())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .unwrap();
    assert_eq!(
        run.status.code(),
        Some(code),
        "{args:?}: {}",
        String::from_utf8_lossy(&run.stderr)
    );
}

#[test]
fn a_dir_delivery_removes_only_what_it_wrote_and_writes_with_the_users_umask() {
    use std::os::unix::fs::PermissionsExt as _;
    let repo = rollout_repo(0.5, false, "deliver:\n  kind: dir\n  path: out\n");
    // Someone else's file in the ring's directory, before any delivery.
    repo.file("out/dogfood/agent-local.yaml", "mine: true\n");
    start(&repo);
    // dogfood is delivered, breaches, and is rolled back (withdrawn).
    run_with_umask_022(&repo, &["rollout", "run"], SIMULATED, 1);
    assert_eq!(repo.read("out/dogfood/agent-local.yaml"), "mine: true\n");
    assert!(!repo.path().join("out/dogfood/a.yaml").exists());
    assert!(!repo.path().join("out/dogfood/REVISION").exists());

    // A healthy revision goes out: readable by an agent of another user.
    repo.file(
        "metrics.yaml",
        "series:\n  'errors{ring=\"dogfood\"}': [[0, 0.001]]\n  'errors{ring=\"single\"}': [[0, 0.001]]\n  'errors{ring=\"multi\"}': [[0, 0.001]]\n",
    );
    commit_as_dev(&repo, "healthy");
    run_with_umask_022(&repo, &["rollout", "start"], &[], 0);
    run_with_umask_022(&repo, &["rollout", "run"], SIMULATED, 0);
    for file in [
        "out/dogfood/a.yaml",
        "out/dogfood/REVISION",
        "out/multi/c.yaml",
    ] {
        let mode = std::fs::metadata(repo.path().join(file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o644, "{file}");
    }
    assert_eq!(repo.read("out/dogfood/agent-local.yaml"), "mine: true\n");
    assert_eq!(repo.read("out/dogfood/a.yaml"), "port: 8080\n");
}

// ------------------------------------------------------------ item 14

#[test]
fn a_completed_rollouts_ring_rolls_back_to_its_previous_revision_and_status_shows_it() {
    let repo = rollout_repo(0.001, false, "");
    start(&repo);
    drive(&repo, &[]).assert_code(0);
    let good = repo.rev_parse("HEAD");
    repo.file("config/defaults.yaml", "port: 9191\n");
    commit_as_dev(&repo, "new port");
    let bad = repo.rev_parse("HEAD");
    let second = start(&repo);
    drive(&repo, &[]).assert_code(0);
    assert_eq!(ref_of(&repo, "refs/rings/single"), Some(bad.clone()));

    let out = repo.run(&[
        "rollout",
        "rollback",
        &second,
        "--ring",
        "single",
        "--as",
        "rm@example.com",
    ]);
    out.assert_code(0);
    assert_eq!(ref_of(&repo, "refs/rings/single"), Some(good.clone()));
    assert_eq!(ref_of(&repo, "refs/rings/multi"), Some(bad.clone()));
    let status = repo.run(&["rollout", "status", &second, "--format", "json"]);
    status.assert_code(0);
    let ring = &status.json()["rings"][1];
    assert_eq!(ring["name"], "single");
    assert_eq!(ring["state"], "rolled-back");
    assert_eq!(ring["current"], good.as_str(), "{ring}");
    assert_eq!(ring["revision"], good.as_str(), "what the ring holds now");
    assert_eq!(status.json()["revision"], bad.as_str(), "the rollout's own");
    let human = repo.run(&["rollout", "status", &second]);
    assert!(
        human
            .stdout
            .lines()
            .any(|l| l.contains("single") && l.contains("rolled-back") && l.contains(&good[..10])),
        "{}",
        human.stdout
    );
    // Journaled with the actor.
    let rolled: Vec<Value> = journal_lines(&repo)
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["event"]["kind"] == "rolling-back")
        .collect();
    assert_eq!(rolled.len(), 1);
    assert_eq!(rolled[0]["actor"], "rm@example.com");
    assert_eq!(rolled[0]["event"]["ring"], "single");
    repo.run(&["audit", "verify"]).assert_code(0);
}

#[test]
fn a_completed_rollouts_ring_moved_on_by_a_later_rollout_is_not_rolled_back_under_it() {
    let repo = rollout_repo(0.001, false, "");
    let first = start(&repo);
    drive(&repo, &[]).assert_code(0);
    repo.file("config/defaults.yaml", "port: 9191\n");
    commit_as_dev(&repo, "new port");
    start(&repo);
    drive(&repo, &[]).assert_code(0);
    let now = repo.rev_parse("HEAD");
    let out = repo.run(&["rollout", "rollback", &first, "--ring", "dogfood"]);
    out.assert_code(2);
    assert!(combined(&out).contains("no longer holds"), "{}", out.stderr);
    assert_eq!(ref_of(&repo, "refs/rings/dogfood"), Some(now));
}

#[test]
fn a_journal_that_is_a_link_to_a_device_is_refused_not_read_without_end() {
    let repo = rollout_repo(0.001, false, "");
    let id = start(&repo);
    // Someone with write access to `.git/` swaps the journal (or its head)
    // for a link to an endless device: every command names the file and
    // stops at once instead of reading until memory runs out.
    for (victim, device) in [
        (journal_path(&repo), "/dev/zero"),
        (head_path(&repo), "/dev/zero"),
    ] {
        let saved = std::fs::read(&victim).expect("read the state file");
        std::fs::remove_file(&victim).expect("remove it");
        std::os::unix::fs::symlink(device, &victim).expect("plant the link");
        for args in [
            vec!["audit", "verify"],
            vec!["rollout", "status", id.as_str()],
            vec!["rollout", "run", id.as_str()],
            vec!["rollout", "approve", id.as_str(), "--ring", "single"],
        ] {
            let out = repo.run_env(&args, &[("RINGMASTER_CLOCK", "simulated")]);
            // `status` reads on (with a warning naming the file), so people can
            // debug; everything else stops.
            let lowest = if args[1] == "status" { 0 } else { 1 };
            assert!(
                matches!(out.code, Some(c) if (lowest..=3).contains(&c)),
                "{args:?} on a linked {victim:?}: {:?} {}",
                out.code,
                combined(&out)
            );
            let name = victim
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            assert!(
                combined(&out).contains(name),
                "{args:?} names {name}: {}",
                combined(&out)
            );
        }
        std::fs::remove_file(&victim).expect("remove the link");
        std::fs::write(&victim, saved).expect("restore the state file");
    }
    // Restored, the journal is intact again: nothing was appended meanwhile.
    repo.run(&["audit", "verify"]).assert_code(0);
}
