//! Baseline (`compare:`) gates against a real Prometheus (Debian's
//! `prometheus`, started per test on loopback by `live::Prometheus`): an
//! exporter in the test serves per-ring request and error counters whose
//! error ratio follows what ringmaster delivered (the rings' git refs).
//! The backtest loads synthetic history written with `promtool`.

use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::live::{Prometheus, Scraped, events, journal, ring_ref};
use crate::support::TestRepo;

/// The normal error ratio of every ring.
const NORMAL: f64 = 0.01;

/// What the exporter's error ratio is for a ring, given whether the canary
/// holds the watched revision: (ring, canary holds it) → ratio.
type Ratio = fn(&str, bool) -> f64;

/// `requests_total{ring, code}` at 50 requests/s per ring; the error share
/// comes from `ratio`, asked at every scrape.
struct Exporter {
    _scraped: Scraped,
    port: u16,
    watched: Arc<Mutex<Option<String>>>,
}

impl Exporter {
    fn start(repo: &Path, rings: &[&str], ratio: Ratio) -> Exporter {
        let watched: Arc<Mutex<Option<String>>> = Arc::default();
        let watched2 = watched.clone();
        let repo = repo.to_path_buf();
        let mut counters: Vec<(String, f64, f64)> =
            rings.iter().map(|r| (r.to_string(), 0.0, 0.0)).collect();
        let scraped = Scraped::start(move |dt| {
            let holds = ring_ref(&repo, "canary");
            let new = watched2.lock().unwrap().as_deref() == Some(holds.as_str());
            let mut body = String::from("# TYPE requests_total counter\n");
            for (ring, ok, failed) in counters.iter_mut() {
                let r = ratio(ring, new);
                *ok += 50.0 * (1.0 - r) * dt;
                *failed += 50.0 * r * dt;
                body.push_str(&format!(
                    "requests_total{{ring=\"{ring}\",code=\"200\"}} {ok}\nrequests_total{{ring=\"{ring}\",code=\"500\"}} {failed}\n"
                ));
            }
            body
        });
        Exporter {
            port: scraped.port,
            _scraped: scraped,
            watched,
        }
    }

    /// From now on the exporter reacts to the canary holding `revision`.
    fn watch(&self, revision: &str) {
        *self.watched.lock().unwrap() = Some(revision.to_owned());
    }
}

/// The error ratio of the rings `selector` matches, over a 5 s rate window.
fn error_ratio(selector: &str) -> String {
    format!(
        "sum(rate(requests_total{{{selector},code=\"500\"}}[5s])) / sum(rate(requests_total{{{selector}}}[5s]))"
    )
}

/// The compare gate's template: the same ratio for `{ring}`.
fn template() -> String {
    error_ratio("ring=~\"{ring}\"")
}

/// A two-ring repo (canary, then prod) whose rings hold a good revision,
/// with the next one committed; canary's gates are `canary_gates` (YAML
/// list items), prod has a loose threshold gate. Both rings tolerate 10
/// inconclusive rounds in a row: on a loaded machine a 1 s scrape can be
/// late enough to leave a 5 s rate window without two samples. Returns
/// (good, change).
fn repo_with(
    repo: &TestRepo,
    url: &str,
    canary_soak: &str,
    canary_gates: &str,
) -> (String, String) {
    repo.file(
        "ringmaster.yaml",
        &format!(
            "version: 1\nhierarchy:\n  - config/defaults.yaml\nhost_classes:\n  web-canary: {{ring: canary}}\n  web: {{ring: prod}}\nrings: rings/\nmetrics:\n  kind: prometheus\n  url: {url}\n"
        ),
    )
    .file("config/defaults.yaml", "port: 8080\n")
    .file(
        "rings/canary.yaml",
        &format!(
            "name: canary\norder: 1\nsoak: {canary_soak}\ninterval: 1s\ninconclusive_limit: 10\non_breach: rollback\ngates:\n{canary_gates}"
        ),
    )
    .file(
        "rings/prod.yaml",
        &format!(
            "name: prod\norder: 2\nsoak: 1s\ninterval: 1s\ninconclusive_limit: 10\ngates:\n  - name: error-ratio\n    query: '{}'\n    max: 0.5\n",
            error_ratio("ring=\"prod\"")
        ),
    );
    repo.commit("good config");
    let good = repo.rev_parse("HEAD");
    for ring in ["canary", "prod"] {
        repo.git(&["update-ref", &format!("refs/rings/{ring}"), &good]);
    }
    repo.file("config/defaults.yaml", "port: 9090\n")
        .commit("the change");
    (good, repo.rev_parse("HEAD"))
}

