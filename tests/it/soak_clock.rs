//! When the soak clock runs, against a real Prometheus (Debian's
//! `prometheus`; see `prometheus.rs`): a gate's `min_traffic` makes rounds
//! of too little traffic idle (the soak waits, `max_idle` then halts or
//! waits in place), and a ring's `converged` query holds the soak clock until
//! the ring's hosts report the delivered revision. The exporters are the
//! test's: their traffic is set by the test, and their hosts pick the ring's
//! git ref up one after the other once it moves.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::live::{Prometheus, Scraped, events, exited, journal, ring_ref, spawn_run};
use crate::support::TestRepo;

/// How the exporter's hosts follow the ring's ref: how many there are, and
/// the seconds between one picking the new revision up and the next (`None`:
/// they never do).
#[derive(Clone, Copy)]
struct Fleet {
    hosts: usize,
    every: Option<f64>,
}

/// An exporter for one ring: `http_requests_total{ring, code}` at `rate`
/// requests/s (0.1% failing), and with a fleet, `config_revision_info{ring,
/// host, revision} 1` per host for the revision it runs.
fn exporter(repo: &Path, ring: &str, rate: Arc<Mutex<f64>>, fleet: Option<Fleet>) -> Scraped {
    let repo = repo.to_path_buf();
    let ring = ring.to_owned();
    let (mut ok, mut failed) = (0.0, 0.0);
    let mut old: Option<String> = None;
    let mut new: Option<(String, Instant)> = None;
    Scraped::start(move |dt| {
        let rps = *rate.lock().unwrap();
        ok += rps * 0.999 * dt;
        failed += rps * 0.001 * dt;
        let mut body = format!(
            "# TYPE http_requests_total counter\nhttp_requests_total{{ring=\"{ring}\",code=\"200\"}} {ok}\nhttp_requests_total{{ring=\"{ring}\",code=\"500\"}} {failed}\n"
        );
        let Some(fleet) = fleet else { return body };
        let holds = ring_ref(&repo, &ring);
        if holds.is_empty() {
            return body;
        }
        match &old {
            None => old = Some(holds.clone()),
            Some(o) if *o != holds && new.is_none() => new = Some((holds, Instant::now())),
            _ => {}
        }
        body.push_str("# TYPE config_revision_info gauge\n");
        for host in 0..fleet.hosts {
            let picked = match (&new, fleet.every) {
                (Some((rev, since)), Some(every))
                    if since.elapsed().as_secs_f64() >= every * (host as f64 + 1.0) =>
                {
                    rev.clone()
                }
                _ => old.clone().unwrap_or_default(),
            };
            body.push_str(&format!(
                "config_revision_info{{ring=\"{ring}\",host=\"h{host}\",revision=\"{picked}\"}} 1\n"
            ));
        }
        body
    })
}

fn traffic(ring: &str) -> String {
    format!("sum(rate(http_requests_total{{ring=\"{ring}\"}}[5s]))")
}

fn error_ratio(ring: &str) -> String {
    format!(
        "sum(rate(http_requests_total{{ring=\"{ring}\",code=~\"5..\"}}[5s])) / sum(rate(http_requests_total{{ring=\"{ring}\"}}[5s]))"
    )
}

/// The fraction of the ring's hosts on the delivered revision.
fn converged_query(ring: &str) -> String {
    format!(
        "count(config_revision_info{{ring=\"{ring}\",revision=\"{{revision}}\"}}) / count(config_revision_info{{ring=\"{ring}\"}})"
    )
}

/// A ring file: an error-ratio gate (max 5%) soaking 3 s at 1 s, and `extra`.
fn ring_file(ring: &str, gate_extra: &str, extra: &str) -> String {
    format!(
        "name: {ring}\norder: 1\nsoak: 3s\ninterval: 1s\ngates:\n  - name: error-ratio\n    query: '{}'\n    max: 0.05\n{gate_extra}on_breach: rollback\n{extra}",
        error_ratio(ring)
    )
}

