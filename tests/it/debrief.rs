//! The debrief from the metric's history (against a real Prometheus), the
//! folded timeline of a long healthy soak, and the emergency rollback of a
//! finished rollout.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use crate::live::{Prometheus, Scraped, events, journal, ring_ref};
use crate::support::TestRepo;

/// What the exporter knows: the revision that is bad, when it first saw
/// the ring holding it, and when it first served bad counts.
#[derive(Default)]
struct Badness {
    revision: Option<String>,
    seen: Option<Instant>,
    turned_bad: Option<SystemTime>,
}

/// `http_requests_total{ring="canary", code}` at 100 requests/s, 1% failing;
/// 50% failing from `delay` after the exporter first sees the ring's git ref
/// on the bad revision (while it stays there).
fn exporter(repo: &std::path::Path, delay: Duration) -> (Scraped, Arc<Mutex<Badness>>) {
    let state: Arc<Mutex<Badness>> = Arc::default();
    let shared = state.clone();
    let repo = repo.to_path_buf();
    let (mut ok, mut failed) = (0.0f64, 0.0f64);
    let scraped = Scraped::start(move |dt| {
        let now = SystemTime::now();
        let holds = ring_ref(&repo, "canary");
        let mut s = shared.lock().unwrap();
        let on_bad = s.revision.as_deref() == Some(holds.as_str());
        if on_bad && s.seen.is_none() {
            s.seen = Some(Instant::now());
        }
        let bad = on_bad && s.seen.is_some_and(|seen| seen.elapsed() >= delay);
        if bad && s.turned_bad.is_none() {
            s.turned_bad = Some(now);
        }
        let ratio = if bad { 0.5 } else { 0.01 };
        ok += 100.0 * (1.0 - ratio) * dt;
        failed += 100.0 * ratio * dt;
        format!(
            "# TYPE http_requests_total counter\nhttp_requests_total{{ring=\"canary\",code=\"200\"}} {ok}\nhttp_requests_total{{ring=\"canary\",code=\"500\"}} {failed}\n"
        )
    });
    (scraped, state)
}

const ERROR_RATIO: &str = "sum(rate(http_requests_total{ring=\"canary\",code=~\"5..\"}[5s])) / sum(rate(http_requests_total{ring=\"canary\"}[5s]))";

/// A repo whose ring `canary` (gated on the error ratio, max 5%, every
/// `interval`) holds a good revision, with the next one committed:
/// (good, bad).
fn canary_repo(repo: &TestRepo, url: &str, interval: &str) -> (String, String) {
    repo.file(
        "ringmaster.yaml",
        &format!(
            "version: 1\nhierarchy:\n  - config/defaults.yaml\nhost_classes:\n  c0: {{ring: canary}}\nrings: rings/\nmetrics:\n  kind: prometheus\n  url: {url}\n"
        ),
    )
    .file("config/defaults.yaml", "port: 8080\n")
    .file(
        "rings/canary.yaml",
        &format!(
            "name: canary\norder: 1\nsoak: 60s\ninterval: {interval}\ngates:\n  - name: error-ratio\n    query: '{ERROR_RATIO}'\n    max: 0.05\ninconclusive_limit: 5\non_breach: rollback\n"
        ),
    );
    repo.commit("good config");
    let good = repo.rev_parse("HEAD");
    repo.git(&["update-ref", "refs/rings/canary", &good]);
    repo.file("config/defaults.yaml", "port: 9090\n")
        .commit("the change");
    (good, repo.rev_parse("HEAD"))
}

fn unix(at: &str) -> f64 {
    let t: jiff::Timestamp = at.parse().unwrap_or_else(|e| panic!("{at}: {e}"));
    t.as_millisecond() as f64 / 1000.0
}

