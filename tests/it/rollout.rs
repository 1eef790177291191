//! `rollout start` and `rollout status`: the journal-backed beginning of a
//! rollout. (Driving one is not built yet.)

use crate::support::{
    FREEZE_FOR_INCIDENT, TestRepo, error_series, items, ring_file, rollout_killed_after, text,
};

#[test]
fn start_journals_the_revision_and_status_replays_it() {
    let repo = TestRepo::initialised();
    let head = repo.rev_parse("HEAD");
    let out = repo
        .run(&[
            "rollout",
            "start",
            "--as",
            "rm@example.com",
            "--format",
            "json",
        ])
        .expect_code(0);
    let started = out.json();
    assert_eq!(started["revision"], head.as_str());
    let id = started["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("r-") && id.ends_with("-0001"), "{id}");

    let status = repo
        .run(&["rollout", "status", &id, "--format", "json"])
        .expect_code(0);
    let state = status.json();
    assert_eq!(state["id"], id.as_str());
    assert_eq!(state["revision"], head.as_str());
    assert_eq!(state["state"], "running");
    let rings: Vec<(String, String)> = items(&state, "rings")
        .iter()
        .map(|r| (text(r, "name"), text(r, "state")))
        .collect();
    assert_eq!(
        rings,
        [
            ("dogfood".to_string(), "pending".to_string()),
            ("single-tenant".to_string(), "pending".to_string()),
            ("multi-tenant".to_string(), "pending".to_string())
        ]
    );
    // One rollout moves at a time: a second start is refused while the
    // first runs, and --supersede abandons the first.
    let refused = repo
        .run(&["rollout", "start", "--format", "json"])
        .expect_code(2);
    refused
        .assert_stderr_has(&id)
        .assert_stderr_has("--supersede");
    let second = repo
        .run(&["rollout", "start", "--supersede", "--format", "json"])
        .json();
    assert!(
        second["id"].as_str().unwrap().ends_with("-0002"),
        "{second}"
    );
    assert_eq!(second["superseded"], serde_json::json!([id]));
    let first = status_json(&repo, &id);
    assert_eq!(first["state"], "abandoned", "{first}");
    // An abandoned rollout is never driven again.
    repo.run(&["rollout", "run", &id]).assert_no_panic();
    assert_eq!(status_json(&repo, &id)["state"], "abandoned");

    // Without an id, status shows the latest rollout.
    let latest = repo.run(&["rollout", "status", "--format", "json"]).json();
    assert_eq!(latest["id"], second["id"]);

    // The actor is recorded, and the journal verifies.
    let journal = journal(&repo);
    assert!(
        journal.contains("\"actor\":\"rm@example.com\""),
        "{journal}"
    );
    let audit = repo.run(&["audit", "verify", "--format", "json"]).json();
    assert_eq!(
        (audit["intact"].as_bool(), audit["entries"].as_u64()),
        (Some(true), Some(3))
    );
}

#[test]
fn start_refuses_a_revision_that_fails_check() {
    let repo = TestRepo::initialised();
    repo.file("config/class/app-example.yaml", "server:\n  port: eighty\n")
        .commit("a bad port");
    let out = repo.run(&["rollout", "start"]).expect_code(1);
    // A schema error and a type change (the port was a number).
    out.assert_stderr_has("fails check with 2 errors");
    out.assert_stderr_has("config/class/app-example.yaml:2:9");
    // Nothing was journaled.
    assert!(!repo.path().join(".git/ringmaster/journal.jsonl").exists());
    // The previous, good revision can still be rolled out.
    repo.run(&["rollout", "start", "--rev", "HEAD~1"])
        .assert_code(0);
}

#[test]
fn start_and_status_bad_input() {
    let repo = TestRepo::initialised();
    let out = repo
        .run(&["rollout", "start", "--rev", "no-such-rev"])
        .expect_code(2);
    out.assert_stderr_has("no-such-rev");
    let out = repo.run(&["rollout", "status"]).expect_code(2);
    out.assert_stderr_has("no rollout has been started");
    repo.run(&["rollout", "start"]).assert_code(0);
    let out = repo
        .run(&["rollout", "status", "r-19990101-0001"])
        .expect_code(2);
    out.assert_stderr_has("no rollout `r-19990101-0001`");
    // A repo without rings cannot roll out.
    let bare = TestRepo::standard();
    bare.commit("no rings");
    let out = bare.run(&["rollout", "start"]).expect_code(2);
    out.assert_stderr_has("defines no rings");
}

// ------------------------------------------------------------ driving a rollout

/// A config repo with three rings of one class each, one threshold gate per
/// ring, one 30 s healthy round to promote, and embedded metrics whose
/// dogfood error ratio is `dogfood_error` from the start.
fn rollout_repo(dogfood_error: f64, approval: bool, deliver_dir: bool) -> TestRepo {
    const MANIFEST: &str = "version: 1\nhierarchy:\n  - config/defaults.yaml\nhost_classes:\n  a: {ring: dogfood}\n  b: {ring: single}\n  c: {ring: multi}\nrings: rings/\nmetrics:\n  kind: embedded\n  file: metrics.yaml\n";
    const APPROVAL: &str = "approval:\n  required: true\n  approvers: [rm@example.com]\n";
    let deliver = ["", "deliver:\n  kind: dir\n  path: out\n"][usize::from(deliver_dir)];
    let repo = TestRepo::new();
    repo.file("ringmaster.yaml", &format!("{MANIFEST}{deliver}"))
        .file("config/defaults.yaml", "port: 8080\n")
        .file(".gitignore", "out/\n")
        .file(
            "metrics.yaml",
            &error_series(&[
                ("dogfood", dogfood_error),
                ("single", 0.001),
                ("multi", 0.001),
            ]),
        );
    for (order, ring) in ["dogfood", "single", "multi"].iter().enumerate() {
        let extra = if approval && *ring != "dogfood" {
            APPROVAL
        } else {
            ""
        };
        let text = ring_file(ring, order + 1, "30s", "30s", extra);
        repo.file(&format!("rings/{ring}.yaml"), &text);
    }
    repo.commit_as("config", "dev@example.com");
    repo
}

/// A healthy rollout repo with one rollout run to its end; returns the repo
/// and the revision every ring is on.
fn completed_rollout() -> (TestRepo, String) {
    let repo = rollout_repo(0.001, false, false);
    repo.run(&["rollout", "start"]).assert_code(0);
    drive(&repo, &[]).assert_code(0);
    let good = repo.rev_parse("HEAD");
    (repo, good)
}

/// Commits a change (port 9090) whose metrics are `series`.
fn commit_bad_change(repo: &TestRepo, series: &[(&str, f64)], message: &str) {
    repo.file("config/defaults.yaml", "port: 9090\n")
        .file("metrics.yaml", &error_series(series))
        .commit(message);
}

/// `rollout run` on the simulated clock, aborted right after journal entry
/// `step` (the crash tests' hook).
fn drive(repo: &TestRepo, args: &[&str]) -> crate::support::Output {
    let mut full = vec!["rollout", "run"];
    full.extend_from_slice(args);
    repo.run_env(&full, &[("RINGMASTER_CLOCK", "simulated")])
}

/// `rollout approve ID --ring RING --as WHO`.
fn approve(repo: &TestRepo, id: &str, ring: &str, who: &str) -> crate::support::Output {
    repo.run(&["rollout", "approve", id, "--ring", ring, "--as", who])
}

/// Starts a rollout and returns its id.
fn start_id(repo: &TestRepo) -> String {
    let started = repo.run(&["rollout", "start", "--format", "json"]).json();
    started["id"].as_str().unwrap_or_default().to_owned()
}

/// `rollout status ID --format json`.
fn status_json(repo: &TestRepo, id: &str) -> serde_json::Value {
    repo.run(&["rollout", "status", id, "--format", "json"])
        .json()
}

/// The file journal's text.
fn journal(repo: &TestRepo) -> String {
    std::fs::read_to_string(repo.path().join(".git/ringmaster/journal.jsonl")).unwrap_or_default()
}

fn kinds(repo: &TestRepo) -> Vec<String> {
    std::fs::read_to_string(repo.path().join(".git/ringmaster/journal.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            format!(
                "{}:{}",
                v["event"]["kind"].as_str().unwrap_or(""),
                v["event"]["ring"].as_str().unwrap_or("")
            )
        })
        .collect()
}

