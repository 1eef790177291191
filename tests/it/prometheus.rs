//! SLO gates against a real Prometheus (Debian's `prometheus` package;
//! `scripts/test.sh` installs it). Each test starts its own Prometheus on a
//! free loopback port with a temporary storage directory, killed on drop.
//! The live tests scrape a small exporter in the test whose error rate
//! follows what ringmaster delivered to the ring (its git ref); the backtest
//! test loads synthetic history written with `promtool tsdb
//! create-blocks-from openmetrics`. When Prometheus is missing the tests
//! fail, naming the package, never skip.

use std::path::Path;
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::live::{
    PASSWORD, Prometheus, Scraped, USER, events, exited, free_port, journal, ring_ref, spawn_run,
};
use crate::support::{TestRepo, places};

/// A test exporter: `http_requests_total{ring, code}` counters at 100
/// requests/s per ring, 0.1% failing, except 50% for `bad_ring` while its git
/// ref points at the `bad` revision.
struct Exporter {
    /// Serves until dropped.
    _scraped: Scraped,
    port: u16,
    bad: Arc<Mutex<Option<String>>>,
}

impl Exporter {
    fn start(repo: &Path, rings: &[&str], bad_ring: &str) -> Exporter {
        let bad: Arc<Mutex<Option<String>>> = Arc::default();
        let bad2 = bad.clone();
        let repo = repo.to_path_buf();
        let bad_ring = bad_ring.to_owned();
        let mut counters: Vec<(String, f64, f64)> =
            rings.iter().map(|r| (r.to_string(), 0.0, 0.0)).collect();
        let scraped = Scraped::start(move |dt| {
            let holds = ring_ref(&repo, &bad_ring);
            let is_bad = bad2.lock().unwrap().as_deref() == Some(holds.as_str());
            let mut body = String::from("# TYPE http_requests_total counter\n");
            for (ring, ok, failed) in counters.iter_mut() {
                let ratio = if *ring == bad_ring && is_bad {
                    0.5
                } else {
                    0.001
                };
                *ok += 100.0 * (1.0 - ratio) * dt;
                *failed += 100.0 * ratio * dt;
                body.push_str(&format!(
                    "http_requests_total{{ring=\"{ring}\",code=\"200\"}} {ok}\nhttp_requests_total{{ring=\"{ring}\",code=\"500\"}} {failed}\n"
                ));
            }
            body
        });
        Exporter {
            port: scraped.port,
            _scraped: scraped,
            bad,
        }
    }

    fn set_bad(&self, revision: &str) {
        *self.bad.lock().unwrap() = Some(revision.to_owned());
    }
}

fn error_ratio(ring: &str) -> String {
    format!(
        "sum(rate(http_requests_total{{ring=\"{ring}\",code=~\"5..\"}}[5s])) / sum(rate(http_requests_total{{ring=\"{ring}\"}}[5s]))"
    )
}

/// A ring file: an enforcing error-ratio gate (max 5%) and a shadow
/// burn-rate gate over 30s/5s windows.
fn ring_file(name: &str, order: u32, soak: &str, limit: u32) -> String {
    format!(
        "name: {name}\norder: {order}\nsoak: {soak}\ninterval: 1s\ngates:\n  - name: error-ratio\n    query: '{}'\n    max: 0.05\n  - name: availability\n    mode: shadow\n    burn_rate:\n      objective: 0.99\n      errors: 'sum(rate(http_requests_total{{ring=\"{name}\",code=~\"5..\"}}[{{window}}]))'\n      total: 'sum(rate(http_requests_total{{ring=\"{name}\"}}[{{window}}]))'\n      windows:\n        - {{long: 30s, short: 5s, factor: 2}}\ninconclusive_limit: {limit}\non_breach: rollback\n",
        error_ratio(name)
    )
}