/// The exporter turns bad 3 s after the canary ring gets the bad revision,
/// while the soak runs; the gate (error ratio over a 5 s rate window, max
/// 5%, evaluated every 2 s) halts a round or so later. The debrief's
/// "impact began", read back from Prometheus at 1 s steps, is within one
/// scrape interval of the moment the exporter first served bad counts.
///
/// Why one interval: at 1% → 50% failures, the first scrape after the turn
/// carries a whole scrape interval of bad requests, which alone lifts the
/// ratio over a 5 s window to ~13% (one bad interval in four), over the
/// 5% threshold. So the metric crosses at that scrape's timestamp (taken
/// just before the exporter answered: at most a few ms before the recorded
/// moment), and the first 1 s step at or after it is within 1 s. A higher
/// threshold would cross later, by up to the rate window (5 s): then the
/// onset is that of the metric as the gate defines it, not of the traffic.
#[test]
fn the_debrief_s_impact_began_is_within_one_scrape_of_when_the_exporter_turned_bad() {
    let repo = TestRepo::new();
    let (scraped, badness) = exporter(repo.path(), Duration::from_secs(3));
    let prom = Prometheus::start(&[scraped.port], None);
    let (good, bad) = canary_repo(&repo, &prom.url(), "2s");
    badness.lock().unwrap().revision = Some(bad.clone());
    prom.wait_for(ERROR_RATIO);
    // Enough history for the 5 s window before the rollout starts.
    std::thread::sleep(Duration::from_secs(5));

    let id = repo.run(&["rollout", "start", "--format", "json"]).json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = repo.run(&["rollout", "run"]).expect_code(1);
    assert!(
        out.stdout.contains("gate `error-ratio` breached"),
        "{}",
        out.all_output()
    );
    assert_eq!(repo.rev_parse("refs/rings/canary"), good, "rolled back");
    let turned_bad = badness
        .lock()
        .unwrap()
        .turned_bad
        .expect("the exporter turned bad")
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();

    // Journaled after the rollback, from the metric's history.
    let entries = journal(&repo);
    let kinds: Vec<&str> = entries
        .iter()
        .filter_map(|e| e["event"]["kind"].as_str())
        .collect();
    let at = |kind: &str| kinds.iter().rposition(|k| *k == kind).unwrap();
    assert!(at("impact") > at("rolled-back"), "{kinds:?}");
    let impact = events(&entries, "impact", "canary");
    assert_eq!(impact.len(), 1, "{impact:?}");
    let impact = impact[0];
    assert_eq!(impact["gate"], "error-ratio");
    assert_eq!(impact["step_s"], 1, "{impact}");
    assert!(impact.get("unknown").is_none(), "{impact}");
    let began = unix(impact["began"].as_str().expect("an onset"));
    assert!(
        (turned_bad - 1.0..=turned_bad + 1.0).contains(&began),
        "impact began at {began}, the exporter turned bad at {turned_bad}: {impact}"
    );
    // The impact is after the delivery: the revision's own, not earlier.
    let delivered = entries
        .iter()
        .find(|e| e["event"]["kind"] == "delivered")
        .map(|e| unix(e["at"].as_str().unwrap()))
        .unwrap();
    assert!(began >= delivered + 2.0, "{began} vs delivery {delivered}");

    // Time to detect counts from there; time to mitigate to the rollback.
    let timeline = repo
        .run(&["rollout", "timeline", &id, "--format", "json"])
        .json();
    let halted = entries
        .iter()
        .find(|e| e["event"]["kind"] == "halted")
        .unwrap();
    let halt = unix(halted["event"]["halt"]["at"].as_str().unwrap());
    assert_eq!(
        timeline["time_to_detect_s"].as_f64(),
        Some(halt - began),
        "{timeline}"
    );
    assert!((0.0..=4.0).contains(&(halt - began)), "{timeline}");
    assert_eq!(timeline["time_to_detect_from"], "impact began → halt");
    assert_eq!(timeline["detect_goal_met"], true);
    assert_eq!(timeline["mitigate_goal_met"], true);
    assert_eq!(timeline["impact"]["began"], impact["began"]);

    let md = repo.run(&["rollout", "timeline", &id]).stdout;
    assert!(
        md.contains(&format!(
            "**Impact began** {}",
            impact["began"].as_str().unwrap()
        )),
        "{md}"
    );
    assert!(
        md.contains("**Time to detect** (impact began → halt)"),
        "{md}"
    );
    let html = repo
        .run(&["rollout", "timeline", &id, "--format", "html"])
        .stdout;
    assert!(html.contains("marker-impact"), "the chart marks the onset");

    let status = repo.run(&["rollout", "status", &id]).stdout;
    assert!(status.contains("impact began "), "{status}");
    assert!(
        status.contains("(impact began → halt)") && status.contains("time to mitigate "),
        "{status}"
    );
    let status = repo
        .run(&["rollout", "status", &id, "--format", "json"])
        .json();
    assert_eq!(status["debrief"]["impact_began"], impact["began"]);
    repo.run(&["audit", "verify"]).assert_code(0);
}