#[test]
fn a_healthy_rollout_goes_through_every_ring_and_moves_the_refs() {
    let repo = rollout_repo(0.001, false, false);
    let head = repo.rev_parse("HEAD");
    repo.run(&["rollout", "start"]).assert_code(0);
    let out = drive(&repo, &[]).expect_code(0);
    out.assert_stdout_has("complete");
    for ring in ["dogfood", "single", "multi"] {
        assert_eq!(
            repo.rev_parse(&format!("refs/rings/{ring}")),
            head,
            "{ring}"
        );
    }
    let k = kinds(&repo);
    assert_eq!(
        k.iter().filter(|k| k.starts_with("delivered:")).count(),
        3,
        "{k:?}"
    );
    assert_eq!(k.last().map(String::as_str), Some("completed:"));
    // Running again does nothing more.
    drive(&repo, &[]).assert_code(0);
    assert_eq!(kinds(&repo).len(), k.len());
}

#[test]
fn approvals_are_for_listed_approvers_other_than_the_author() {
    let repo = rollout_repo(0.001, true, false);
    let id = start_id(&repo);
    let waiting = drive(&repo, &[]).expect_code(4);
    waiting.assert_stdout_has("ring single awaits approval");
    let status = status_json(&repo, &id);
    assert_eq!(status["rings"][1]["state"], "awaiting-approval");

    let own = approve(&repo, &id, "single", "dev@example.com").expect_code(2);
    own.assert_stderr_has("never approves their own change");
    let stranger = approve(&repo, &id, "single", "eve@example.com").expect_code(2);
    stranger.assert_stderr_has("not an approver");
    approve(&repo, &id, "multi", "rm@example.com").assert_code(2);

    approve(&repo, &id, "single", "rm@example.com").assert_code(0);
    drive(&repo, &[]).assert_code(4);
    approve(&repo, &id, "multi", "rm@example.com").assert_code(0);
    drive(&repo, &[]).assert_code(0);
    let journal = journal(&repo);
    assert!(journal.contains("\"by\":\"rm@example.com\""), "{journal}");
    // The simulated clock of each run resumes from the journal's latest time,
    // so the driver's own entries never go back in time across runs (the
    // approvals typed in between carry the wall clock).
    let driver_times: Vec<String> = journal
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["event"]["kind"] != "approved" && e["event"]["kind"] != "started")
        .map(|e| e["at"].as_str().unwrap().to_owned())
        .collect();
    let mut sorted = driver_times.clone();
    sorted.sort();
    assert_eq!(driver_times, sorted);
}

