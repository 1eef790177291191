//! Regressions the rest of the suite once let through: each test here fails
//! when one deliberate one-line bug is put back (a gate breaching at its
//! threshold, a journal hash that ignores the time or the event, a diff that
//! prints a secret, SARIF related locations a line off, inconclusive rounds
//! counted as soak time after a restart, provenance layers numbered from 0,
//! a burn rate compared with 1 instead of its factor, an author approving
//! their own change). Exact values, not `contains`: the bugs are off by one.

use serde_json::{Value, json};

use crate::support::{Output, TestRepo, items, rollout_killed_after, text};

/// A config repo with one host class in one ring, `dogfood`, whose ring file
/// is `ring` (name, order and class are given here) and whose embedded
/// metrics file is `metrics`. Committed by `dev@example.com`, the author
/// of the revision a rollout ships.
fn one_ring_repo(ring: &str, metrics: &str) -> TestRepo {
    let repo = TestRepo::new();
    repo.file(
        "ringmaster.yaml",
        "version: 1\nhierarchy:\n  - config/defaults.yaml\nhost_classes:\n  a: {ring: dogfood}\nrings: rings/\nmetrics:\n  kind: embedded\n  file: metrics.yaml\n",
    )
    .file("config/defaults.yaml", "port: 8080\n")
    .file("rings/dogfood.yaml", &format!("name: dogfood\norder: 1\n{ring}"))
    .file("metrics.yaml", metrics);
    repo.git(&["add", "-A"]);
    repo.git_env(
        &["commit", "-qm", "config"],
        &[
            ("GIT_AUTHOR_EMAIL", "dev@example.com"),
            ("GIT_COMMITTER_EMAIL", "dev@example.com"),
        ],
    );
    repo
}

/// `rollout run` on the simulated clock (soaks take no wall time).
fn drive(repo: &TestRepo, extra: &[(&str, &str)]) -> Output {
    let mut envs = vec![("RINGMASTER_CLOCK", "simulated")];
    envs.extend_from_slice(extra);
    repo.run_env(&["rollout", "run"], &envs)
}