/// A config repo with embedded metrics and the given ring files (name →
/// YAML), rings' refs on a good revision, and a change committed.
fn embedded_repo(rings: &[(&str, String)], metrics: &str) -> TestRepo {
    let repo = TestRepo::new();
    let classes: String = rings
        .iter()
        .map(|(r, _)| format!("  c-{r}: {{ring: {r}}}\n"))
        .collect();
    repo.file(
        "ringmaster.yaml",
        &format!(
            "version: 1\nhierarchy:\n  - config/defaults.yaml\nhost_classes:\n{classes}rings: rings/\nmetrics:\n  kind: embedded\n  file: metrics.yaml\n"
        ),
    )
    .file("config/defaults.yaml", "port: 8080\n")
    .file("metrics.yaml", metrics);
    for (name, body) in rings {
        repo.file(&format!("rings/{name}.yaml"), body);
    }
    repo.commit("good config");
    let good = repo.rev_parse("HEAD");
    for (name, _) in rings {
        repo.git(&["update-ref", &format!("refs/rings/{name}"), &good]);
    }
    repo.file("config/defaults.yaml", "port: 9090\n")
        .commit("the change");
    repo
}

/// Starts a rollout and drives it on the simulated clock: its id.
fn simulated_rollout(repo: &TestRepo, code: i32) -> String {
    let id = repo
        .run(&[
            "rollout",
            "start",
            "--as",
            "dev@example.com",
            "--format",
            "json",
        ])
        .json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    repo.run_env(
        &["rollout", "run", "--as", "ci@example.com"],
        &[("RINGMASTER_CLOCK", "simulated")],
    )
    .assert_code(code);
    id
}

/// An hour's soak at 30 s with two gates is 240 healthy evaluations: the
/// markdown timeline folds them into one row per gate (count, span, rounds,
/// value range); the JSON keeps every entry, the HTML table folds too.
#[test]
fn a_one_hour_soak_with_two_gates_folds_into_one_row_per_gate() {
    let ring = "name: canary\norder: 1\nsoak: 1h\ninterval: 30s\ngates:\n  - name: error-ratio\n    query: errors\n    max: 0.01\n  - name: latency-p99\n    query: latency\n    max: 250\non_breach: rollback\n";
    let metrics = "series:\n  errors: [[0, 0.001], [900, 0.002], [1800, 0.0015]]\n  latency: [[0, 120], [1200, 135]]\n";
    let repo = embedded_repo(&[("canary", ring.to_owned())], metrics);
    let id = simulated_rollout(&repo, 0);
    let entries = journal(&repo);
    assert_eq!(events(&entries, "evaluated", "canary").len(), 240);
    let md = repo
        .run(&["rollout", "timeline", &id])
        .expect_code(0)
        .stdout;
    let table_rows = md.lines().filter(|l| l.starts_with("| ")).count();
    assert!(table_rows < 12, "{md}");
    insta::with_settings!({filters => crate::support::redactions()}, {
        insta::assert_snapshot!("folded_soak_timeline_markdown", md);
    });
    let json = repo
        .run(&["rollout", "timeline", &id, "--format", "json"])
        .json();
    let evaluated = json["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"]["kind"] == "evaluated")
        .count();
    assert_eq!(evaluated, 240, "JSON keeps every entry");
    let html = repo
        .run(&["rollout", "timeline", &id, "--format", "html"])
        .stdout;
    assert_eq!(html.matches("<tr class=\"ev ev-evaluated").count(), 2);
    assert!(html.contains("evaluated ×120"), "{html}");
    // The chart still draws every sample.
    assert_eq!(html.matches("<circle").count(), 240, "every sample charted");
}