#[test]
fn a_breach_halts_the_ring_and_rolls_it_back() {
    let (repo, good) = completed_rollout();
    // The next revision makes dogfood's error ratio 9%.
    let series = [("dogfood", 0.09), ("single", 0.001), ("multi", 0.001)];
    commit_bad_change(&repo, &series, "a bad change");
    let id = start_id(&repo);
    let out = drive(&repo, &[]).expect_code(1);
    out.assert_stdout_has("halted at ring dogfood");
    assert_eq!(
        repo.rev_parse("refs/rings/dogfood"),
        good,
        "dogfood is back on the good revision"
    );
    assert_eq!(
        repo.rev_parse("refs/rings/single"),
        good,
        "single never got the bad one"
    );
    let status = status_json(&repo, &id);
    assert_eq!(status["state"], "halted");
    assert_eq!(status["rings"][0]["state"], "rolled-back");
    assert_eq!(status["rings"][0]["previous"], good.as_str());
    assert_eq!(status["rings"][0]["halt"]["gate"], "errors");
    assert_eq!(status["rings"][0]["halt"]["value"], 0.09);
    assert_eq!(status["rings"][0]["halt"]["threshold"], 0.01);
    let timeline = repo.run(&["rollout", "timeline", &id]).expect_code(0);
    assert!(
        timeline
            .stdout
            .contains("| dogfood | halted | gate `errors` breached"),
        "{}",
        timeline.stdout
    );
    timeline.assert_stdout_has("**Time to mitigate**");
    let json = repo
        .run(&["rollout", "timeline", &id, "--format", "json"])
        .json();
    assert_eq!(json["time_to_detect_s"], 0);
    repo.run(&["audit", "verify"]).assert_code(0);
}