fn min_traffic(ring: &str, floor: f64) -> String {
    format!(
        "    min_traffic:\n      query: '{}'\n      min: {floor}\n",
        traffic(ring)
    )
}

/// A config repo whose ring holds a good revision, with the next committed:
/// (good, next).
fn repo_with_ring(repo: &TestRepo, url: &str, ring: &str, ring_yaml: &str) -> (String, String) {
    repo.file(
        "ringmaster.yaml",
        &format!(
            "version: 1\nhierarchy:\n  - config/defaults.yaml\nhost_classes:\n  web: {{ring: {ring}}}\nrings: rings/\nmetrics:\n  kind: prometheus\n  url: {url}\n"
        ),
    )
    .file("config/defaults.yaml", "port: 8080\n")
    .file(&format!("rings/{ring}.yaml"), ring_yaml);
    repo.commit("good config");
    let good = repo.rev_parse("HEAD");
    repo.git(&["update-ref", &format!("refs/rings/{ring}"), &good]);
    repo.file("config/defaults.yaml", "port: 9090\n")
        .commit("the change");
    (good, repo.rev_parse("HEAD"))
}

fn start(repo: &TestRepo) -> String {
    repo.run(&["rollout", "start", "--format", "json"]).json()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The journaled events, in order, with their kinds.
fn kinds(entries: &[Value]) -> Vec<String> {
    entries
        .iter()
        .map(|e| e["event"]["kind"].as_str().unwrap_or("").to_owned())
        .collect()
}

/// Rounds by verdict: how many rounds had an enforcing `verdict`.
fn rounds_with(evaluated: &[&Value], verdict: &str) -> usize {
    evaluated
        .iter()
        .filter(|e| e["verdict"] == verdict && e["enforce"] == true)
        .count()
}

#[test]
fn a_ring_whose_traffic_drops_below_min_traffic_soaks_longer_without_a_halt() {
    let repo = TestRepo::new();
    let rate = Arc::new(Mutex::new(0.2));
    let scraped = exporter(repo.path(), "dogfood", rate.clone(), None);
    let prom = Prometheus::start(&[scraped.port], None);
    // Idle rounds count neither toward the soak nor toward the inconclusive
    // limit of 2: the ring waits through more idle rounds than that.
    let (_, next) = repo_with_ring(
        &repo,
        &prom.url(),
        "dogfood",
        &ring_file(
            "dogfood",
            &min_traffic("dogfood", 10.0),
            "inconclusive_limit: 2\nmax_idle: 60s\n",
        ),
    );
    prom.wait_for(&error_ratio("dogfood"));
    let now = repo
        .run(&["gates", "check", "--ring", "dogfood"])
        .expect_code(0);
    now.assert_stdout_has("idle");

    let id = start(&repo);
    let driver = spawn_run(&repo);
    // Quiet until four idle rounds are journaled, then busy.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let entries = journal(&repo);
        let idle = rounds_with(&events(&entries, "evaluated", "dogfood"), "idle");
        if idle >= 4 {
            break;
        }
        assert!(Instant::now() < deadline, "no idle rounds: {entries:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
    *rate.lock().unwrap() = 100.0;
    let (_, stderr) = exited(driver, 0);
    assert!(stderr.contains("the soak clock waits"), "{stderr}");
    assert_eq!(repo.rev_parse("refs/rings/dogfood"), next);

    let entries = journal(&repo);
    let evaluated = events(&entries, "evaluated", "dogfood");
    let idle: Vec<&&Value> = evaluated
        .iter()
        .filter(|e| e["verdict"] == "idle")
        .collect();
    assert!(idle.len() >= 4, "{evaluated:?}");
    for e in &idle {
        assert_eq!(e["floor"], 10.0, "{e}");
        let t = e["traffic"].as_f64().expect("traffic journaled");
        assert!(t < 10.0, "{e}");
    }
    // The soak of 3 s at 1 s needed its three healthy rounds after the idle ones.
    assert_eq!(rounds_with(&evaluated, "healthy"), 3, "{evaluated:?}");
    assert!(evaluated.len() >= 3 + idle.len(), "{evaluated:?}");
    assert!(events(&entries, "halted", "dogfood").is_empty());
    let last_idle = evaluated
        .iter()
        .rposition(|e| e["verdict"] == "idle")
        .unwrap();
    assert!(
        evaluated[last_idle + 1..]
            .iter()
            .filter(|e| e["verdict"] == "healthy")
            .count()
            == 3,
        "the healthy rounds that promoted it came after the idle ones: {evaluated:?}"
    );

    // The timeline says so, in markdown and JSON; the chart marks the rounds.
    let md = repo.run(&["rollout", "timeline", &id]).stdout;
    assert!(
        md.contains("error-ratio idle: traffic ") && md.contains("below the floor 10"),
        "{md}"
    );
    let json = repo
        .run(&["rollout", "timeline", &id, "--format", "json"])
        .json();
    assert!(
        json["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event"]["verdict"] == "idle" && e["event"]["floor"] == 10.0),
        "{json}"
    );
    let html = repo
        .run(&["rollout", "timeline", &id, "--format", "html"])
        .stdout;
    assert!(html.contains("class=\"idle-band\""), "no idle marks");
    assert!(html.contains("sample verdict-idle"), "no idle samples");
}

#[test]
fn a_ring_idle_for_max_idle_halts_and_rolls_back_or_waits_in_place() {
    let (halting, waiting) = (TestRepo::new(), TestRepo::new());
    let quiet = Arc::new(Mutex::new(0.2));
    let a = exporter(halting.path(), "quiet", quiet.clone(), None);
    let b = exporter(waiting.path(), "hushed", quiet, None);
    let prom = Prometheus::start(&[a.port, b.port], None);
    let (good, _) = repo_with_ring(
        &halting,
        &prom.url(),
        "quiet",
        &ring_file(
            "quiet",
            &min_traffic("quiet", 10.0),
            "inconclusive_limit: 2\nmax_idle: 3s\non_idle: halt\n",
        ),
    );
    let (_, next) = repo_with_ring(
        &waiting,
        &prom.url(),
        "hushed",
        &ring_file(
            "hushed",
            &min_traffic("hushed", 10.0),
            "inconclusive_limit: 2\nmax_idle: 3s\non_idle: wait\n",
        ),
    );
    prom.wait_for(&traffic("quiet"));
    prom.wait_for(&traffic("hushed"));
    let (id_a, id_b) = (start(&halting), start(&waiting));
    let (run_a, run_b) = (spawn_run(&halting), spawn_run(&waiting));
    let (out_a, _) = exited(run_a, 1);
    let (out_b, _) = exited(run_b, 1);

    // `on_idle: halt`: halted like a breach, rolled back per `on_breach`.
    assert!(out_a.contains("halted at ring quiet: idle for "), "{out_a}");
    assert_eq!(halting.rev_parse("refs/rings/quiet"), good);
    let entries = journal(&halting);
    let evaluated = events(&entries, "evaluated", "quiet");
    // At 1 s a round, idle for 3 s takes four idle rounds: more than the
    // inconclusive limit, never counted as healthy.
    assert!(rounds_with(&evaluated, "idle") >= 4, "{evaluated:?}");
    assert_eq!(rounds_with(&evaluated, "healthy"), 0, "{evaluated:?}");
    let halted = events(&entries, "halted", "quiet");
    assert_eq!(halted[0]["halt"]["rollback"], true);
    assert_eq!(halted[0]["halt"]["threshold"], 10.0);
    assert!(
        halted[0]["halt"]["reason"]
            .as_str()
            .unwrap()
            .contains("`max_idle` is 3s: too little traffic to judge the ring"),
        "{halted:?}"
    );
    assert_eq!(events(&entries, "rolled-back", "quiet").len(), 1);
    let status = halting.run(&["rollout", "status", &id_a]).stdout;
    assert!(status.contains("rolled-back"), "{status}");

    // `on_idle: wait`: halted in place, the revision kept, and status says
    // what a person does next.
    assert!(
        out_b.contains("halted at ring hushed: idle for "),
        "{out_b}"
    );
    assert_eq!(waiting.rev_parse("refs/rings/hushed"), next);
    let entries = journal(&waiting);
    assert!(events(&entries, "rolled-back", "hushed").is_empty());
    // Journaled without a rollback (`rollback` is left out when false).
    assert_ne!(
        events(&entries, "halted", "hushed")[0]["halt"]["rollback"],
        true
    );
    let status = waiting.run(&["rollout", "status", &id_b]).stdout;
    assert!(
        status.contains(&format!(
            "`ringmaster rollout resume {id_b}` soaks it again"
        )),
        "{status}"
    );
    assert!(status.contains("    idle for "), "{status}");
    assert!(
        status.contains("on gate `error-ratio`): the soak clock waits"),
        "{status}"
    );
    let json = waiting
        .run(&["rollout", "status", &id_b, "--format", "json"])
        .json();
    let idle = &json["rings"][0]["soak_clock"]["idle"];
    assert_eq!(idle["floor"], 10.0, "{json}");
    assert!(idle["rounds"].as_u64().unwrap() >= 4, "{json}");
    assert!(idle["seconds"].as_i64().unwrap() >= 3, "{json}");
}

#[test]
fn the_soak_clock_starts_when_the_ring_s_hosts_picked_the_revision_up() {
    let (follows, stuck) = (TestRepo::new(), TestRepo::new());
    let rate = Arc::new(Mutex::new(100.0));
    let four_hosts = |every| Fleet { hosts: 4, every };
    let a = exporter(
        follows.path(),
        "canary",
        rate.clone(),
        Some(four_hosts(Some(1.0))),
    );
    let b = exporter(stuck.path(), "stale", rate, Some(four_hosts(None)));
    let prom = Prometheus::start(&[a.port, b.port], None);
    let converged = |ring: &str, deadline: &str| {
        format!(
            "converged:\n  query: '{}'\n  min: 0.75\n  deadline: {deadline}\n",
            converged_query(ring)
        )
    };
    let (_, next) = repo_with_ring(
        &follows,
        &prom.url(),
        "canary",
        &ring_file("canary", "", &converged("canary", "60s")),
    );
    let (good, _) = repo_with_ring(
        &stuck,
        &prom.url(),
        "stale",
        &ring_file("stale", "", &converged("stale", "3s")),
    );
    prom.wait_for(&error_ratio("canary"));
    prom.wait_for(&error_ratio("stale"));
    prom.wait_for("config_revision_info{ring=\"canary\"}");
    prom.wait_for("config_revision_info{ring=\"stale\"}");
    let (id_a, id_b) = (start(&follows), start(&stuck));
    let (run_a, run_b) = (spawn_run(&follows), spawn_run(&stuck));
    let (_, err_a) = exited(run_a, 0);
    let (out_b, _) = exited(run_b, 1);

    // The hosts picked it up one a second: the soak clock waited for three
    // of four, and the first soak evaluation came after that.
    assert_eq!(follows.rev_parse("refs/rings/canary"), next);
    assert!(err_a.contains("canary: converged: "), "{err_a}");
    let entries = journal(&follows);
    let order = kinds(&entries);
    let delivered = order.iter().position(|k| k == "delivered").unwrap();
    let converged_at = order.iter().position(|k| k == "converged").unwrap();
    let first_evaluation = order.iter().position(|k| k == "evaluated").unwrap();
    assert!(
        delivered < converged_at && converged_at < first_evaluation,
        "{order:?}"
    );
    let checks = events(&entries, "converging", "canary");
    assert!(!checks.is_empty(), "it had to wait: {order:?}");
    for c in &checks {
        assert_eq!(c["min"], 0.75);
        // Below the floor, or no host on it yet (no series: no data).
        assert!(
            c["value"].as_f64().is_none_or(|v| v < 0.75)
                && (c.get("value").is_some() || c["reason"] == "no data"),
            "{c}"
        );
    }
    let reached = &events(&entries, "converged", "canary")[0];
    assert!(reached["value"].as_f64().unwrap() >= 0.75, "{reached}");
    assert!(
        order[first_evaluation..].iter().all(|k| k != "converging"),
        "{order:?}"
    );
    // Status, timeline and chart show the curve.
    let status = follows.run(&["rollout", "status", &id_a]).stdout;
    assert!(status.contains("    converged after "), "{status}");
    assert!(
        status.contains("of its hosts on the revision (floor 0.75)"),
        "{status}"
    );
    let json = follows
        .run(&["rollout", "status", &id_a, "--format", "json"])
        .json();
    let curve = &json["rings"][0]["soak_clock"]["convergence"];
    assert_eq!(curve["converged"], true, "{json}");
    assert_eq!(curve["values"].as_array().unwrap().len(), checks.len() + 1);
    let md = follows.run(&["rollout", "timeline", &id_a]).stdout;
    assert!(md.contains("| converged | "), "{md}");
    assert!(
        md.contains("of the ring's hosts on the revision (floor 0.75): the soak clock starts"),
        "{md}"
    );
    let html = follows
        .run(&["rollout", "timeline", &id_a, "--format", "html"])
        .stdout;
    assert!(
        html.contains("converged (hosts on the revision)"),
        "no convergence chart"
    );
    assert!(
        html.contains("sample verdict-converged"),
        "no convergence point"
    );

    // Hosts that never pick it up: halted at the deadline, rolled back.
    assert!(
        out_b.contains("halted at ring stale: delivered but not picked up: "),
        "{out_b}"
    );
    assert_eq!(stuck.rev_parse("refs/rings/stale"), good);
    let entries = journal(&stuck);
    assert!(
        events(&entries, "evaluated", "stale").is_empty(),
        "never soaked"
    );
    assert!(!events(&entries, "converging", "stale").is_empty());
    assert_eq!(events(&entries, "rolled-back", "stale").len(), 1);
    let halted = &events(&entries, "halted", "stale")[0];
    assert_eq!(halted["halt"]["rollback"], true);
    assert_eq!(halted["halt"]["threshold"], 0.75);
    let status = stuck.run(&["rollout", "status", &id_b]).stdout;
    assert!(status.contains("not converged "), "{status}");
}

#[test]
fn a_converged_query_without_its_revision_is_a_warning_and_bad_values_are_findings() {
    let repo = TestRepo::new();
    repo.file(
        "ringmaster.yaml",
        "version: 1\nhierarchy:\n  - config/defaults.yaml\nhost_classes:\n  web: {ring: canary}\nrings: rings/\n",
    )
    .file("config/defaults.yaml", "port: 8080\n")
    .file(
        "rings/canary.yaml",
        "name: canary\norder: 1\nsoak: 1m\ngates:\n  - name: errors\n    query: 'errors'\n    max: 0.01\n    min_traffic: {query: 'rps', min: -1}\nmax_idle: soon\non_idle: later\nconverged:\n  query: 'avg(config_revision_info)'\n  min: 2\n  deadline: 5m\n  hosts: 3\n",
    );
    let out = repo.run(&["check", "--format", "json"]);
    let found: Vec<(String, u64, String)> = out
        .findings()
        .iter()
        .filter(|f| f["file"] == "rings/canary.yaml")
        .map(|f| {
            (
                f["rule"].as_str().unwrap_or("").to_owned(),
                f["line"].as_u64().unwrap_or(0),
                f["severity"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    for expected in [
        ("schema", 8),
        ("schema", 9),
        ("schema", 10),
        ("convergence-revision", 12),
        ("schema", 13),
        ("schema", 15),
    ] {
        assert!(
            found
                .iter()
                .any(|(rule, line, _)| rule == expected.0 && *line == expected.1),
            "{expected:?} in {found:?}\n{}",
            out.stdout
        );
    }
    assert!(
        found
            .iter()
            .any(|(rule, _, severity)| rule == "convergence-revision" && severity == "warning"),
        "{found:?}"
    );
}