/// The journal's entries, parsed.
fn journal(repo: &TestRepo) -> Vec<Value> {
    std::fs::read_to_string(repo.path().join(".git/ringmaster/journal.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("a journal line is JSON"))
        .collect()
}

/// `gates check --ring dogfood --format json`, which must exit with `code`:
/// its gates' verdicts.
fn dogfood_gate_verdicts(repo: &TestRepo, code: i32) -> Vec<(String, String, Value, Value)> {
    let out = repo.run(&["gates", "check", "--ring", "dogfood", "--format", "json"]);
    out.assert_code(code);
    gate_verdicts(&out)
}

/// `gates check --ring RING --format json`: `(gate, verdict, value, threshold)`.
fn gate_verdicts(out: &Output) -> Vec<(String, String, Value, Value)> {
    items(&out.json()["rings"][0], "gates")
        .iter()
        .map(|g| {
            (
                text(g, "name"),
                text(g, "verdict"),
                g["value"].clone(),
                g["threshold"].clone(),
            )
        })
        .collect()
}

fn verdict(
    gate: &str,
    verdict: &str,
    value: Value,
    threshold: Value,
) -> (String, String, Value, Value) {
    (gate.to_owned(), verdict.to_owned(), value, threshold)
}

// ------------------------------------------------------------------ gates

/// `max` and `min` are limits a value may reach: only a value beyond them
/// breaches (SPEC §3.4: "breach when value > max (or < min …)").
#[test]
fn a_value_exactly_at_max_or_min_is_healthy_and_one_beyond_breaches() {
    let repo = one_ring_repo(
        "soak: 30s\ninterval: 30s\ngates:\n  - {name: at-max, query: errors, max: 0.25}\n  - {name: at-min, query: rps, min: 10}\n  - {name: over-max, query: errors, max: 0.125}\n  - {name: under-min, query: rps, min: 10.5}\n",
        "series:\n  errors: [[0, 0.25]]\n  rps: [[0, 10]]\n",
    );
    // An enforcing gate would halt a soak: exit 1.
    assert_eq!(
        dogfood_gate_verdicts(&repo, 1),
        [
            verdict("at-max", "healthy", json!(0.25), json!(0.25)),
            verdict("at-min", "healthy", json!(10.0), json!(10.0)),
            verdict("over-max", "breach", json!(0.25), json!(0.125)),
            verdict("under-min", "breach", json!(10.0), json!(10.5)),
        ]
    );
    // The same values with only the gates at their limits: nothing would halt.
    repo.file(
        "rings/dogfood.yaml",
        "name: dogfood\norder: 1\nsoak: 30s\ninterval: 30s\ngates:\n  - {name: at-max, query: errors, max: 0.25}\n  - {name: at-min, query: rps, min: 10}\n",
    );
    assert_eq!(
        dogfood_gate_verdicts(&repo, 0)
            .iter()
            .map(|v| v.1.as_str())
            .collect::<Vec<_>>(),
        ["healthy", "healthy"]
    );
}

/// A soak whose error ratio sits exactly at the gate's `max` the whole time
/// promotes every ring: reaching the limit is not a breach.
#[test]
fn a_rollout_whose_metric_sits_exactly_at_max_completes() {
    let repo = one_ring_repo(
        "soak: 60s\ninterval: 30s\ngates:\n  - {name: errors, query: errors, max: 0.5}\ninconclusive_limit: 2\n",
        "series:\n  errors: [[0, 0.5]]\n",
    );
    repo.run(&["rollout", "start"]).assert_code(0);
    let out = drive(&repo, &[]);
    out.assert_code(0);
    let verdicts: Vec<String> = journal(&repo)
        .iter()
        .filter(|e| e["event"]["kind"] == "evaluated")
        .map(|e| {
            e["event"]["verdict"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(verdicts, ["healthy", "healthy"], "{}", out.stdout);
}

/// A burn-rate pair breaches when both windows' burn rates exceed the pair's
/// `factor` (SPEC §3.4), not merely 1 (budget spent exactly on time). With
/// objective 0.5 the budget is 0.5, so an error ratio r burns at 2r.
#[test]
fn a_burn_rate_between_one_and_the_factor_is_healthy() {
    let gate = |name: &str, prefix: &str| {
        format!(
            "  - name: {name}\n    burn_rate:\n      objective: 0.5\n      errors: '{prefix}_err[{{window}}]'\n      total: '{prefix}_all[{{window}}]'\n      windows:\n        - {{long: 1h, short: 5m, factor: 4}}\n"
        )
    };
    let series = |prefix: &str, long: f64, short: f64| {
        format!(
            "  '{prefix}_err[1h]': [[0, {long}]]\n  '{prefix}_all[1h]': [[0, 1]]\n  '{prefix}_err[5m]': [[0, {short}]]\n  '{prefix}_all[5m]': [[0, 1]]\n"
        )
    };
    let ring = format!(
        "soak: 30s\ninterval: 30s\ngates:\n{}{}{}{}",
        gate("between", "b"),
        gate("at-factor", "f"),
        gate("long-only", "l"),
        gate("both-over", "o"),
    );
    let metrics = format!(
        "series:\n{}{}{}{}",
        // Burn 2 on both windows: over 1, under the factor 4.
        series("b", 1.0, 1.0),
        // Burn 4 on both windows: at the factor, not over it.
        series("f", 2.0, 2.0),
        // Burn 5 over the last hour, 1 over the last 5 minutes: recovered.
        series("l", 2.5, 0.5),
        // Burn 5 on both: breach.
        series("o", 2.5, 2.5),
    );
    let repo = one_ring_repo(&ring, &metrics);
    assert_eq!(
        dogfood_gate_verdicts(&repo, 1),
        [
            verdict("between", "healthy", json!(2.0), json!(4.0)),
            verdict("at-factor", "healthy", json!(4.0), json!(4.0)),
            verdict("long-only", "healthy", json!(1.0), json!(4.0)),
            verdict("both-over", "breach", json!(5.0), json!(4.0)),
        ]
    );
}

// ---------------------------------------------------------------- journal

/// A journal written by ringmaster 0.1.0 (`rollout freeze`, `unfreeze`,
/// `start`, `run` on the simulated clock), committed byte for byte.
const JOURNAL_0_1_0: &str = include_str!("../data/journal-0.1.0/journal.jsonl");
const JOURNAL_HEAD_0_1_0: &str = include_str!("../data/journal-0.1.0/journal.head");

/// A repository whose embedded journal is `journal` (with the fixture's head).
fn repo_with_journal(journal: &str) -> TestRepo {
    let repo = TestRepo::new();
    repo.file(".git/ringmaster/journal.jsonl", journal)
        .file(".git/ringmaster/journal.head", JOURNAL_HEAD_0_1_0);
    repo
}

/// `audit verify` on a repo holding `edited`: exit 1, not intact, and one
/// problem, at line and seq `entry`: edited (its hash no longer matches).
fn assert_caught_as_edited_at(edited: &str, entry: u64) {
    let (code, intact, problems) = verify(&repo_with_journal(edited));
    assert_eq!(
        (code, intact, problems),
        (
            Some(1),
            json!(false),
            vec![(
                entry,
                entry,
                "edited: its content does not match its hash".to_owned()
            )]
        )
    );
}

/// `audit verify --format json`: (exit code, intact, [(line, seq, problem)]).
fn verify(repo: &TestRepo) -> (Option<i32>, Value, Vec<(u64, u64, String)>) {
    let out = repo.run(&["audit", "verify", "--format", "json"]);
    out.assert_no_panic();
    let json = out.json();
    let problems = json["problems"]
        .as_array()
        .unwrap_or_else(|| panic!("no problems array in {}", out.stdout))
        .iter()
        .map(|p| {
            (
                p["line"].as_u64().unwrap_or_default(),
                p["seq"].as_u64().unwrap_or_default(),
                p["problem"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    (out.code, json["intact"].clone(), problems)
}

/// The hash of an entry is SHA-256 over its canonical JSON: changing what is
/// hashed (dropping `at` or `event`, reordering fields) breaks every journal
/// already written, so a journal from the previous release must verify and
/// replay, and the hashes are pinned here as values.
#[test]
fn a_journal_written_by_release_0_1_0_verifies_and_replays_with_pinned_hashes() {
    let repo = repo_with_journal(JOURNAL_0_1_0);
    let (code, intact, problems) = verify(&repo);
    assert_eq!((code, intact, problems), (Some(0), json!(true), vec![]));
    let entries: Vec<Value> = JOURNAL_0_1_0
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Two entries that differ in `at` and `round` only, and the last one.
    assert_eq!(
        (
            &entries[5]["hash"],
            &entries[6]["hash"],
            &entries[8]["hash"]
        ),
        (
            &json!("174ca2d28975ab20182fcf19881cdc770672359ec837dbc566f7e8e01115736d"),
            &json!("17a43635c747a1ee5c63319a25e7b780ef3415d07e142281cc220c031c13a410"),
            &json!("19b5e3e574164c23101ac644112b74cfbec12a0e878ead77664a9928a7f1ca0e"),
        )
    );
    let status = repo.run(&["rollout", "status", "r-20261206-0001", "--format", "json"]);
    status.assert_code(0);
    let state = status.json();
    assert_eq!(
        (&state["state"], &state["rings"][0]["state"]),
        (&json!("complete"), &json!("promoted"))
    );
}

/// Moving an entry in time (here the second soak round an hour earlier, which
/// would shorten the recorded soak) is tampering, caught at that entry.
#[test]
fn editing_an_entrys_time_in_the_file_journal_is_caught() {
    let line = JOURNAL_0_1_0.lines().nth(6).unwrap();
    assert!(line.contains(r#""at":"2026-12-06T21:25:28Z""#), "{line}");
    let edited = JOURNAL_0_1_0.replacen(
        r#""at":"2026-12-06T21:25:28Z""#,
        r#""at":"2026-12-06T20:25:28Z""#,
        1,
    );
    assert_caught_as_edited_at(&edited, 7);
}

/// Rewriting what happened (a soak round's verdict and value) is tampering,
/// caught at that entry.
#[test]
fn editing_an_entrys_event_in_the_file_journal_is_caught() {
    let healthy = r#""round":1,"verdict":"healthy","value":0.001"#;
    assert_eq!(JOURNAL_0_1_0.matches(healthy).count(), 1);
    let edited =
        JOURNAL_0_1_0.replacen(healthy, r#""round":1,"verdict":"healthy","value":0.002"#, 1);
    assert_caught_as_edited_at(&edited, 6);
}

// ------------------------------------------------------------------- diff

/// A credential added in a layer: `diff` is posted as a pull-request
/// comment, so no format prints it, and each shows the masked form.
#[test]
fn diff_masks_an_added_secret_in_every_format() {
    const PASSWORD: &str = "hunter2-is-secret";
    const TOKEN: &str = "ghp_Zx8Kq2Lm9Np4Rt7Vw1Yb3Cd6Ef0Gh5Jk8Mn2";
    let repo = TestRepo::new();
    repo.file(
        "ringmaster.yaml",
        "version: 1\nhierarchy:\n  - config/defaults.yaml\n  - config/class/{class}.yaml\nhost_classes:\n  api: {}\n",
    )
    .file("config/defaults.yaml", "port: 8080\n")
    .commit("base");
    repo.file(
        "config/class/api.yaml",
        &format!("db:\n  password: \"{PASSWORD}\"\napi_token: {TOKEN}\n"),
    )
    .commit("credentials in a layer");
    let mut all = String::new();
    for args in [
        &["--format", "human"][..],
        &["--format", "json"],
        &["--format", "markdown"],
        &["--text"],
    ] {
        let mut full = vec!["diff", "--base", "HEAD~1", "--head", "HEAD"];
        full.extend_from_slice(args);
        let out = repo.run(&full);
        out.assert_code(0);
        for raw in [PASSWORD, TOKEN, "hunter2", "Zx8Kq2Lm9Np4"] {
            assert!(
                !out.all_output().contains(raw),
                "{args:?} prints `{raw}`:\n{}",
                out.all_output()
            );
        }
        for masked in ["hunt…(17 chars)", "ghp_…(40 chars)"] {
            assert!(
                out.stdout.contains(masked),
                "{args:?} lacks `{masked}`:\n{}",
                out.stdout
            );
        }
        all.push_str(&format!("==== diff {}\n{}", args.join(" "), out.stdout));
    }
    insta::with_settings!({filters => vec![
        (r"\b[0-9a-f]{40}\b", "[sha]"),
        (r"\b[0-9a-f]{10}\b", "[short-sha]"),
    ]}, {
        insta::assert_snapshot!(all);
    });
}

// ------------------------------------------------------------------ SARIF

/// The standard repo with `config/a.yaml` holding `text`: `check --format
/// sarif` must exit 1; its results.
fn sarif_results_of_a_yaml(text: &str) -> Vec<Value> {
    let repo = TestRepo::standard();
    repo.file("config/a.yaml", text);
    let out = repo.run(&["check", "--format", "sarif"]);
    out.assert_code(1);
    out.json()["runs"][0]["results"]
        .as_array()
        .unwrap_or_else(|| panic!("no results in {}", out.stdout))
        .clone()
}

/// GitHub code scanning links a finding's related locations: the first
/// definition of a duplicate key is at exactly 3:5, not a line or column off.
#[test]
fn sarif_related_locations_point_at_the_exact_line_and_column() {
    let results = sarif_results_of_a_yaml(
        "name: a\nserver:\n    host: first\n    port: 80\n    host: second\n",
    );
    let duplicate: Vec<&Value> = results
        .iter()
        .filter(|r| r["ruleId"] == "duplicate-key")
        .collect();
    assert_eq!(duplicate.len(), 1, "{results:?}");
    assert_eq!(
        duplicate[0]["locations"][0]["physicalLocation"]["region"],
        json!({"startLine": 5, "startColumn": 5})
    );
    insta::assert_json_snapshot!(duplicate[0]["relatedLocations"]);
}

/// Code scanning identifies an alert by its fingerprint: two findings of one
/// rule in one file must not share it (they would merge into one alert), and
/// it is FNV-1a over rule, file, JSON path and class, so that it stays the
/// same across releases and platforms. Computed here independently.
#[test]
fn sarif_fingerprints_are_fnv1a_of_rule_file_and_path_and_differ_per_finding() {
    fn fnv1a(text: &str) -> String {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for b in text.bytes() {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        format!("{hash:016x}")
    }
    let fingerprints: Vec<(String, Value)> =
        sarif_results_of_a_yaml("server:\n  host: a\n  port: eighty\n  mode: [1]\n")
            .iter()
            .map(|r| {
                (
                    r["ruleId"].as_str().unwrap_or_default().to_owned(),
                    r["partialFingerprints"]["ringmaster/v1"].clone(),
                )
            })
            .collect();
    assert_eq!(
        fingerprints,
        [
            (
                "schema".to_owned(),
                json!(fnv1a("schema\0config/a.yaml\0/server/port\0\0"))
            ),
            (
                "schema".to_owned(),
                json!(fnv1a("schema\0config/a.yaml\0/server/mode\0\0"))
            ),
        ]
    );
    assert_ne!(fingerprints[0].1, fingerprints[1].1);
}

// ---------------------------------------------------------------- rollout

/// A soak needs `soak / interval` healthy rounds. Rounds without data are
/// inconclusive: they are not soak time, neither in the run that evaluated
/// them nor in the run that resumes after that driver crashed.
#[test]
fn inconclusive_rounds_before_a_driver_restart_are_not_soak_time() {
    // No data for the first 90 s: rounds at 0, 30 and 60 s are inconclusive,
    // 90 and 120 s healthy. Two healthy rounds promote.
    let ring = "soak: 60s\ninterval: 30s\ngates:\n  - {name: errors, query: errors, max: 0.01}\ninconclusive_limit: 10\n";
    let metrics = "series:\n  errors: [[90, 0.001]]\n";
    // Appends: delivering, delivered, then one per round. The driver dies
    // after the first inconclusive round, after the second, or not at all.
    for abort_after in [Some("3"), Some("4"), None] {
        let repo = one_ring_repo(ring, metrics);
        repo.run(&["rollout", "start"]).assert_code(0);
        if let Some(n) = abort_after {
            rollout_killed_after(&repo, n, &format!("after {n}"));
        }
        drive(&repo, &[]).assert_code(0);
        let entries = journal(&repo);
        let rounds: Vec<(u64, &str)> = entries
            .iter()
            .filter(|e| e["event"]["kind"] == "evaluated")
            .map(|e| {
                (
                    e["event"]["round"].as_u64().unwrap_or_default(),
                    e["event"]["verdict"].as_str().unwrap_or_default(),
                )
            })
            .collect();
        let healthy = rounds.iter().filter(|(_, v)| *v == "healthy").count();
        assert_eq!(healthy, 2, "abort after {abort_after:?}: {rounds:?}");
        // Promoted right after the second healthy round, not before it.
        let kinds: Vec<&str> = entries
            .iter()
            .map(|e| e["event"]["kind"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(
            kinds[kinds.len() - 3..],
            ["evaluated", "promoted", "completed"],
            "abort after {abort_after:?}: {kinds:?}"
        );
        assert_eq!(
            rounds.last().map(|r| r.1),
            Some("healthy"),
            "abort after {abort_after:?}: {rounds:?}"
        );
        repo.run(&["audit", "verify"]).assert_code(0);
    }
}

/// The author of a revision never approves it, even when the ring lists
/// them as an approver: the refusal is a usage error (exit 2), nothing is
/// journaled, and the ring keeps waiting until someone else approves.
#[test]
fn the_author_cannot_approve_even_when_listed_as_an_approver() {
    let repo = one_ring_repo(
        "soak: 30s\ninterval: 30s\napproval:\n  required: true\n  approvers: [dev@example.com, rm@example.com]\ngates:\n  - {name: errors, query: errors, max: 0.01}\n",
        "series:\n  errors: [[0, 0.001]]\n",
    );
    let id = repo.run(&["rollout", "start", "--format", "json"]).json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    drive(&repo, &[]).assert_code(4);
    let ring_state = |repo: &TestRepo| {
        repo.run(&["rollout", "status", &id, "--format", "json"])
            .json()["rings"][0]["state"]
            .clone()
    };
    assert_eq!(ring_state(&repo), "awaiting-approval");
    let before = journal(&repo).len();

    let own = repo.run(&[
        "rollout",
        "approve",
        &id,
        "--ring",
        "dogfood",
        "--as",
        "dev@example.com",
    ]);
    own.assert_code(2);
    assert_eq!(journal(&repo).len(), before, "the refusal journals nothing");
    assert_eq!(ring_state(&repo), "awaiting-approval");
    drive(&repo, &[]).assert_code(4);
    assert_eq!(
        repo.run(&["rollout", "status", &id, "--format", "json"])
            .json()["rings"][0]["approved_by"],
        Value::Null
    );

    repo.run(&[
        "rollout",
        "approve",
        &id,
        "--ring",
        "dogfood",
        "--as",
        "rm@example.com",
    ])
    .assert_code(0);
    drive(&repo, &[]).assert_code(0);
    let status = repo
        .run(&["rollout", "status", &id, "--format", "json"])
        .json();
    assert_eq!(
        (&status["state"], &status["rings"][0]["approved_by"]),
        (&json!("complete"), &json!("rm@example.com"))
    );
}

// ------------------------------------------------------------- provenance

/// `render --provenance --format json` numbers layers from 1, as `explain`
/// does and as the hierarchy is listed, and points at the key's column. The
/// whole answer for a class with four applicable layers, pinned.
#[test]
fn provenance_layers_count_from_one_and_columns_are_the_keys() {
    let repo = TestRepo::layered();
    let out = repo.run(&[
        "render",
        "--class",
        "web-us",
        "--provenance",
        "--format",
        "json",
    ]);
    out.assert_code(0);
    let json = out.json();
    // `features.beta` is set by config/tenant/{tenant}.yaml, the fourth
    // entry of the hierarchy, as `  beta: true` (key in column 3).
    assert_eq!(
        json["leaves"]["features.beta"],
        json!({"pointer": "/features/beta", "value": true, "file": "config/tenant/acme.yaml", "line": 3, "column": 3, "layer": 4})
    );
    insta::assert_json_snapshot!(json);
}
