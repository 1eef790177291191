//! What a release manager reads: the approval view of `rollout status` (a
//! summary of what approving delivers, every value with `--full`), the
//! lines `rollout run` prints in a CI log (one per state change, none per
//! round), and the place each delivery names (the ring's own ref or
//! directory). Embedded metrics on the simulated clock: a whole rollout runs
//! in no time.

use crate::support::{TestRepo, error_series};

/// The wide ring's host classes: three API, three worker.
const FLEET: [&str; 6] = [
    "api-eu",
    "api-us",
    "api-ap",
    "worker-eu",
    "worker-us",
    "worker-ap",
];

/// A ring file: one threshold gate on `errors{ring=NAME}`, the soak and
/// interval given, rolled back on a breach.
fn ring(name: &str, order: usize, soak: &str, extra: &str) -> String {
    format!(
        "name: {name}\norder: {order}\nsoak: {soak}\ninterval: 30s\n{extra}gates:\n  - name: errors\n    query: errors{{ring=\"{name}\"}}\n    max: 0.01\ninconclusive_limit: 2\non_breach: rollback\n"
    )
}

/// Keys `prefix000`… numbered in `range`, each `value`, indented by two.
fn keys(prefix: &str, range: std::ops::Range<usize>, value: u32) -> String {
    range
        .map(|i| format!("  {prefix}{i:03}: {value}\n"))
        .collect()
}

/// A config repo of two rings: `dogfood` (one class, a 2-minute soak) and
/// `fleet` (six classes, approval by rm@example.com), ~150 keys per class
/// (120 shared, 30 per role, a few per class); `deliver` is appended to the
/// manifest.
fn fleet_repo(deliver: &str) -> TestRepo {
    let mut classes = String::from("  canary: {role: api, ring: dogfood}\n");
    for class in FLEET {
        let role = class.split('-').next().unwrap_or_default();
        classes.push_str(&format!("  {class}: {{role: {role}, ring: fleet}}\n"));
    }
    let repo = TestRepo::new();
    repo.file(
        "ringmaster.yaml",
        &format!(
            "version: 1\nhierarchy:\n  - config/defaults.yaml\n  - config/role/{{role}}.yaml\n  - config/class/{{class}}.yaml\nhost_classes:\n{classes}rings: rings/\nmetrics:\n  kind: embedded\n  file: metrics.yaml\n{deliver}"
        ),
    )
    .file(".gitignore", "out/\n")
    .file(
        "config/defaults.yaml",
        &format!("settings:\n{}", keys("k", 0..120, 1)),
    )
    .file("config/role/api.yaml", &format!("api:\n{}", keys("a", 0..30, 1)))
    .file(
        "config/role/worker.yaml",
        &format!("worker:\n{}", keys("w", 0..30, 1)),
    )
    .file(
        "metrics.yaml",
        &error_series(&[("dogfood", 0.001), ("fleet", 0.001)]),
    )
    .file("rings/dogfood.yaml", &ring("dogfood", 1, "2m", ""))
    .file(
        "rings/fleet.yaml",
        &ring(
            "fleet",
            2,
            "30s",
            "approval:\n  required: true\n  approvers: [rm@example.com]\n",
        ),
    );
    for (i, class) in FLEET.iter().enumerate() {
        repo.file(
            &format!("config/class/{class}.yaml"),
            &format!("shard: {i}\nname: {class}\n"),
        );
    }
    repo.commit_as("fleet config", "dev@example.com");
    repo
}

/// `rollout run` on the simulated clock.
fn run(repo: &TestRepo) -> crate::support::Output {
    repo.run_env(
        &["rollout", "run", "--as", "ci@example.com"],
        &[("RINGMASTER_CLOCK", "simulated")],
    )
}

fn start(repo: &TestRepo) -> String {
    let started = repo.run(&["rollout", "start", "--format", "json"]).json();
    started["id"].as_str().unwrap_or_default().to_owned()
}

fn approve(repo: &TestRepo, id: &str) {
    repo.run(&[
        "rollout",
        "approve",
        id,
        "--ring",
        "fleet",
        "--as",
        "rm@example.com",
    ])
    .assert_code(0);
}

/// Rollout ids, revisions, times and temp paths out of a snapshot.
fn redactions() -> Vec<(&'static str, &'static str)> {
    vec![
        (r"r-\d{8}-\d{4}", "[id]"),
        (r"\b[0-9a-f]{10}\b", "[rev]"),
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "[time]"),
    ]
}

#[test]
fn the_approval_of_a_first_delivery_is_a_count_per_host_class_and_full_prints_every_value() {
    let repo = fleet_repo("");
    let id = start(&repo);
    run(&repo).assert_code(4);
    let status = repo.run(&["rollout", "status"]).expect_code(0);
    insta::with_settings!({filters => redactions()}, {
        insta::assert_snapshot!(status.stdout);
    });
    // The summary, not 900 values: the rollout, its rings, a row per class.
    assert!(status.stdout.lines().count() < 25, "{}", status.stdout);
    assert!(
        !status.stdout.contains("settings.k000"),
        "{}",
        status.stdout
    );

    let full = repo
        .run(&["rollout", "status", &id, "--full"])
        .expect_code(0);
    // Every value of every class: 120 shared + 30 per role + 2 per class.
    for key in ["settings.k000", "settings.k119", "api.a029", "worker.w029"] {
        assert!(full.stdout.contains(&format!("+ {key} ")), "{key}");
    }
    let values = full
        .stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("+ "))
        .count();
    // The classes of a role share their values: one group per role and class file.
    assert!(values >= 152, "{values} value lines:\n{}", full.stdout);
    full.assert_stdout_has("approving it delivers to git ref refs/rings/fleet");
    // JSON keeps the whole diff, with or without --full.
    let json = repo
        .run(&["rollout", "status", &id, "--format", "json"])
        .json();
    let classes = json["approval"]["diff"]["classes"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(classes, 6, "{json}");
}