#[test]
fn missing_metrics_fail_closed() {
    let repo = rollout_repo(0.001, false, true);
    // Metrics for another query only: dogfood's gate never gets data.
    repo.file("metrics.yaml", "series:\n  'other': [[0, 1]]\n")
        .commit("no data");
    repo.run(&["rollout", "start"]).assert_code(0);
    let out = drive(&repo, &[]).expect_code(1);
    out.assert_stdout_has("inconclusive");
    // Delivered to the directory, then withdrawn: dogfood had nothing before.
    assert!(!repo.path().join("out/dogfood/REVISION").exists());
}

#[test]
fn a_frozen_line_starts_no_ring_until_unfrozen() {
    let repo = rollout_repo(0.001, false, true);
    repo.run(&FREEZE_FOR_INCIDENT).assert_code(0);
    repo.run(&["rollout", "start"]).assert_code(0);
    let out = drive(&repo, &[]).expect_code(4);
    out.assert_stdout_has("frozen (incident 42)");
    assert!(
        !repo.path().join("out/dogfood").exists(),
        "nothing delivered while frozen"
    );
    repo.run(&["rollout", "unfreeze", "--as", "oncall@example.com"])
        .assert_code(0);
    drive(&repo, &[]).assert_code(0);
    let head = repo.rev_parse("HEAD");
    for ring in ["dogfood", "single", "multi"] {
        let revision =
            std::fs::read_to_string(repo.path().join(format!("out/{ring}/REVISION"))).unwrap();
        assert_eq!(revision.trim(), head);
    }
    assert_eq!(
        std::fs::read_to_string(repo.path().join("out/multi/c.yaml")).unwrap(),
        "port: 8080\n"
    );
}

#[test]
fn a_second_driver_gets_exit_3_with_the_holder() {
    let repo = rollout_repo(0.001, false, false);
    repo.run(&["rollout", "start"]).assert_code(0);
    // Another driver (here flock(1)) holds the lock.
    let lock = repo.path().join(".git/ringmaster/driver.lock");
    std::fs::write(
        &lock,
        r#"{"pid":4242,"host":"ci-7","actor":"alice@example.com","since":"2026-11-22T10:00:00Z"}"#,
    )
    .unwrap();
    let lock_arg = lock.to_str().unwrap_or_default();
    let mut holder = std::process::Command::new("flock")
        .args(["-o", lock_arg, "sleep", "10"])
        .spawn()
        .expect("flock(1)");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let out = drive(&repo, &[]);
    holder.kill().ok();
    holder.wait().ok();
    out.assert_code(3);
    assert!(
        out.stderr
            .contains("alice@example.com on ci-7 (pid 4242) since 2026-11-22T10:00:00Z"),
        "{}",
        out.stderr
    );
}

/// The driver killed (abort) right after each journal append in turn, then
/// run again: every run ends consistent, no ring is delivered twice, no event
/// is lost, and the journal verifies.
#[test]
fn a_driver_killed_after_any_journal_step_recovers() {
    // A clean rollout: 3 rings × (delivering, delivered, evaluated, promoted) + completed.
    let clean = rollout_repo(0.001, false, true);
    clean.run(&["rollout", "start"]).assert_code(0);
    drive(&clean, &[]).assert_code(0);
    let steps = kinds(&clean).len() - 1;
    assert_eq!(steps, 13, "{:?}", kinds(&clean));
    for n in 1..=steps {
        let repo = rollout_repo(0.001, false, true);
        repo.run(&["rollout", "start"]).assert_code(0);
        rollout_killed_after(&repo, &n.to_string(), &format!("step {n}"));
        drive(&repo, &[]).assert_code(0);
        let k = kinds(&repo);
        for ring in ["dogfood", "single", "multi"] {
            for kind in ["delivered", "promoted"] {
                let entry = format!("{kind}:{ring}");
                let times = k.iter().filter(|e| **e == entry).count();
                assert_eq!(times, 1, "step {n}: {entry} in {k:?}");
            }
        }
        assert_eq!(k.last().map(String::as_str), Some("completed:"), "step {n}");
        repo.run(&["audit", "verify"]).assert_code(0);
    }

    // A breach: delivering, delivered, evaluated, halted (with its rollback), rolled-back.
    for n in 1..=5 {
        let (repo, good) = completed_rollout();
        commit_bad_change(&repo, &[("dogfood", 0.5)], "bad");
        repo.run(&["rollout", "start"]).assert_code(0);
        rollout_killed_after(&repo, &n.to_string(), &format!("breach step {n}"));
        drive(&repo, &[]).assert_code(1);
        assert_eq!(
            repo.rev_parse("refs/rings/dogfood"),
            good,
            "breach step {n}: rolled back"
        );
        let k = kinds(&repo);
        assert_eq!(
            k.iter().filter(|e| *e == "rolled-back:dogfood").count(),
            1,
            "breach step {n}: {k:?}"
        );
        repo.run(&["audit", "verify"]).assert_code(0);
    }
}