/// A config repo whose rings already hold a good revision (A), with the next
/// revision (B) committed: returns (A, B).
fn gated_repo(repo: &TestRepo, url: &str, rings: &[(&str, &str, u32)]) -> (String, String) {
    let classes: String = rings
        .iter()
        .enumerate()
        .map(|(i, (r, _, _))| format!("  c{i}: {{ring: {r}}}\n"))
        .collect();
    repo.file(
        "ringmaster.yaml",
        &format!(
            "version: 1\nhierarchy:\n  - config/defaults.yaml\nhost_classes:\n{classes}rings: rings/\nmetrics:\n  kind: prometheus\n  url: {url}\n"
        ),
    )
    .file("config/defaults.yaml", "port: 8080\n");
    for (i, (name, soak, limit)) in rings.iter().enumerate() {
        repo.file(
            &format!("rings/{name}.yaml"),
            &ring_file(name, i as u32 + 1, soak, *limit),
        );
    }
    repo.commit("good config");
    let good = repo.rev_parse("HEAD");
    for (name, _, _) in rings {
        repo.git(&["update-ref", &format!("refs/rings/{name}"), &good]);
    }
    repo.file("config/defaults.yaml", "port: 9090\n")
        .commit("the change");
    (good, repo.rev_parse("HEAD"))
}

#[test]
fn a_bad_revision_breaches_in_single_tenant_and_is_rolled_back() {
    let repo = TestRepo::new();
    let exporter = Exporter::start(repo.path(), &["dogfood", "single-tenant"], "single-tenant");
    let prom = Prometheus::start(&[exporter.port], None);
    let (good, bad) = gated_repo(
        &repo,
        &prom.url(),
        &[("dogfood", "2s", 5), ("single-tenant", "60s", 5)],
    );
    exporter.set_bad(&bad);
    prom.wait_for(&error_ratio("single-tenant"));
    prom.wait_for(&error_ratio("dogfood"));

    // Before the rollout the gates are healthy, and say so with numbers.
    let now = repo
        .run(&["gates", "check", "--ring", "single-tenant"])
        .expect_code(0);
    now.assert_stdout_has("error-ratio");
    now.assert_stdout_has("healthy");
    now.assert_stdout_has("against 0.05");

    let id = repo.run(&["rollout", "start", "--format", "json"]).json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = repo.run(&["rollout", "run"]).expect_code(1);
    assert!(
        out.stdout
            .contains("halted at ring single-tenant: gate `error-ratio` breached: "),
        "{}",
        out.all_output()
    );
    out.assert_stdout_has(" against 0.05");
    assert!(
        out.stderr
            .contains("dogfood: promoted after 2 healthy evaluations"),
        "{}",
        out.stderr
    );
    assert_eq!(
        repo.rev_parse("refs/rings/dogfood"),
        bad,
        "dogfood keeps it"
    );
    assert_eq!(
        repo.rev_parse("refs/rings/single-tenant"),
        good,
        "single-tenant is back on the previous revision"
    );

    let status = repo
        .run(&["rollout", "status", &id, "--format", "json"])
        .json();
    assert_eq!(status["state"], "halted");
    assert_eq!(status["rings"][0]["state"], "promoted");
    let st = &status["rings"][1];
    assert_eq!(st["state"], "rolled-back");
    assert_eq!(st["halt"]["gate"], "error-ratio");
    assert_eq!(st["halt"]["threshold"], 0.05);
    let value = st["halt"]["value"].as_f64().unwrap();
    assert!(value > 0.05 && value <= 0.5 + 1e-9, "{value}");
    let human = repo.run(&["rollout", "status", &id]).stdout;
    assert!(human.contains("gate `error-ratio` breached"), "{human}");

    // Every evaluation is journaled; the shadow gate too, never enforcing.
    let entries = journal(&repo);
    let evaluated = events(&entries, "evaluated", "single-tenant");
    let breach = evaluated
        .iter()
        .find(|e| e["verdict"] == "breach" && e["enforce"] == true)
        .expect("a journaled breach");
    assert_eq!(breach["gate"], "error-ratio");
    assert_eq!(breach["threshold"], 0.05);
    assert!(
        evaluated
            .iter()
            .any(|e| e["gate"] == "availability" && e["enforce"] == false),
        "{evaluated:?}"
    );
    let dogfood = events(&entries, "evaluated", "dogfood");
    // Dogfood never breached (a round without fresh scrapes on a loaded
    // machine may be inconclusive; it just does not count).
    assert!(
        dogfood
            .iter()
            .filter(|e| e["gate"] == "error-ratio" && e["verdict"] != "inconclusive")
            .all(|e| e["verdict"] == "healthy" && e["value"].as_f64().unwrap() < 0.05),
        "{dogfood:?}"
    );

    let timeline = repo
        .run(&["rollout", "timeline", &id, "--format", "json"])
        .json();
    let detect = timeline["time_to_detect_s"]
        .as_i64()
        .expect("time to detect");
    let exposed = timeline["delivery_to_halt_s"]
        .as_i64()
        .expect("delivery to halt");
    assert!((0..=2).contains(&detect), "{timeline}");
    assert!((0..=45).contains(&exposed), "{timeline}");
    let md = repo.run(&["rollout", "timeline", &id]).stdout;
    assert!(md.contains("the ring's delivery → halt: 0m"), "{md}");
    repo.run(&["audit", "verify"]).assert_code(0);
}