#[test]
fn the_approval_of_a_change_is_a_per_key_table_cut_after_twenty_keys() {
    let repo = fleet_repo("");
    let first = start(&repo);
    run(&repo).assert_code(4);
    approve(&repo, &first);
    run(&repo).assert_code(0);

    // 21 keys change: 10 shared (all six classes), `shard` (a different
    // value in each), 4 changed and 1 added in the API role, 1 removed and
    // 1 changed in the worker role, 2 added in one class and 1 changed in
    // another.
    let defaults = format!(
        "settings:\n{}{}",
        keys("k", 0..10, 2),
        keys("k", 10..120, 1)
    );
    repo.file("config/defaults.yaml", &defaults);
    let api = keys("a", 0..30, 1)
        .replacen("a000: 1", "a000: 7", 1)
        .replacen("a001: 1", "a001: 7", 1)
        .replacen("a002: 1", "a002: 7", 1)
        .replacen("a003: 1", "a003: 7", 1);
    repo.file(
        "config/role/api.yaml",
        &format!("api:\n{api}  new_feature: true\n"),
    );
    let worker = keys("w", 0..30, 1)
        .replacen("  w029: 1\n", "", 1)
        .replacen("w000: 1", "w000: 5", 1);
    repo.file("config/role/worker.yaml", &format!("worker:\n{worker}"));
    for (i, class) in FLEET.iter().enumerate() {
        let mut text = format!("shard: {}\nname: {class}\n", i + 10);
        if *class == "api-eu" {
            text.push_str("eu_only: true\ngdpr: strict\n");
        }
        if *class == "worker-ap" {
            text = text.replace(&format!("name: {class}"), "name: worker-apac");
        }
        repo.file(&format!("config/class/{class}.yaml"), &text);
    }
    repo.commit_as("wider change", "dev@example.com");
    let second = start(&repo);
    run(&repo).assert_code(4);
    let status = repo.run(&["rollout", "status", &second]).expect_code(0);
    insta::with_settings!({filters => redactions()}, {
        insta::assert_snapshot!(status.stdout);
    });
    status.assert_stdout_has("…and 1 more key\n");
    // --full lists every change of every class group.
    let full = repo
        .run(&["rollout", "status", &second, "--full"])
        .expect_code(0);
    for change in [
        "~ settings.k009",
        "+ api.new_feature",
        "- worker.w029",
        "+ gdpr",
        "~ name",
        "~ shard",
    ] {
        assert!(full.stdout.contains(change), "{change}:\n{}", full.stdout);
    }
}

#[test]
fn run_in_a_pipe_prints_one_line_per_state_change_and_none_per_round() {
    let repo = fleet_repo("");
    let id = start(&repo);
    let waits = run(&repo).expect_code(4);
    approve(&repo, &id);
    let completes = run(&repo).expect_code(0);
    // A change whose dogfood error ratio breaches at once.
    repo.file("config/class/api-eu.yaml", "shard: 99\nname: api-eu\n")
        .file(
            "metrics.yaml",
            &error_series(&[("dogfood", 0.09), ("fleet", 0.001)]),
        )
        .commit_as("bad change", "dev@example.com");
    start(&repo);
    let halts = run(&repo).expect_code(1);
    let stderr = format!(
        "--- first run\n{}--- after the approval\n{}--- a bad change\n{}",
        waits.stderr, completes.stderr, halts.stderr
    );
    // Four healthy rounds soak dogfood: not one of them is a line.
    assert!(!stderr.contains(": round "), "{stderr}");
    assert_eq!(waits.stderr.lines().count(), 4, "{stderr}");
    assert!(
        !stderr.contains('\r'),
        "no progress bar in a pipe: {stderr:?}"
    );
    insta::with_settings!({filters => redactions()}, {
        insta::assert_snapshot!(stderr);
    });
}

#[test]
fn each_delivery_names_the_ring_directory_it_wrote() {
    let repo = fleet_repo("deliver:\n  kind: dir\n  path: out\n");
    let id = start(&repo);
    let waits = run(&repo).expect_code(4);
    waits.assert_stderr_has("dogfood: delivered ");
    waits.assert_stderr_has(" to directory out/dogfood/\n");
    assert!(!waits.stderr.contains("<ring>"), "{}", waits.stderr);
    assert!(repo.path().join("out/dogfood/canary.yaml").is_file());
    repo.run(&["rollout", "status", &id])
        .expect_code(0)
        .assert_stdout_has("approving it delivers to directory out/fleet/.");
    approve(&repo, &id);
    run(&repo)
        .expect_code(0)
        .assert_stderr_has(" to directory out/fleet/\n");
}