/// The compare gate (margin 20 %, 5 samples) as a ring-file gate item.
fn compare_gate() -> String {
    format!(
        "  - name: vs-baseline\n    compare:\n      query: '{}'\n      margin: 0.2\n      min_samples: 5\n",
        template()
    )
}

fn number(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// A revision that doubles the error ratio in the canary only: the compare
/// gate halts it with the ring's value, the baseline's and the p-value in
/// the journal, and the halt says why.
#[test]
fn a_revision_doubling_errors_only_in_the_ring_is_halted_by_the_compare_gate() {
    let repo = TestRepo::new();
    let exporter = Exporter::start(repo.path(), &["canary", "prod"], |ring, new| {
        if ring == "canary" && new {
            2.0 * NORMAL
        } else {
            NORMAL
        }
    });
    let prom = Prometheus::start(&[exporter.port], None);
    let (good, bad) = repo_with(&repo, &prom.url(), "60s", &compare_gate());
    exporter.watch(&bad);
    prom.wait_for(&error_ratio("ring=\"canary\""));
    prom.wait_for(&error_ratio("ring=\"prod\""));

    let id = repo.run(&["rollout", "start", "--format", "json"]).json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = repo.run(&["rollout", "run"]).expect_code(1);
    assert!(
        out.stdout
            .contains("halted at ring canary: gate `vs-baseline` breached: ring "),
        "{}",
        out.all_output()
    );
    assert_eq!(repo.rev_parse("refs/rings/canary"), good, "rolled back");
    assert_eq!(repo.rev_parse("refs/rings/prod"), good, "never delivered");

    let entries = journal(&repo);
    let evaluated = events(&entries, "evaluated", "canary");
    // Too few samples first: pending, never judged (the very first round
    // may find no sample yet: inconclusive, which does not count either).
    let first_judged = evaluated
        .iter()
        .position(|e| e["p_value"].is_number())
        .expect("a judged round");
    let pending = evaluated[..first_judged]
        .iter()
        .filter(|e| e["verdict"] == "pending")
        .count();
    assert!(pending >= 3, "{evaluated:?}");
    assert!(
        evaluated[..first_judged]
            .iter()
            .all(|e| e["verdict"] == "pending" || e["verdict"] == "inconclusive"),
        "{evaluated:?}"
    );
    assert!(
        evaluated[first_judged - 1]["reason"]
            .as_str()
            .unwrap()
            .contains("the gate judges from 5 each"),
        "{evaluated:?}"
    );
    let breach = evaluated.last().unwrap();
    assert_eq!(breach["verdict"], "breach", "{evaluated:?}");
    assert_eq!(breach["gate"], "vs-baseline");
    let (value, baseline, p) = (
        number(&breach["value"]),
        number(&breach["baseline"]),
        number(&breach["p_value"]),
    );
    assert!((baseline - NORMAL).abs() < 0.002, "{breach}");
    assert!(
        value > baseline * 1.2 && value <= 2.0 * NORMAL + 0.002,
        "{breach}"
    );
    assert!(p < 0.05, "{breach}");
    assert!(
        (number(&breach["threshold"]) - baseline * 1.2).abs() < 1e-9,
        "{breach}"
    );
    // Healthy rounds before the breach carry the baseline and p-value too.
    assert!(
        evaluated
            .iter()
            .filter(|e| e["verdict"] != "pending" && e["verdict"] != "inconclusive")
            .all(|e| e["baseline"].is_number() && e["p_value"].is_number()),
        "{evaluated:?}"
    );

    let human = repo.run(&["rollout", "status", &id]).stdout;
    assert!(
        human.contains("gate `vs-baseline` breached: ring ") && human.contains(", p = "),
        "{human}"
    );
    assert!(
        human.contains("compare gates (latest evaluation):"),
        "{human}"
    );
    let status = repo
        .run(&["rollout", "status", &id, "--format", "json"])
        .json();
    assert_eq!(status["rings"][0]["halt"]["gate"], "vs-baseline");
    assert_eq!(status["comparisons"][0]["verdict"], "breach", "{status}");
    // The debrief reads the ring's own series against the limit the halt
    // breached: impact began after the delivery, at or before the halt.
    let began = status["debrief"]["impact_began"]
        .as_str()
        .unwrap_or_else(|| panic!("no impact onset: {status}"))
        .parse::<jiff::Timestamp>()
        .unwrap();
    let at = |kind: &str| -> jiff::Timestamp {
        entries
            .iter()
            .find(|e| e["event"]["kind"] == kind && e["event"]["ring"] == "canary")
            .and_then(|e| e["at"].as_str()?.parse().ok())
            .unwrap()
    };
    assert!(
        at("delivered") <= began && began <= at("halted"),
        "{status}"
    );
    let md = repo.run(&["rollout", "timeline", &id]).stdout;
    assert!(md.contains("vs-baseline breach (value "), "{md}");
    assert!(md.contains(", baseline 0.01"), "{md}");
    let html = repo
        .run(&["rollout", "timeline", &id, "--format", "html"])
        .stdout;
    assert!(
        html.contains("<polyline class=\"baseline\""),
        "no baseline series"
    );
    repo.run(&["audit", "verify"]).assert_code(0);
}

/// A healthy revision delivered into a traffic peak (every ring's error
/// ratio triples at once): the compare gate promotes it, while an absolute
/// threshold with the same margin, in shadow mode on the same ring, breaches.
#[test]
fn a_peak_in_ring_and_baseline_together_is_promoted_where_an_absolute_gate_breaches() {
    let repo = TestRepo::new();
    let exporter = Exporter::start(repo.path(), &["canary", "prod"], |_, new| {
        if new { 3.0 * NORMAL } else { NORMAL }
    });
    let prom = Prometheus::start(&[exporter.port], None);
    // The absolute gate: the normal ratio plus the same 20 % margin.
    let gates = format!(
        "{}  - name: absolute\n    mode: shadow\n    query: '{}'\n    max: {}\n",
        compare_gate(),
        error_ratio("ring=\"canary\""),
        NORMAL * 1.2
    );
    let (_, change) = repo_with(&repo, &prom.url(), "4s", &gates);
    exporter.watch(&change);
    prom.wait_for(&error_ratio("ring=\"canary\""));
    prom.wait_for(&error_ratio("ring=\"prod\""));

    repo.run(&["rollout", "start"]).assert_code(0);
    let out = repo.run(&["rollout", "run"]).expect_code(0);
    assert!(
        out.stderr
            .contains("canary: promoted after 4 healthy evaluations"),
        "{}",
        out.all_output()
    );
    assert_eq!(repo.rev_parse("refs/rings/canary"), change);
    assert_eq!(repo.rev_parse("refs/rings/prod"), change);

    let entries = journal(&repo);
    let evaluated = events(&entries, "evaluated", "canary");
    let of = |gate: &str| -> Vec<&Value> {
        evaluated
            .iter()
            .copied()
            .filter(|e| e["gate"] == gate)
            .collect()
    };
    let compared = of("vs-baseline");
    assert!(
        compared.iter().all(|e| e["verdict"] != "breach"),
        "{compared:?}"
    );
    let judged: Vec<&&Value> = compared
        .iter()
        .filter(|e| e["verdict"] == "healthy")
        .collect();
    assert_eq!(judged.len(), 4, "{compared:?}");
    let last = judged.last().unwrap();
    // Ring and baseline rose together, above the absolute gate's limit.
    let (value, baseline) = (number(&last["value"]), number(&last["baseline"]));
    assert!(value > NORMAL * 1.2 && baseline > NORMAL * 1.2, "{last}");
    assert!((value - baseline).abs() <= 0.1 * baseline, "{last}");
    assert!(number(&last["p_value"]) >= 0.05, "{last}");
    // The shadow absolute gate breached at the peak, journaled, never halting.
    let absolute = of("absolute");
    assert!(
        absolute
            .iter()
            .any(|e| e["verdict"] == "breach" && e["enforce"] == false),
        "{absolute:?}"
    );
    assert!(events(&entries, "halted", "canary").is_empty());

    // `gates check` judges the last soak's samples and shows the numbers.
    let check = repo
        .run(&["gates", "check", "--ring", "canary"])
        .expect_code(0);
    check.assert_stdout_has("vs-baseline");
    check.assert_stdout_has("(baseline 0.03");
    let md = repo.run(&["rollout", "timeline"]).stdout;
    assert!(md.contains("vs-baseline healthy (value "), "{md}");
    assert!(md.contains("absolute breach (value "), "{md}");
}

/// Unix seconds of whole minutes: the synthetic history's grid.
fn minute_floor(t: i64) -> i64 {
    t - t.rem_euclid(60)
}

/// `gates backtest` of a compare gate over history where the canary's error
/// ratio doubles at one moment while prod's stays: no breach before it,
/// a breach once the soak's samples are mostly after it.
#[test]
fn a_backtest_of_a_compare_gate_breaches_only_after_the_ring_turned_worse() {
    let step_at = minute_floor(crate::support::unix_now()) - 3600;
    let (t0, t1) = (step_at - 3600, step_at + 1800);
    let mut text = String::new();
    for ring in ["canary", "prod"] {
        for code in ["200", "500"] {
            let (mut t, mut value) = (t0, 0.0_f64);
            while t <= t1 {
                text.push_str(&format!(
                    "requests_total{{code=\"{code}\",ring=\"{ring}\"}} {value} {t}\n"
                ));
                // A little wobble, so the samples are not all tied.
                let wobble = 1.0 + 0.05 * ((t / 15) % 7) as f64 / 7.0;
                let ratio = if ring == "canary" && t >= step_at {
                    2.0 * NORMAL * wobble
                } else {
                    NORMAL * wobble
                };
                let share = if code == "500" { ratio } else { 1.0 - ratio };
                value += 20.0 * share * 15.0;
                t += 15;
            }
        }
    }
    text.push_str("# EOF\n");
    let (_history, prom) = Prometheus::with_history(&text);
    let repo = TestRepo::new();
    let query = "sum(rate(requests_total{ring=~\"{ring}\",code=\"500\"}[1m])) / sum(rate(requests_total{ring=~\"{ring}\"}[1m]))";
    repo.file(
        "ringmaster.yaml",
        &format!(
            "version: 1\nhost_classes:\n  a: {{ring: canary}}\n  b: {{ring: prod}}\nrings: rings/\nmetrics:\n  kind: prometheus\n  url: {}\n",
            prom.url()
        ),
    )
    .file(
        "rings/canary.yaml",
        &format!(
            "name: canary\norder: 1\nsoak: 10m\ninterval: 1m\ngates:\n  - name: vs-baseline\n    compare:\n      query: '{query}'\n      margin: 0.2\n"
        ),
    )
    .file(
        "rings/prod.yaml",
        "name: prod\norder: 2\nsoak: 10m\ninterval: 1m\ngates:\n  - {name: up, query: 'vector(1)', min: 1}\n",
    )
    .commit("rings");
    let ts = |t: i64| jiff::Timestamp::from_second(t).unwrap().to_string();
    let out = repo
        .run(&[
            "gates",
            "backtest",
            "--ring",
            "canary",
            "--start",
            &ts(step_at - 1800),
            "--end",
            &ts(step_at + 1800),
            "--format",
            "json",
        ])
        .expect_code(0);
    let report = out.json();
    let gate = &report["gates"][0];
    assert_eq!(gate["name"], "vs-baseline", "{report}");
    let first = gate["first_breach"]
        .as_str()
        .unwrap_or_else(|| panic!("no breach: {gate}"))
        .parse::<jiff::Timestamp>()
        .unwrap()
        .as_second();
    // The ring's median crosses once more than half of the 10-minute soak's
    // samples come after the change, 5 minutes after it at the earliest
    // (the 1m rate window, the 1m step), and the test then needs p below
    // alpha spent over the soak's 10 rounds: 5 to 9 minutes.
    assert!(
        (300..=540).contains(&(first - step_at)),
        "first breach {} s after the change: {gate}",
        first - step_at
    );
    assert_eq!(gate["inconclusive_steps"], 0, "{gate}");
    // Before the change: healthy, never a breach for nothing.
    assert_eq!(
        gate["longest_healthy"]["start"],
        ts(step_at - 1800).as_str(),
        "{gate}"
    );
    assert_eq!(report["would_halt"]["gate"], "vs-baseline", "{report}");
}

/// `check` reports what a compare gate cannot work with, at its line: no
/// baseline in the last ring, an alpha outside (0, 1), a negative margin, an
/// unknown key, a query with nothing to substitute.
#[test]
fn check_finds_a_compare_gate_without_a_baseline_and_bad_values_at_their_lines() {
    let repo = TestRepo::new();
    repo.file(
        "ringmaster.yaml",
        "version: 1\nhost_classes:\n  a: {ring: canary}\n  b: {ring: prod}\nrings: rings/\n",
    )
    .file(
        "rings/canary.yaml",
        "name: canary\norder: 1\nsoak: 1m\ngates:\n  - name: vs\n    compare:\n      query: 'e{ring=~\"{ring}\"}'\n      margin: -0.1\n      alpha: 1.5\n      windw: 5m\n  - name: same\n    compare: {query: 'e', margin: 0.2}\n",
    )
    .file(
        "rings/prod.yaml",
        "name: prod\norder: 2\nsoak: 1m\ngates:\n  - name: vs\n    compare:\n      query: 'e{ring=~\"{ring}\"}'\n      margin: 0.2\n",
    );
    let out = repo.run(&["check", "--format", "json"]).expect_code(1);
    let at = |rule: &str, file: &str| -> Vec<u64> {
        out.locations()
            .into_iter()
            .filter(|(r, f, _, _)| r == rule && f == file)
            .map(|(_, _, line, _)| line)
            .collect()
    };
    // The last ring's gate that selects by ring name has nothing after it.
    assert_eq!(
        at("ring-no-baseline", "rings/prod.yaml"),
        [7],
        "{}",
        out.stdout
    );
    let baseline = &out.findings_of("ring-no-baseline")[0];
    assert!(
        baseline["message"]
            .as_str()
            .unwrap()
            .contains("compare gate `vs` of ring `prod` has no baseline"),
        "{baseline}"
    );
    let canary = at("schema", "rings/canary.yaml");
    for line in [8, 9, 10, 12] {
        assert!(
            canary.contains(&line),
            "line {line}: {canary:?} {}",
            out.stdout
        );
    }
    assert!(at("schema", "rings/prod.yaml").is_empty(), "{}", out.stdout);
    // And a revision that fails check is never rolled out.
    repo.commit("rings");
    repo.run(&["rollout", "start"])
        .expect_code(1)
        .assert_output_has("fails check");
}