fn plain_ring(name: &str, order: u32, approval: bool) -> String {
    format!(
        "name: {name}\norder: {order}\nsoak: 1m\ninterval: 30s\napproval:\n  required: {approval}\n  approvers: [rm@example.com]\n"
    )
}

/// `rollout rollback ID` without `--ring` on a completed rollout puts every
/// ring back on its previous revision, widest first, each journaled with
/// the actor; a ring a later rollout has moved since is refused, by name,
/// and the others are still restored (git-ref delivery).
#[test]
fn an_emergency_rollback_of_a_finished_rollout_restores_every_ring_widest_first() {
    let rings = [
        ("dogfood", plain_ring("dogfood", 1, false)),
        ("single", plain_ring("single", 2, false)),
        ("multi", plain_ring("multi", 3, false)),
    ];
    let repo = embedded_repo(&rings, "series: {}\n");
    let before = repo.rev_parse("HEAD~1");
    let released = repo.rev_parse("HEAD");
    let first = simulated_rollout(&repo, 0);
    for ring in ["dogfood", "single", "multi"] {
        assert_eq!(repo.rev_parse(&format!("refs/rings/{ring}")), released);
    }
    // A later rollout has already moved dogfood (single waits for approval).
    repo.file("rings/single.yaml", &plain_ring("single", 2, true))
        .file("config/defaults.yaml", "port: 7070\n")
        .commit("the next change");
    let next_revision = repo.rev_parse("HEAD");
    let second = simulated_rollout(&repo, 4);
    assert_eq!(repo.rev_parse("refs/rings/dogfood"), next_revision);

    let out = repo
        .run(&["rollout", "rollback", &first, "--as", "rm@example.com"])
        .expect_code(2);
    let text = out.stdout.clone();
    assert!(
        text.contains(&format!(
            "emergency rollback of {first} by rm@example.com, widest ring first:"
        )),
        "{}",
        out.all_output()
    );
    let line = |ring: &str| {
        text.lines()
            .position(|l| l.starts_with(&format!("  {ring}: ")))
            .unwrap_or_else(|| panic!("no line for {ring}: {text}"))
    };
    assert!(
        line("multi") < line("single") && line("single") < line("dogfood"),
        "{text}"
    );
    assert!(
        text.contains(&format!("  multi: rolled back to {}", &before[..10])),
        "{text}"
    );
    assert!(
        text.contains(&format!("  single: rolled back to {}", &before[..10])),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "  dogfood: refused: ring dogfood no longer holds {first}'s revision {}: it holds {} (delivered by {second})",
            &released[..10],
            &next_revision[..10]
        )),
        "{text}"
    );
    assert!(
        text.contains("restored 2 of 3 rings; refused: dogfood"),
        "{text}"
    );
    assert_eq!(repo.rev_parse("refs/rings/multi"), before);
    assert_eq!(repo.rev_parse("refs/rings/single"), before);
    assert_eq!(
        repo.rev_parse("refs/rings/dogfood"),
        next_revision,
        "the later rollout's delivery is left alone"
    );

    // Journaled widest first, each by the person who asked.
    let entries = journal(&repo);
    let rollbacks: Vec<(String, String)> = entries
        .iter()
        .filter(|e| e["rollout"] == first.as_str() && e["event"]["kind"] == "rolling-back")
        .map(|e| {
            (
                e["event"]["ring"].as_str().unwrap().to_owned(),
                e["actor"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        rollbacks,
        [
            ("multi".to_owned(), "rm@example.com".to_owned()),
            ("single".to_owned(), "rm@example.com".to_owned())
        ]
    );
    let status = repo
        .run(&["rollout", "status", &first, "--format", "json"])
        .json();
    let states: Vec<&str> = status["rings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["state"].as_str().unwrap())
        .collect();
    assert_eq!(
        states,
        ["promoted", "rolled-back", "rolled-back"],
        "{status}"
    );
    // Asked again: nothing left that is this rollout's to restore.
    let again = repo
        .run(&["rollout", "rollback", &first, "--as", "rm@example.com"])
        .expect_code(2);
    assert!(
        again.stdout.contains("  dogfood: refused: "),
        "{}",
        again.all_output()
    );
    repo.run(&["audit", "verify"]).assert_code(0);
}