#[test]
fn a_new_rollout_waits_for_an_unfinished_rollback_and_supersedes_a_halted_one() {
    let (repo, good) = completed_rollout();
    commit_bad_change(&repo, &[("dogfood", 0.5)], "bad");
    let bad = start_id(&repo);
    // Killed right after journaling the halt: dogfood is rolling back.
    rollout_killed_after(&repo, "4", "step 4");
    assert_eq!(
        kinds(&repo).last().map(String::as_str),
        Some("halted:dogfood")
    );
    repo.file("config/defaults.yaml", "port: 9191\n")
        .file(
            "metrics.yaml",
            "series:\n  'errors{ring=\"dogfood\"}': [[0, 0.001]]\n  'errors{ring=\"single\"}': [[0, 0.001]]\n  'errors{ring=\"multi\"}': [[0, 0.001]]\n",
        )
        .commit("fix forward");
    // Not even --supersede abandons a ring on the revision that breached.
    let refused = repo
        .run(&["rollout", "start", "--supersede"])
        .expect_code(2);
    assert!(
        refused.stderr.contains("rolling ring dogfood back")
            && refused.stderr.contains(&format!("rollout run {bad}")),
        "{}",
        refused.stderr
    );
    drive(&repo, &["--", &bad]).assert_code(1);
    assert_eq!(repo.rev_parse("refs/rings/dogfood"), good);
    // A halted rollout is superseded without asking: resuming it later
    // would deliver its revision over the newer rollout's.
    let next = repo
        .run(&["rollout", "start", "--format", "json"])
        .expect_code(0);
    assert_eq!(next.json()["superseded"], serde_json::json!([bad]));
    let resumed = repo.run(&["rollout", "resume", &bad]).expect_code(2);
    resumed.assert_stderr_has("abandoned");
    drive(&repo, &[]).assert_code(0);
    assert_eq!(repo.rev_parse("refs/rings/multi"), repo.rev_parse("HEAD"));
    repo.run(&["audit", "verify"]).assert_code(0);
}

