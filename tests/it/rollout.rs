//! `rollout start` and `rollout status`: the journal-backed beginning of a
//! rollout. (Driving one is not built yet.)

use crate::support::TestRepo;

fn initialised() -> TestRepo {
    let repo = TestRepo::new();
    repo.run(&["init"]).assert_code(0);
    repo.commit("config repo");
    repo
}

#[test]
fn start_journals_the_revision_and_status_replays_it() {
    let repo = initialised();
    let head = repo.rev_parse("HEAD");
    let out = repo.run(&[
        "rollout",
        "start",
        "--as",
        "rm@example.com",
        "--format",
        "json",
    ]);
    out.assert_code(0);
    let started = out.json();
    assert_eq!(started["revision"], head.as_str());
    let id = started["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("r-") && id.ends_with("-0001"), "{id}");

    let second = repo.run(&["rollout", "start", "--format", "json"]).json();
    assert!(
        second["id"].as_str().unwrap().ends_with("-0002"),
        "{second}"
    );

    let status = repo.run(&["rollout", "status", &id, "--format", "json"]);
    status.assert_code(0);
    let state = status.json();
    assert_eq!(state["id"], id.as_str());
    assert_eq!(state["revision"], head.as_str());
    assert_eq!(state["state"], "running");
    let rings: Vec<(String, String)> = state["rings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_owned(),
                r["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        rings,
        [
            ("dogfood".to_string(), "pending".to_string()),
            ("single-tenant".to_string(), "pending".to_string()),
            ("multi-tenant".to_string(), "pending".to_string())
        ]
    );
    // Without an id, status shows the latest rollout.
    let latest = repo.run(&["rollout", "status", "--format", "json"]).json();
    assert_eq!(latest["id"], second["id"]);

    // The actor is recorded, and the journal verifies.
    let journal =
        std::fs::read_to_string(repo.path().join(".git/ringmaster/journal.jsonl")).unwrap();
    assert!(
        journal.contains("\"actor\":\"rm@example.com\""),
        "{journal}"
    );
    let audit = repo.run(&["audit", "verify", "--format", "json"]).json();
    assert_eq!(
        (audit["intact"].as_bool(), audit["entries"].as_u64()),
        (Some(true), Some(2))
    );
}

#[test]
fn start_refuses_a_revision_that_fails_check() {
    let repo = initialised();
    repo.file("config/class/app-example.yaml", "server:\n  port: eighty\n")
        .commit("a bad port");
    let out = repo.run(&["rollout", "start"]);
    out.assert_code(1);
    // A schema error and a type change (the port was a number).
    assert!(
        out.stderr.contains("fails check with 2 errors"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("config/class/app-example.yaml:2:9"),
        "{}",
        out.stderr
    );
    // Nothing was journaled.
    assert!(!repo.path().join(".git/ringmaster/journal.jsonl").exists());
    // The previous, good revision can still be rolled out.
    repo.run(&["rollout", "start", "--rev", "HEAD~1"])
        .assert_code(0);
}

#[test]
fn start_and_status_bad_input() {
    let repo = initialised();
    let out = repo.run(&["rollout", "start", "--rev", "no-such-rev"]);
    out.assert_code(2);
    assert!(out.stderr.contains("no-such-rev"), "{}", out.stderr);
    let out = repo.run(&["rollout", "status"]);
    out.assert_code(2);
    assert!(
        out.stderr.contains("no rollout has been started"),
        "{}",
        out.stderr
    );
    repo.run(&["rollout", "start"]).assert_code(0);
    let out = repo.run(&["rollout", "status", "r-19990101-0001"]);
    out.assert_code(2);
    assert!(
        out.stderr.contains("no rollout `r-19990101-0001`"),
        "{}",
        out.stderr
    );
    // A repo without rings cannot roll out.
    let bare = TestRepo::standard();
    bare.commit("no rings");
    let out = bare.run(&["rollout", "start"]);
    out.assert_code(2);
    assert!(out.stderr.contains("defines no rings"), "{}", out.stderr);
}