/// Waits until dogfood's enforcing gate has an evaluation with `verdict`.
fn wait_for_evaluation(repo: &TestRepo, verdict: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !events(&journal(repo), "evaluated", "dogfood")
        .iter()
        .any(|e| e["verdict"] == verdict && e["gate"] == "error-ratio")
    {
        assert!(
            Instant::now() < deadline,
            "no {verdict} evaluation in 30 s: {:?}",
            journal(repo)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A dogfood-only rollout gated (soak `soak`, `limit` inconclusive rounds)
/// on a real Prometheus scraping a healthy exporter: started, driven in the
/// background, and Prometheus stopped once the soak has had its first
/// healthy round. Returns the exporter (keep it alive), Prometheus, the
/// (good, change) revisions and the running driver.
fn soak_until_prometheus_stops(
    repo: &TestRepo,
    soak: &str,
    limit: u32,
) -> (Exporter, Prometheus, (String, String), Child) {
    let exporter = Exporter::start(repo.path(), &["dogfood"], "none");
    let mut prom = Prometheus::start(&[exporter.port], None);
    let revisions = gated_repo(repo, &prom.url(), &[("dogfood", soak, limit)]);
    prom.wait_for(&error_ratio("dogfood"));
    repo.run(&["rollout", "start"]).assert_code(0);
    let child = spawn_run(repo);
    wait_for_evaluation(repo, "healthy");
    prom.stop();
    (exporter, prom, revisions, child)
}

#[test]
fn the_soak_clock_counts_only_healthy_rounds_across_an_outage() {
    let repo = TestRepo::new();
    // A limit high enough that the outage below never halts the ring.
    let (_exporter, mut prom, (_, change), child) = soak_until_prometheus_stops(&repo, "6s", 30);
    wait_for_evaluation(&repo, "inconclusive");
    prom.launch();
    let (_, stderr) = exited(child, 0);
    assert!(
        stderr.contains("dogfood: promoted after 6 healthy evaluations"),
        "{stderr}"
    );
    let entries = journal(&repo);
    let rounds: Vec<&str> = events(&entries, "evaluated", "dogfood")
        .iter()
        .filter(|e| e["gate"] == "error-ratio")
        .map(|e| e["verdict"].as_str().unwrap())
        .collect();
    // Promoted after exactly `soak / interval` healthy rounds; the
    // inconclusive ones during the outage did not count.
    assert_eq!(
        rounds.iter().filter(|v| **v == "healthy").count(),
        6,
        "{rounds:?}"
    );
    let lost = rounds.iter().filter(|v| **v == "inconclusive").count();
    assert!(lost >= 1, "{rounds:?}");
    assert_eq!(rounds.len(), 6 + lost, "{rounds:?}");
    assert_eq!(repo.rev_parse("refs/rings/dogfood"), change);
}

#[test]
fn credentials_come_from_the_environment() {
    let prom = Prometheus::start_with(&[], None, true);
    let repo = TestRepo::new();
    repo.file(
        "ringmaster.yaml",
        &format!(
            "version: 1\nhost_classes:\n  a: {{ring: probe}}\nrings: rings/\nmetrics:\n  kind: prometheus\n  url: {}\n",
            prom.url()
        ),
    )
    .file(
        "rings/probe.yaml",
        "name: probe\norder: 1\nsoak: 1s\ngates:\n  - name: fine\n    query: vector(0.5)\n    max: 1\n",
    )
    .commit("rings");
    let args = ["gates", "check", "--ring", "probe"];
    let anonymous = repo.run(&args).expect_code(3);
    let text = anonymous.all_output();
    assert!(text.contains("401"), "{text}");
    assert!(text.contains("RINGMASTER_PROMETHEUS_USERNAME"), "{text}");
    repo.run_env(
        &args,
        &[
            ("RINGMASTER_PROMETHEUS_USERNAME", USER),
            ("RINGMASTER_PROMETHEUS_PASSWORD", "nope"),
        ],
    )
    .assert_code(3);
    let with = repo
        .run_env(
            &args,
            &[
                ("RINGMASTER_PROMETHEUS_USERNAME", USER),
                ("RINGMASTER_PROMETHEUS_PASSWORD", PASSWORD),
            ],
        )
        .expect_code(0);
    with.assert_stdout_has("healthy");
    with.assert_stdout_has("value 0.5 against 1");
    // The secret is never printed.
    assert!(!anonymous.all_output().contains(PASSWORD));
    assert!(!with.all_output().contains(PASSWORD));
}

#[test]
fn a_gated_ring_without_a_metrics_source_is_not_delivered() {
    let repo = TestRepo::new();
    repo.run(&["init"]).assert_code(0);
    repo.commit("scaffold");
    repo.run(&["rollout", "start"]).assert_code(0);
    let out = repo.run(&["rollout", "run"]).expect_code(2);
    let text = out.all_output();
    assert!(text.contains("ring dogfood has gates"), "{text}");
    assert!(text.contains("--prometheus URL"), "{text}");
    assert!(repo.git(&["for-each-ref", "refs/rings/"]).trim().is_empty());
    let backtest = repo
        .run(&["gates", "backtest", "--ring", "dogfood", "--start", "-1h"])
        .expect_code(2);
    backtest.assert_output_has("no metrics source");
}

#[test]
fn a_prometheus_stopped_mid_soak_halts_the_ring_unpromoted() {
    let repo = TestRepo::new();
    let (_exporter, prom, (good, _), child) = soak_until_prometheus_stops(&repo, "5s", 3);
    let (stdout, stderr) = exited(child, 1);
    assert!(
        stdout.contains("3 evaluations in a row were inconclusive"),
        "{stdout}{stderr}"
    );
    assert!(stdout.contains("unreachable"), "{stdout}");

    let entries = journal(&repo);
    assert!(
        events(&entries, "promoted", "dogfood").is_empty(),
        "never promoted"
    );
    let evaluated: Vec<_> = events(&entries, "evaluated", "dogfood")
        .into_iter()
        .filter(|e| e["gate"] == "error-ratio")
        .collect();
    // The halt came at the third inconclusive round in a row: the last three.
    let last = &evaluated[evaluated.len().saturating_sub(4)..];
    assert_eq!(last.len(), 4, "{evaluated:?}");
    assert_ne!(last[0]["verdict"], "inconclusive", "{evaluated:?}");
    for e in &last[1..] {
        assert_eq!(e["verdict"], "inconclusive", "{evaluated:?}");
        let reason = e["reason"].as_str().expect("a reason");
        assert!(
            reason.contains(&prom.url()) && reason.contains("unreachable"),
            "{reason}"
        );
    }
    // The soak counts only healthy rounds: more wall-clock time than the
    // 5 s soak passed between delivery and halt, and still no promotion.
    let at = |kind: &str| {
        entries
            .iter()
            .find(|e| e["event"]["kind"] == kind)
            .and_then(|e| e["at"].as_str()?.parse::<jiff::Timestamp>().ok())
            .unwrap()
    };
    let soaked = at("halted").as_second() - at("delivered").as_second();
    assert!(soaked > 5, "halted {soaked} s after delivery");
    assert_eq!(repo.rev_parse("refs/rings/dogfood"), good, "rolled back");
    let status = repo.run(&["rollout", "status", "--format", "json"]).json();
    assert_eq!(status["rings"][0]["state"], "rolled-back");
    // The timeline says why each round was inconclusive.
    let md = repo.run(&["rollout", "timeline"]).stdout;
    assert!(
        md.contains("| dogfood | evaluated | error-ratio inconclusive: `sum(rate("),
        "{md}"
    );
    assert!(md.contains("is unreachable after 4 tries"), "{md}");
}

/// Unix seconds of whole minutes: the synthetic history's grid.
fn minute_floor(t: i64) -> i64 {
    t - t.rem_euclid(60)
}

#[test]
fn a_backtest_finds_the_first_breach_where_the_sre_arithmetic_puts_it() {
    // Three hours at 0.01% errors, then two at 10%, 10 requests/s, a sample
    // every 15 s; the step is an hour before now.
    let step_at = minute_floor(crate::support::unix_now()) - 3600;
    let t0 = step_at - 3 * 3600;
    let t1 = step_at + 3600;
    let (rate, before, after) = (10.0_f64, 0.0001_f64, 0.1_f64);
    let mut text = String::new();
    for code in ["200", "500"] {
        let mut t = t0;
        let mut value = 0.0;
        while t <= t1 {
            text.push_str(&format!(
                "http_requests_total{{code=\"{code}\",ring=\"dogfood\"}} {value} {t}\n"
            ));
            let ratio = if t < step_at { before } else { after };
            let share = if code == "500" { ratio } else { 1.0 - ratio };
            value += rate * share * 15.0;
            t += 15;
        }
    }
    text.push_str("# EOF\n");
    let (_history, prom) = Prometheus::with_history(&text);

    let repo = TestRepo::new();
    repo.file(
        "ringmaster.yaml",
        &format!(
            "version: 1\nhost_classes:\n  a: {{ring: dogfood}}\nrings: rings/\nmetrics:\n  kind: prometheus\n  url: {}\n",
            prom.url()
        ),
    )
    .file(
        "rings/dogfood.yaml",
        "name: dogfood\norder: 1\nsoak: 10m\ninterval: 30s\ngates:\n  - name: availability\n    burn_rate:\n      objective: 0.999\n      errors: 'sum(rate(http_requests_total{ring=\"dogfood\",code=~\"5..\"}[{window}]))'\n      total: 'sum(rate(http_requests_total{ring=\"dogfood\"}[{window}]))'\n      windows:\n        - {long: 1h, short: 5m, factor: 14.4}\n  - name: error-ratio\n    query: 'sum(rate(http_requests_total{ring=\"dogfood\",code=~\"5..\"}[5m])) / sum(rate(http_requests_total{ring=\"dogfood\"}[5m]))'\n    max: 0.05\n",
    )
    .commit("rings");
    let start = step_at - 1800;
    let end = step_at + 1800;
    let ts = |t: i64| jiff::Timestamp::from_second(t).unwrap().to_string();
    // `gates backtest` of dogfood from `start` to `end` at 30 s steps.
    let backtest = |extra: &[&str]| {
        let (from, to) = (ts(start), ts(end));
        let mut args = vec![
            "gates", "backtest", "--ring", "dogfood", "--start", &from, "--end", &to, "--step",
            "30s",
        ];
        args.extend_from_slice(extra);
        repo.run(&args).expect_code(0)
    };
    let out = backtest(&["--format", "json"]);
    let report = out.json();
    assert_eq!(report["steps"], 121, "{report}");
    assert_eq!(report["step"], "30s");
    let gate = |name: &str| {
        report["gates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["name"] == name)
            .unwrap()
            .clone()
    };
    let when = |g: &Value| {
        g["first_breach"]
            .as_str()
            .unwrap_or_else(|| panic!("no breach: {g}"))
            .parse::<jiff::Timestamp>()
            .unwrap()
            .as_second()
    };
    // SRE workbook arithmetic: the 1h window's error ratio reaches
    // factor × budget = 14.4 × 0.001 once x seconds of 10% errors outweigh
    // the rest of the hour at 0.01%: (after·x + before·(3600 − x)) / 3600 =
    // 0.0144, about 8.6 minutes (the 5m window crossed long before).
    let x = (14.4 * 0.001 * 3600.0 - before * 3600.0) / (after - before);
    let expected = step_at + x.round() as i64;
    let availability = gate("availability");
    let first = when(&availability);
    assert!(
        (first - expected).abs() <= 30,
        "first breach {} s after the step, expected {x:.0} s (± one 30 s step): {availability}",
        first - step_at
    );
    assert!((500..560).contains(&(first - step_at)), "{availability}");
    assert_eq!(availability["inconclusive_steps"], 0, "{availability}");
    // From the first breach to the end every step breaches.
    assert_eq!(
        availability["breaching_steps"].as_i64().unwrap(),
        (end - first) / 30 + 1,
        "{availability}"
    );
    let stretch = &availability["longest_healthy"];
    assert_eq!(stretch["start"], ts(start).as_str(), "{stretch}");
    assert_eq!(stretch["end"], ts(first - 30).as_str(), "{stretch}");
    assert_eq!(stretch["duration_s"], first - 30 - start, "{stretch}");
    assert_eq!(availability["would_halt"], ts(first).as_str());

    // The 5m error ratio crosses 5% after ~150 s of 10% errors.
    let ratio = gate("error-ratio");
    let y = (0.05 * 300.0 - before * 300.0) / (after - before);
    let first_ratio = when(&ratio);
    assert!(
        (first_ratio - (step_at + y.round() as i64)).abs() <= 30,
        "error-ratio first breach {} s after the step, expected {y:.0}: {ratio}",
        first_ratio - step_at
    );
    // The ring halts at its earliest enforcing breach.
    assert_eq!(report["would_halt"]["gate"], "error-ratio");
    assert_eq!(report["would_halt"]["at"], ts(first_ratio).as_str());

    // The human table says the same.
    let human = backtest(&[]);
    assert!(
        human
            .stdout
            .contains(&format!("would have halted at {}", ts(first_ratio))),
        "{}",
        human.stdout
    );
    // Before the history there is no data: inconclusive, never healthy.
    let early = repo
        .run(&[
            "gates",
            "backtest",
            "--ring",
            "dogfood",
            "--start",
            &ts(t0 - 7200),
            "--end",
            &ts(t0 - 3600),
            "--step",
            "5m",
            "--format",
            "json",
        ])
        .json();
    assert_eq!(early["gates"][0]["healthy_steps"], 0, "{early}");
    assert_eq!(early["gates"][0]["inconclusive_steps"], 13, "{early}");
    assert!(
        early["would_halt"]["reason"]
            .as_str()
            .unwrap()
            .contains("inconclusive"),
        "{early}"
    );
}

#[test]
fn bad_queries_and_an_unreachable_prometheus_deliver_nothing() {
    let prom = Prometheus::start(&[], None);
    let repo = TestRepo::new();
    repo.file(
        "ringmaster.yaml",
        &format!(
            "version: 1\nhost_classes:\n  a: {{ring: dogfood}}\n  b: {{ring: probe}}\nrings: rings/\nmetrics:\n  kind: prometheus\n  url: {}\n",
            prom.url()
        ),
    )
    .file(
        "rings/dogfood.yaml",
        "name: dogfood\norder: 1\nsoak: 1s\ninterval: 1s\ngates:\n  - name: error-ratio\n    query: 'sum(rate(http_requests_total[5m]'\n    max: 0.01\n",
    )
    .file(
        "rings/probe.yaml",
        "name: probe\norder: 2\nsoak: 1s\ninterval: 1s\ngates:\n  - name: nan\n    query: vector(0) / vector(0)\n    max: 1\n  - name: two-series\n    query: label_replace(vector(1), \"a\", \"x\", \"\", \"\") or label_replace(vector(2), \"a\", \"y\", \"\", \"\")\n    max: 5\n  - name: empty\n    query: vector(1) > 2\n    max: 5\n  - name: fine\n    query: vector(0.5)\n    max: 1\n",
    )
    .commit("rings");
    repo.run(&["rollout", "start"]).assert_code(0);

    // A query Prometheus rejects: its own words, the ring file and the gate.
    let out = repo.run(&["rollout", "run"]).expect_code(2);
    let text = out.all_output();
    assert!(
        text.contains("rings/dogfood.yaml: gate `error-ratio`"),
        "{text}"
    );
    assert!(text.contains("parse error"), "{text}");
    assert!(text.contains("bad_data"), "{text}");
    let check = repo
        .run(&["gates", "check", "--ring", "dogfood"])
        .expect_code(2);
    check.assert_output_has("parse error");

    // Unreachable: exit 3 after the retries, naming the URL; nothing delivered.
    let nowhere = format!("http://127.0.0.1:{}", free_port());
    let out = repo
        .run(&["rollout", "run", "--prometheus", &nowhere])
        .expect_code(3);
    let text = out.all_output();
    assert!(text.contains(&nowhere), "{text}");
    assert!(text.contains("unreachable after 4 tries"), "{text}");
    assert!(text.contains("not delivered, not promoted"), "{text}");
    assert!(
        repo.git(&["for-each-ref", "refs/rings/"]).trim().is_empty(),
        "no ring was delivered"
    );
    let entries = journal(&repo);
    assert!(
        entries.iter().all(|e| e["event"]["kind"] != "delivering"),
        "{entries:?}"
    );
    repo.run(&[
        "gates",
        "backtest",
        "--ring",
        "probe",
        "--start",
        "-1h",
        "--prometheus",
        &nowhere,
    ])
    .assert_code(3);

    // NaN, several series and no data are inconclusive, each with its reason;
    // a clean number is healthy.
    let probe = repo
        .run(&["gates", "check", "--ring", "probe", "--format", "json"])
        .expect_code(1);
    let report = probe.json();
    let gates = report["rings"][0]["gates"].as_array().unwrap();
    let by = |name: &str| gates.iter().find(|g| g["name"] == name).unwrap().clone();
    assert_eq!(by("nan")["verdict"], "inconclusive");
    assert!(
        by("nan")["reason"].as_str().unwrap().contains("NaN"),
        "{report}"
    );
    assert_eq!(by("two-series")["verdict"], "inconclusive");
    assert!(
        by("two-series")["reason"]
            .as_str()
            .unwrap()
            .contains("returned 2 series"),
        "{report}"
    );
    assert!(
        by("empty")["reason"].as_str().unwrap().contains("no data"),
        "{report}"
    );
    assert_eq!(by("fine")["verdict"], "healthy");
    assert_eq!(by("fine")["value"], 0.5);
    assert_eq!(by("fine")["threshold"], 1.0);

    // Bad arguments are exit 2 with the reason.
    for (args, needle) in [
        (vec!["--start", "yesterday"], "is not a time"),
        (vec!["--start", "-1h", "--step", "0s"], "--step"),
        (vec!["--start", "now", "--end", "-1h"], "is not after"),
        (
            vec!["--start", "-400d", "--step", "1s"],
            "steps is more than",
        ),
    ] {
        let mut full = vec!["gates", "backtest", "--ring", "probe"];
        full.extend(args);
        let out = repo.run(&full).expect_code(2);
        out.assert_output_has(needle);
    }
    // Credentials never come from the repo or the command line.
    let leaky = repo
        .run(&[
            "gates",
            "check",
            "--prometheus",
            "http://admin:hunter2@127.0.0.1:9",
        ])
        .expect_code(2);
    assert!(
        leaky
            .all_output()
            .contains("RINGMASTER_PROMETHEUS_PASSWORD"),
        "{}",
        leaky.all_output()
    );
    assert!(!leaky.all_output().contains("hunter2"));
    repo.run(&["gates", "check", "--prometheus", "prometheus:9090"])
        .assert_code(2);
    let unknown = repo
        .run(&["gates", "backtest", "--ring", "nope", "--start", "-1h"])
        .expect_code(2);
    unknown.assert_output_has("rings: dogfood, probe");
}

#[test]
fn check_reports_gates_without_a_bound_and_malformed_durations_at_file_and_line() {
    let repo = TestRepo::new();
    repo.file(
        "ringmaster.yaml",
        "version: 1\nhost_classes:\n  a: {ring: dogfood}\nrings: rings/\nmetrics:\n  kind: prometheus\n  url: http://127.0.0.1:9\n",
    )
    .file(
        "rings/dogfood.yaml",
        "name: dogfood\norder: 1\nsoak: 10x\ninterval: 1s\ngates:\n  - name: no-bound\n    query: up\n  - name: neither\n  - name: bad-window\n    burn_rate:\n      objective: 0.999\n      errors: e[{window}]\n      total: t[{window}]\n      windows:\n        - {long: 1hour, short: 5m, factor: 14.4}\n",
    )
    .commit("bad ring");
    let out = repo.run(&["check", "--format", "json"]).expect_code(1);
    let found = places(&out.findings(), "path");
    // The alternatives' description says what a gate needs.
    let help = |path: &str| {
        out.findings()
            .iter()
            .find(|f| f["path"] == path)
            .and_then(|f| f["help"].as_str().map(str::to_owned))
            .unwrap_or_default()
    };
    assert!(help("/gates/0").contains("needs `max`"), "{}", out.stdout);
    assert!(
        help("/gates/1").contains("burn-rate gate"),
        "{}",
        out.stdout
    );
    for expected in [
        ("rings/dogfood.yaml".to_owned(), 3, "/soak".to_owned()),
        ("rings/dogfood.yaml".to_owned(), 6, "/gates/0".to_owned()),
        ("rings/dogfood.yaml".to_owned(), 8, "/gates/1".to_owned()),
        (
            "rings/dogfood.yaml".to_owned(),
            15,
            "/gates/2/burn_rate/windows/0/long".to_owned(),
        ),
    ] {
        assert!(found.contains(&expected), "{expected:?} not in {found:?}");
    }
    // Such a revision never starts a rollout.
    repo.run(&["rollout", "start"]).assert_code(1);
}