#[test]
fn concurrent_supersedes_leave_every_rollout_replayable() {
    let repo = rollout_repo(0.001, true, false);
    repo.run(&["rollout", "start"]).assert_code(0);
    let outs: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let repo = &repo;
                scope.spawn(move || {
                    repo.run(&[
                        "rollout",
                        "start",
                        "--supersede",
                        "--as",
                        &format!("p{i}@example.com"),
                    ])
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for out in &outs {
        // Each start either ran, or found another holding the lock.
        match out.code {
            Some(0) => {}
            Some(3) => assert!(out.stderr.contains("holds the lock"), "{}", out.stderr),
            _ => panic!("{}", out.all_output()),
        }
    }
    let started = outs.iter().filter(|o| o.code == Some(0)).count();
    // Every rollout in the journal still replays: none was abandoned twice.
    let ids: std::collections::BTreeSet<String> = journal(&repo)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["rollout"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 1 + started);
    let running: Vec<String> = ids
        .iter()
        .filter(|id| {
            let status = repo
                .run(&["rollout", "status", id, "--format", "json"])
                .expect_code(0);
            status.json()["state"] == "running"
        })
        .cloned()
        .collect();
    assert_eq!(running.len(), 1, "{running:?}");
    repo.run(&["audit", "verify"]).assert_code(0);
}

#[test]
fn an_approval_request_shows_what_the_ring_will_get() {
    let repo = rollout_repo(0.001, true, false);
    let first = start_id(&repo);
    drive(&repo, &[]).assert_code(4);
    // The ring's first delivery: all it will get shows as added.
    let first_time = repo.run(&["rollout", "status", "--format", "json"]).json();
    assert_eq!(first_time["approval"]["ring"], "single");
    let classes = first_time["approval"]["diff"]["classes"]
        .as_array()
        .unwrap();
    assert_eq!(classes.len(), 1, "{first_time}");
    assert_eq!(classes[0]["class"], "b");
    assert!(
        classes[0]["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["path"] == "port" && c["new"] == 8080 && c["old"].is_null()),
        "{first_time}"
    );
    approve(&repo, &first, "single", "rm@example.com").assert_code(0);
    drive(&repo, &[]).assert_code(4);
    approve(&repo, &first, "multi", "rm@example.com").assert_code(0);
    drive(&repo, &[]).assert_code(0);

    repo.file("config/defaults.yaml", "port: 9191\n")
        .commit("new port");
    repo.run(&["rollout", "start"]).assert_code(0);
    drive(&repo, &[]).assert_code(4);
    let status = repo.run(&["rollout", "status", "--format", "json"]).json();
    assert_eq!(status["approval"]["ring"], "single");
    let classes = status["approval"]["diff"]["classes"].as_array().unwrap();
    assert_eq!(classes.len(), 1, "only the ring's own class: {status}");
    assert_eq!(classes[0]["class"], "b");
    assert_eq!(classes[0]["changes"][0]["path"], "port");
    assert_eq!(classes[0]["changes"][0]["old"], 8080);
    assert_eq!(classes[0]["changes"][0]["new"], 9191);
    let human = repo.run(&["rollout", "status"]);
    human.assert_stdout_has("ring single awaits approval");
    human.assert_stdout_has("~ port  8080 → 9191");
}

#[test]
fn a_ring_can_be_rolled_back_by_hand_and_the_rollout_resumed() {
    let repo = rollout_repo(0.001, true, false);
    let first = start_id(&repo);
    drive(&repo, &[]).assert_code(4);
    let good = repo.rev_parse("HEAD");
    repo.file("config/defaults.yaml", "port: 9191\n")
        .commit("new port");
    // The first rollout delivered dogfood at `good` and waits for an
    // approval; the second supersedes it.
    let second = repo
        .run(&["rollout", "start", "--supersede", "--format", "json"])
        .json();
    assert_eq!(second["superseded"], serde_json::json!([first]));
    let second = second["id"].as_str().unwrap().to_owned();
    drive(&repo, &["--", &second]).assert_code(4);
    let new = repo.rev_parse("HEAD");
    assert_eq!(repo.rev_parse("refs/rings/dogfood"), new);

    repo.run(&[
        "rollout",
        "rollback",
        &second,
        "--ring",
        "dogfood",
        "--as",
        "rm@example.com",
    ])
    .assert_code(0);
    assert_eq!(
        repo.rev_parse("refs/rings/dogfood"),
        good,
        "dogfood is back where it was"
    );
    let status = status_json(&repo, &second);
    let states = [&status["state"], &status["rings"][0]["state"]];
    assert_eq!(states, ["halted", "rolled-back"], "{status}");

    // Resume: dogfood starts again and is delivered anew.
    repo.run(&["rollout", "resume", &second, "--as", "rm@example.com"])
        .assert_code(0);
    drive(&repo, &["--", &second]).assert_code(4);
    assert_eq!(repo.rev_parse("refs/rings/dogfood"), new);

    // A halt by hand stops the rollout where it is, without a rollback.
    repo.run(&["rollout", "halt", &second, "--reason", "customer report"])
        .assert_code(0);
    assert_eq!(repo.rev_parse("refs/rings/dogfood"), new);
    drive(&repo, &["--", &second]).assert_code(1);
    repo.run(&["rollout", "rollback", &second, "--ring", "multi"])
        .assert_code(2);
}

#[test]
fn a_ring_ref_moved_behind_ringmasters_back_halts_the_delivery() {
    let (repo, good) = completed_rollout();
    // Someone points dogfood at another commit by hand…
    repo.file("config/defaults.yaml", "port: 7070\n")
        .commit("hand-made");
    let rogue = repo.rev_parse("HEAD");
    repo.git_env(&["update-ref", "refs/rings/dogfood", &rogue], &[]);
    repo.file("config/defaults.yaml", "port: 9191\n")
        .commit("next change");
    // …after ringmaster read it as the ring's previous revision: simulate by
    // starting, journaling the intent with a kill, then moving the ref again.
    repo.run(&["rollout", "start"]).assert_code(0);
    rollout_killed_after(&repo, "1", "step 1");
    repo.git_env(&["update-ref", "refs/rings/dogfood", &good], &[]);
    let out = drive(&repo, &[]).expect_code(1);
    out.assert_stdout_has("behind ringmaster's back");
    // The ref was left as found, not overwritten.
    assert_eq!(repo.rev_parse("refs/rings/dogfood"), good);
}

#[test]
fn two_real_drivers_race_and_a_killed_one_leaves_no_stale_lock() {
    let repo = rollout_repo(0.001, false, false);
    repo.run(&["rollout", "start"]).assert_code(0);
    // The first driver runs on the wall clock: it delivers dogfood, then
    // sleeps out the 30 s interval inside the soak, holding the lock.
    let mut first = std::process::Command::new(crate::support::BIN)
        .args(["--repo"])
        .arg(repo.path())
        .args(["rollout", "run", "--as", "first@example.com"])
        .env_remove("RINGMASTER_CLOCK")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the first driver");
    let journal = repo.path().join(".git/ringmaster/journal.jsonl");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !std::fs::read_to_string(&journal)
        .unwrap_or_default()
        .contains("\"kind\":\"evaluated\"")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the first driver never reached its soak"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let second = repo
        .run(&["rollout", "run", "--as", "second@example.com"])
        .expect_code(3);
    second.assert_stderr_has("first@example.com");
    second.assert_stderr_has(&format!("pid {}", first.id()));

    // SIGKILL the holder mid-soak: its lock goes with it, and the next
    // driver finishes the rollout from the journal.
    first.kill().unwrap();
    first.wait().unwrap();
    drive(&repo, &[]).assert_code(0);
    let k = kinds(&repo);
    assert_eq!(
        k.iter().filter(|e| *e == "delivered:dogfood").count(),
        1,
        "{k:?}"
    );
    repo.run(&["audit", "verify"]).assert_code(0);
}

/// A person halts a ring while a driver soaks it (the driver holds the lock;
/// a halt never waits for it): the driver sees the halt within one interval,
/// stops, and the journal still replays — no round or promotion of the
/// halted ring is journaled after the halt.
#[test]
fn a_halt_by_hand_while_the_driver_soaks_stops_it_within_an_interval() {
    let repo = rollout_repo(0.001, false, false);
    repo.file(
        "rings/dogfood.yaml",
        &ring_file("dogfood", 1, "10m", "1s", ""),
    )
    .commit("soak dogfood for ten minutes, a round a second");
    let id = start_id(&repo);
    let driver = crate::live::spawn_run(&repo);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !journal(&repo).contains("\"kind\":\"evaluated\"") {
        assert!(
            std::time::Instant::now() < deadline,
            "the driver never reached its soak: {}",
            journal(&repo)
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    repo.run(&["rollout", "halt", &id, "--reason", "checkout latency in EU"])
        .assert_code(0);
    let halted = std::time::Instant::now();
    let (stdout, _) = crate::live::exited(driver, 1);
    assert!(
        halted.elapsed() < std::time::Duration::from_secs(10),
        "the driver went on soaking for {:?} after the halt",
        halted.elapsed()
    );
    assert!(stdout.contains("checkout latency in EU"), "{stdout}");
    let status = status_json(&repo, &id);
    assert_eq!(status["state"], "halted", "{status}");
    assert_eq!(status["rings"][0]["state"], "halted", "{status}");
    let k = kinds(&repo);
    let after_halt: Vec<&String> = k
        .iter()
        .skip_while(|e| !e.starts_with("halted"))
        .skip(1)
        .collect();
    assert!(
        after_halt
            .iter()
            .all(|e| !e.starts_with("promoted") && !e.starts_with("delivered")),
        "{k:?}"
    );
    repo.run(&["audit", "verify"]).assert_code(0);
}
