//! SLO gates against a real Prometheus (Debian's `prometheus` package;
//! `scripts/test.sh` installs it). Each test starts its own Prometheus on a
//! free loopback port with a temporary storage directory, killed on drop.
//! The live tests scrape a small exporter in the test whose error rate
//! follows what ringmaster delivered to the ring (its git ref); the backtest
//! test loads synthetic history written with `promtool tsdb
//! create-blocks-from openmetrics`. When Prometheus is missing the tests
//! fail, naming the package, never skip.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{BIN, TestRepo, hermetic, places, run_tool, temp_dir, tick};

/// A program on PATH, or a failure that says how to get it.
fn tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`{name}` is not installed: these tests need a real Prometheus; install Debian's `prometheus` package (scripts/test.sh does: apt-get install prometheus)"
            )
        })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// The user and password of the Prometheus with basic auth, and its
/// bcrypt hash (cost 4) for Prometheus's web config.
const USER: &str = "ringmaster";
const PASSWORD: &str = "ringmaster-test";
const PASSWORD_BCRYPT: &str = "$2b$04$PZ8VXDQlnVs86/sH7/74Fu9reBQeh7aPT3vvpWBd9qPDBLDTTs4py";
/// base64("ringmaster:ringmaster-test")
const BASIC: &str = "cmluZ21hc3RlcjpyaW5nbWFzdGVyLXRlc3Q=";

/// `GET path` over HTTP/1.0 (no chunked answers): (status, body).
fn http_get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nAuthorization: Basic {BASIC}\r\n\r\n"
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A Prometheus process with its own config and storage; killed on drop.
struct Prometheus {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
    data: PathBuf,
}

impl Prometheus {
    /// Starts Prometheus scraping `targets` every second, storing in
    /// `data` (default: a fresh directory).
    fn start(targets: &[u16], data: Option<&Path>) -> Prometheus {
        Prometheus::start_with(targets, data, false)
    }

    /// With `basic_auth`, every request needs [`USER`] and [`PASSWORD`].
    fn start_with(targets: &[u16], data: Option<&Path>, basic_auth: bool) -> Prometheus {
        let dir = temp_dir("ringmaster-prom-");
        let mut config = String::from(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n",
        );
        for port in targets {
            config.push_str(&format!(
                "  - job_name: app-{port}\n    scrape_interval: 1s\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
            ));
        }
        std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
        let web = if basic_auth {
            format!("basic_auth_users:\n  {USER}: {PASSWORD_BCRYPT}\n")
        } else {
            String::new()
        };
        std::fs::write(dir.path().join("web.yml"), web).unwrap();
        let data = data.map_or_else(|| dir.path().join("data"), Path::to_path_buf);
        let mut prom = Prometheus {
            child: None,
            port: free_port(),
            dir,
            data,
        };
        prom.launch();
        prom
    }

    /// Starts the process (again, after [`Prometheus::stop`]: same port,
    /// same data) and waits until it is ready.
    fn launch(&mut self) {
        let dir = self.dir.path();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("log"))
            .unwrap();
        let child = Command::new(tool("prometheus"))
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--web.config.file={}",
                dir.join("web.yml").display()
            ))
            .arg(format!("--storage.tsdb.path={}", self.data.display()))
            .arg("--storage.tsdb.retention.time=3650d")
            .arg(format!("--web.listen-address=127.0.0.1:{}", self.port))
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start prometheus");
        self.child = Some(child);
        let (port, prom) = (self.port, self);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok((200, _)) = http_get(port, "/-/ready") {
                return;
            }
            if let Some(Ok(Some(status))) = prom.child.as_mut().map(|c| c.try_wait()) {
                panic!("prometheus exited ({status}):\n{}", prom.log());
            }
            tick(deadline, "prometheus not ready after 60 s", || prom.log());
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }

    /// An instant query's single value, if it has one now.
    fn value(&self, query: &str) -> Option<f64> {
        let (_, body) = http_get(
            self.port,
            &format!("/api/v1/query?query={}", urlencode(query)),
        )
        .ok()?;
        let v: Value = serde_json::from_str(&body).ok()?;
        v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
    }

    /// Waits until `query` has a value (scrapes have landed).
    fn wait_for(&self, query: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.value(query).is_none() {
            assert!(
                Instant::now() < deadline,
                "no data for {query} after 30 s:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A test exporter: `http_requests_total{ring, code}` counters at 100
/// requests/s per ring, 0.1% failing, except 50% for `bad_ring` while its git
/// ref points at the `bad` revision.
struct Exporter {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    bad: Arc<Mutex<Option<String>>>,
}

impl Exporter {
    fn start(repo: &Path, rings: &[&str], bad_ring: &str) -> Exporter {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let bad: Arc<Mutex<Option<String>>> = Arc::default();
        let (stop2, bad2) = (stop.clone(), bad.clone());
        let repo = repo.to_path_buf();
        let rings: Vec<String> = rings.iter().map(|r| r.to_string()).collect();
        let bad_ring = bad_ring.to_owned();
        let thread = std::thread::spawn(move || {
            let mut counters: Vec<(String, f64, f64)> =
                rings.iter().map(|r| (r.clone(), 0.0, 0.0)).collect();
            let mut last = Instant::now();
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut conn) = conn else { continue };
                let mut buf = [0u8; 4096];
                let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
                let _ = conn.read(&mut buf);
                let dt = last.elapsed().as_secs_f64();
                last = Instant::now();
                let holds = Command::new("git")
                    .args(["rev-parse", "-q", "--verify"])
                    .arg(format!("refs/rings/{bad_ring}"))
                    .current_dir(&repo)
                    .output()
                    .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
                    .unwrap_or_default();
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
                let _ = write!(
                    conn,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Exporter {
            port,
            stop,
            thread: Some(thread),
            bad,
        }
    }

    fn set_bad(&self, revision: &str) {
        *self.bad.lock().unwrap() = Some(revision.to_owned());
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
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

fn journal(repo: &TestRepo) -> Vec<Value> {
    std::fs::read_to_string(repo.path().join(".git/ringmaster/journal.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn events<'a>(entries: &'a [Value], kind: &str, ring: &str) -> Vec<&'a Value> {
    entries
        .iter()
        .map(|e| &e["event"])
        .filter(|e| e["kind"] == kind && e["ring"] == ring)
        .collect()
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

/// `rollout run` in the background.
fn spawn_run(repo: &TestRepo) -> Child {
    let mut driver = Command::new(BIN);
    driver
        .arg("--repo")
        .arg(repo.path())
        .args(["rollout", "run"]);
    hermetic(&mut driver)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
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

/// Waits for the driver, which must exit with `code`: its (stdout, stderr).
fn exited(child: Child, code: i32) -> (String, String) {
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "{stdout}{stderr}");
    (stdout, stderr)
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
    let promtool = tool("promtool");
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
    let work = tempfile::tempdir().unwrap();
    let input = work.path().join("history.om");
    std::fs::write(&input, text).unwrap();
    let data = work.path().join("data");
    run_tool(
        Command::new(promtool)
            .args(["tsdb", "create-blocks-from", "openmetrics"])
            .arg(&input)
            .arg(&data),
        "promtool tsdb create-blocks-from",
    );
    let prom = Prometheus::start(&[], Some(&data));

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
