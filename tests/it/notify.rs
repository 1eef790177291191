//! Notifications and deploy markers with real parts: `notify:` webhooks
//! against an HTTP receiver the test runs (a `TcpListener` thread that
//! records every request, or one that accepts and never answers), and
//! deploy markers pushed to Debian's `prometheus-pushgateway` scraped by a
//! real Prometheus.

use std::io::{BufRead, BufReader, Read};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::live::{Prometheus, Pushgateway, http_get, journal, urlencode};
use crate::support::{TestRepo, error_series, ring_file};

/// One request a receiver got.
#[derive(Debug, Clone)]
struct Request {
    path: String,
    /// Header names lower-cased.
    headers: Vec<(String, String)>,
    body: Value,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// An HTTP receiver on a free loopback port: answers every POST `200 ok`,
/// or (hanging) accepts connections and never answers.
struct Receiver {
    port: u16,
    requests: Arc<Mutex<Vec<Request>>>,
    connections: Arc<Mutex<Vec<TcpStream>>>,
}

impl Receiver {
    fn start(hang: bool) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests: Arc<Mutex<Vec<Request>>> = Arc::default();
        let connections: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (seen, held) = (requests.clone(), connections.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                if hang {
                    // Held open, never read or answered.
                    held.lock().unwrap().push(stream);
                    continue;
                }
                if let Some(request) = read_request(&stream) {
                    seen.lock().unwrap().push(request);
                }
                let mut stream = stream;
                let _ = std::io::Write::write_all(
                    &mut stream,
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                );
            }
        });
        Receiver {
            port,
            requests,
            connections,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

fn read_request(stream: &TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let path = line.split_whitespace().nth(1)?.to_owned();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_lowercase(), value.trim().to_owned()));
    }
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Request {
        path,
        headers,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    })
}

const TOKEN: &str = "Bearer s3cret-notify-token";
const SLACK_PATH: &str = "/services/T0000/B0000/s3cretSlackPath";

/// Two rings (dogfood, then single, which needs an approval), a threshold
/// gate each, embedded metrics at `dogfood_error` for dogfood, and `notify`.
fn notify_repo(notify: &str, dogfood_error: f64, soak: &str) -> TestRepo {
    let repo = TestRepo::new();
    repo.file(
        "ringmaster.yaml",
        &format!(
            "version: 1\nhierarchy:\n  - config/defaults.yaml\nhost_classes:\n  a: {{ring: dogfood}}\n  b: {{ring: single}}\nrings: rings/\nmetrics:\n  kind: embedded\n  file: metrics.yaml\n{notify}"
        ),
    )
    .file("config/defaults.yaml", "port: 8080\n")
    .file(
        "metrics.yaml",
        &error_series(&[("dogfood", dogfood_error), ("single", 0.001)]),
    )
    .file("rings/dogfood.yaml", &ring_file("dogfood", 1, soak, "1s", ""))
    .file(
        "rings/single.yaml",
        &ring_file(
            "single",
            2,
            soak,
            "1s",
            "approval:\n  required: true\n  approvers: [rm@example.com]\n",
        ),
    );
    repo.commit_as("config", "dev@example.com");
    repo
}

fn notified(entries: &[Value]) -> Vec<&Value> {
    entries
        .iter()
        .map(|e| &e["event"])
        .filter(|e| e["kind"] == "notified")
        .collect()
}

#[test]
fn a_webhook_gets_one_message_per_subscribed_event_with_its_header_from_the_environment() {
    let team = Receiver::start(false);
    let chat = Receiver::start(false);
    let notify = format!(
        "notify:\n  - name: team\n    url: {}\n    events: [awaiting-approval, promoted, complete, halted]\n    headers: {{Authorization: {{env: NOTIFY_TOKEN}}}}\n  - name: chat\n    url: {{env: CHAT_WEBHOOK_URL}}\n    format: slack\n    events: [complete]\n",
        team.url("/hook")
    );
    let repo = notify_repo(&notify, 0.001, "2s");
    repo.run(&["check"]).assert_code(0);
    let chat_url = chat.url(SLACK_PATH);
    let env = [
        ("RINGMASTER_CLOCK", "simulated"),
        ("NOTIFY_TOKEN", TOKEN),
        ("CHAT_WEBHOOK_URL", chat_url.as_str()),
    ];
    let mut outputs = Vec::new();
    let started = repo.run_env(&["rollout", "start", "--format", "json"], &env);
    let id = started.json()["id"].as_str().unwrap().to_owned();
    outputs.push(started);
    // dogfood promoted; single awaits approval (exit 4).
    outputs.push(repo.run_env(&["rollout", "run"], &env).expect_code(4));
    outputs.push(
        repo.run_env(
            &[
                "rollout",
                "approve",
                &id,
                "--ring",
                "single",
                "--as",
                "rm@example.com",
            ],
            &env,
        )
        .expect_code(0),
    );
    outputs.push(repo.run_env(&["rollout", "run"], &env).expect_code(0));

    let got: Vec<(String, String)> = team
        .requests()
        .iter()
        .map(|r| {
            (
                r.body["event"].as_str().unwrap_or("?").to_owned(),
                r.body["ring"].as_str().unwrap_or("-").to_owned(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = [
        ("promoted", "dogfood"),
        ("awaiting-approval", "single"),
        ("promoted", "single"),
        ("complete", "-"),
    ]
    .iter()
    .map(|(e, r)| (e.to_string(), r.to_string()))
    .collect();
    // One message per subscribed event, in order; none for started,
    // delivered or approved, which the webhook did not ask for.
    assert_eq!(got, want);
    let head = repo.rev_parse("HEAD");
    for request in team.requests() {
        assert_eq!(request.path, "/hook");
        assert_eq!(request.header("authorization"), Some(TOKEN));
        assert_eq!(request.header("content-type"), Some("application/json"));
        assert_eq!(request.body["rollout"], id.as_str());
        assert_eq!(request.body["revision"], head.as_str());
        assert_eq!(
            request.body["status"],
            format!("ringmaster rollout status {id}")
        );
        assert!(
            request.body["at"]
                .as_str()
                .is_some_and(|a| a.ends_with('Z'))
        );
    }
    // The Slack body: text (and blocks), to the URL from the environment.
    let slack = chat.requests();
    assert_eq!(slack.len(), 1, "{slack:?}");
    assert_eq!(slack[0].path, SLACK_PATH);
    assert_eq!(slack[0].header("authorization"), None);
    let text = slack[0].body["text"].as_str().unwrap_or_default();
    assert!(text.contains(&format!("rollout {id}")), "{text}");
    assert!(text.contains("is complete"), "{text}");
    assert_eq!(slack[0].body["blocks"][0]["type"], "section");

    // Every attempt is journaled, naming the webhook; no secret anywhere.
    let entries = journal(&repo);
    let attempts = notified(&entries);
    assert_eq!(attempts.len(), 5, "{attempts:#?}");
    for attempt in &attempts {
        assert_eq!(attempt["ok"], true, "{attempt}");
        assert_eq!(attempt["status"], 200, "{attempt}");
        assert_eq!(attempt["attempt"], 1, "{attempt}");
    }
    assert_eq!(
        attempts
            .iter()
            .filter(|a| a["webhook"] == "chat" && a["event"] == "complete")
            .count(),
        1
    );
    let text = std::fs::read_to_string(repo.path().join(".git/ringmaster/journal.jsonl")).unwrap();
    for secret in ["s3cret", &team.port.to_string(), &chat.port.to_string()] {
        assert!(!text.contains(secret), "{secret} in the journal");
        for out in &outputs {
            assert!(
                !out.stdout.contains(secret) && !out.stderr.contains(secret),
                "{secret} in {out:?}"
            );
        }
    }
    // The journal still replays and verifies with the new events in it.
    repo.run(&["audit", "verify"]).assert_code(0);
    let status = repo
        .run(&["rollout", "status", &id, "--format", "json"])
        .json();
    assert_eq!(status["state"], "complete");
    let timeline = repo.run(&["rollout", "timeline", &id]).expect_code(0);
    timeline.assert_stdout_has("webhook team: promoted, attempt 1: sent (200)");
    timeline.assert_stdout_has("webhook chat: complete, attempt 1: sent (200)");
}

#[test]
fn check_reports_bad_notify_and_pushgateway_shapes_at_their_line() {
    let repo = TestRepo::new();
    repo.file(
        "ringmaster.yaml",
        "version: 1\nhierarchy:\n  - config/defaults.yaml\nmetrics:\n  kind: none\n  pushgateway: ftp://gw:9091/\nnotify:\n  - name: team\n    url: http://hooks.example/x\n    events: [halted, exploded]\n    headers: {Authorization: {env: NOTIFY_TOKEN}}\n  - name: chat\n    url: {env: 'not a variable'}\n    events: [complete]\n    format: teams\n",
    )
    .file("config/defaults.yaml", "port: 1\n");
    let out = repo.run(&["check", "--format", "json"]).expect_code(2);
    let at: Vec<(String, u64, String)> = out
        .findings()
        .iter()
        .map(|f| {
            (
                f["file"].as_str().unwrap_or("?").to_owned(),
                f["line"].as_u64().unwrap_or(0),
                f["path"].as_str().unwrap_or("?").to_owned(),
            )
        })
        .collect();
    for (line, path) in [
        (6, "/metrics/pushgateway"),
        (10, "/notify/0/events/1"),
        (13, "/notify/1/url"),
        (15, "/notify/1/format"),
    ] {
        assert!(
            at.contains(&("ringmaster.yaml".to_owned(), line, path.to_owned())),
            "{line} {path} not in {at:?}"
        );
    }
    // A Pushgateway URL the schema accepts but that cannot be used, and a
    // header written in the repo: the manifest's own findings, at the line.
    repo.file(
        "ringmaster.yaml",
        "version: 1\nhierarchy:\n  - config/defaults.yaml\nmetrics:\n  kind: none\n  pushgateway: 'http://user:pw@gw:9091/'\n",
    );
    let out = repo.run(&["check", "--format", "json"]).expect_code(1);
    let finding = &out.findings()[0];
    assert_eq!(finding["line"], 6, "{finding}");
    assert!(
        finding["message"]
            .as_str()
            .is_some_and(|m| m.contains("Pushgateway URL")
                && m.contains("credentials")
                && !m.contains("pw")),
        "{finding}"
    );
}

#[test]
fn a_person_s_halt_and_freeze_notify_too_and_an_unset_variable_is_a_journaled_failure() {
    let team = Receiver::start(false);
    let notify = format!(
        "notify:\n  - name: team\n    url: {}\n    events: [halted, frozen]\n  - name: locked\n    url: {}\n    events: [halted]\n    headers: {{Authorization: {{env: NOTIFY_TOKEN_NEVER_SET}}}}\n",
        team.url("/hook"),
        team.url("/locked")
    );
    let repo = notify_repo(&notify, 0.001, "2s");
    let id = repo.run(&["rollout", "start", "--format", "json"]).json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // single awaits its approval: a person halts it.
    repo.run_env(&["rollout", "run"], &[("RINGMASTER_CLOCK", "simulated")])
        .assert_code(4);
    let halt = repo
        .run(&[
            "rollout",
            "halt",
            &id,
            "--reason",
            "pager went off",
            "--as",
            "rm@example.com",
        ])
        .expect_code(0);
    halt.assert_stderr_has("webhook `locked`");
    halt.assert_stderr_has("NOTIFY_TOKEN_NEVER_SET is not set");
    repo.run(&[
        "rollout",
        "freeze",
        "--reason",
        "incident 42",
        "--as",
        "rm@example.com",
    ])
    .assert_code(0);
    let got: Vec<(String, String, String)> = team
        .requests()
        .iter()
        .map(|r| {
            (
                r.path.clone(),
                r.body["event"].as_str().unwrap_or("?").to_owned(),
                r.body["reason"].as_str().unwrap_or("-").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("/hook".into(), "halted".into(), "pager went off".into()),
            ("/hook".into(), "frozen".into(), "incident 42".into()),
        ]
    );
    let entries = journal(&repo);
    let attempts = notified(&entries);
    // Webhooks are sent in parallel: their attempts arrive in any order.
    let mut summary: Vec<(String, String, bool)> = attempts
        .iter()
        .map(|a| {
            (
                a["webhook"].as_str().unwrap_or("?").to_owned(),
                a["event"].as_str().unwrap_or("?").to_owned(),
                a["ok"].as_bool().unwrap_or(true),
            )
        })
        .collect();
    summary.sort();
    assert_eq!(
        summary,
        vec![
            ("locked".into(), "halted".into(), false),
            ("team".into(), "frozen".into(), true),
            ("team".into(), "halted".into(), true),
        ]
    );
    // Not retried: an unset variable does not set itself.
    let locked = attempts.iter().find(|a| a["webhook"] == "locked").unwrap();
    assert_eq!(locked["attempt"], 1);
    assert!(
        locked["error"]
            .as_str()
            .is_some_and(|e| e.contains("NOTIFY_TOKEN_NEVER_SET is not set")),
        "{locked}"
    );
}

/// Seconds since the epoch of a journal entry.
fn at(entry: &Value) -> i64 {
    entry["at"]
        .as_str()
        .and_then(|a| a.parse::<jiff::Timestamp>().ok())
        .map(|t| t.as_second())
        .unwrap_or_else(|| panic!("no time in {entry}"))
}

fn entry<'a>(entries: &'a [Value], kind: &str) -> &'a Value {
    entries
        .iter()
        .find(|e| e["event"]["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {entries:#?}"))
}

#[test]
fn a_receiver_that_hangs_never_delays_the_halt_or_the_rollback() {
    let hung = Receiver::start(true);
    let notify = format!(
        "notify:\n  - name: pager\n    url: {}\n    events: [halted, rolled-back]\n    timeout: 1s\n    attempts: 2\n",
        hung.url("/hook")
    );
    // dogfood breaches from the first round: halted and rolled back.
    let repo = notify_repo(&notify, 0.5, "30s");
    repo.run(&["rollout", "start"]).assert_code(0);
    let began = Instant::now();
    // The wall clock: the journal's times are the real moments.
    let run = repo.run(&["rollout", "run"]).expect_code(1);
    let took = began.elapsed();
    run.assert_stdout_has("halted at ring dogfood");

    let entries = journal(&repo);
    let breach = entries
        .iter()
        .find(|e| e["event"]["kind"] == "evaluated" && e["event"]["verdict"] == "breach")
        .unwrap_or_else(|| panic!("no breach in {entries:#?}"));
    let halted = entry(&entries, "halted");
    let rolled_back = entry(&entries, "rolled-back");
    // A synchronous send would put 3 s (two 1 s timeouts and a 1 s backoff)
    // between the halt and the rollback.
    assert!(at(halted) - at(breach) <= 2, "{breach}\n{halted}");
    assert!(at(rolled_back) - at(halted) <= 2, "{halted}\n{rolled_back}");
    // The receiver was really asked, and hung.
    assert!(!hung.connections.lock().unwrap().is_empty());
    // The run ends in bounded time, every failed attempt journaled after
    // the rollback.
    assert!(took < Duration::from_secs(25), "{took:?}");
    let attempts = notified(&entries);
    let summary: Vec<(String, u64, bool)> = attempts
        .iter()
        .map(|a| {
            (
                a["event"].as_str().unwrap_or("?").to_owned(),
                a["attempt"].as_u64().unwrap_or(0),
                a["ok"].as_bool().unwrap_or(true),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("halted".into(), 1, false),
            ("halted".into(), 2, false),
            ("rolled-back".into(), 1, false),
            ("rolled-back".into(), 2, false),
        ]
    );
    for attempt in &attempts {
        assert_eq!(attempt["webhook"], "pager");
        assert!(attempt["error"].as_str().is_some(), "{attempt}");
    }
    let first_attempt = entries
        .iter()
        .position(|e| e["event"]["kind"] == "notified")
        .unwrap();
    let rollback = entries
        .iter()
        .position(|e| e["event"]["kind"] == "rolled-back")
        .unwrap();
    assert!(rollback < first_attempt);
    run.assert_stderr_has("webhook `pager`: halted notification, attempt 1");
    // The webhook is named, its address never shown.
    let text = std::fs::read_to_string(repo.path().join(".git/ringmaster/journal.jsonl")).unwrap();
    let port = hung.port.to_string();
    assert!(!text.contains(&port), "the port in the journal");
    assert!(
        !run.stderr.contains(&port) && !run.stdout.contains(&port),
        "{run:?}"
    );
}

/// What Prometheus answers for `query`: (labels, value) per series.
fn series(prom: &Prometheus, query: &str) -> Vec<(Value, f64)> {
    let Ok((200, body)) = http_get(
        prom.port,
        &format!("/api/v1/query?query={}", urlencode(query)),
    ) else {
        return Vec::new();
    };
    let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    v["data"]["result"]
        .as_array()
        .map(|results| {
            results
                .iter()
                .map(|r| {
                    (
                        r["metric"].clone(),
                        r["value"][1]
                            .as_str()
                            .and_then(|s| s.parse().ok())
                            .unwrap_or(f64::NAN),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Waits until `query` answers what `ok` accepts; returns it.
fn wait_until(
    prom: &Prometheus,
    query: &str,
    ok: impl Fn(&[(Value, f64)]) -> bool,
) -> Vec<(Value, f64)> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = series(prom, query);
        if ok(&now) {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "{query} answers {now:?} after 30 s:\n{}",
            prom.log()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn deploy_markers_reach_prometheus_through_the_pushgateway() {
    let gateway = Pushgateway::start();
    let prom = Prometheus::start(&[gateway.port], None);
    let repo = TestRepo::new();
    let manifest = |url: &str| {
        format!(
            "version: 1\nhierarchy:\n  - config/defaults.yaml\nhost_classes:\n  a: {{ring: dogfood}}\n  b: {{ring: single}}\nrings: rings/\nmetrics:\n  kind: embedded\n  file: metrics.yaml\n  pushgateway: {url}\n"
        )
    };
    repo.file("ringmaster.yaml", &manifest(&gateway.url()))
        .file("config/defaults.yaml", "port: 8080\n")
        .file(
            "metrics.yaml",
            &error_series(&[("dogfood", 0.001), ("single", 0.001)]),
        )
        .file(
            "rings/dogfood.yaml",
            &ring_file("dogfood", 1, "2s", "1s", ""),
        )
        .file("rings/single.yaml", &ring_file("single", 2, "2s", "1s", ""));
    repo.commit_as("config", "dev@example.com");
    let good = repo.rev_parse("HEAD");
    let sim = [("RINGMASTER_CLOCK", "simulated")];
    let first = repo.run(&["rollout", "start", "--format", "json"]).json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    repo.run_env(&["rollout", "run"], &sim).assert_code(0);

    // Each ring's revision and event times, from the journal's own times.
    let entries = journal(&repo);
    let time_of = |kind: &str, ring: Option<&str>| {
        let e = entries
            .iter()
            .filter(|e| e["rollout"] == first.as_str() && e["event"]["kind"] == kind)
            .find(|e| ring.is_none_or(|r| e["event"]["ring"] == r))
            .unwrap_or_else(|| panic!("no {kind} {ring:?}"));
        at(e) as f64
    };
    let markers = wait_until(
        &prom,
        "ringmaster_rollout_event_timestamp_seconds{job=\"ringmaster\"}",
        |s| s.len() == 5,
    );
    let mut got: Vec<(String, String, String, f64)> = markers
        .iter()
        .map(|(m, v)| {
            assert_eq!(m["revision"], good.as_str(), "{m}");
            (
                m["rollout"].as_str().unwrap_or("?").to_owned(),
                m["ring"].as_str().unwrap_or("?").to_owned(),
                m["event"].as_str().unwrap_or("?").to_owned(),
                *v,
            )
        })
        .collect();
    got.sort_by(|a, b| (&a.1, &a.2).cmp(&(&b.1, &b.2)));
    let row =
        |ring: &str, event: &str, t: f64| (first.clone(), ring.to_owned(), event.to_owned(), t);
    assert_eq!(
        got,
        vec![
            row(
                "dogfood",
                "delivered",
                time_of("delivered", Some("dogfood"))
            ),
            row("dogfood", "promoted", time_of("promoted", Some("dogfood"))),
            row("single", "complete", time_of("completed", None)),
            row("single", "delivered", time_of("delivered", Some("single"))),
            row("single", "promoted", time_of("promoted", Some("single"))),
        ]
    );
    let info = wait_until(&prom, "ringmaster_ring_revision_info", |s| s.len() == 2);
    for (labels, value) in &info {
        assert_eq!(labels["revision"], good.as_str(), "{labels}");
        assert_eq!(labels["job"], "ringmaster");
        assert_eq!(*value, 1.0);
    }

    // A bad revision halts dogfood and is rolled back: dogfood's group now
    // says the good revision, with the new rollout's halt and rollback;
    // single's markers are untouched.
    repo.file("config/defaults.yaml", "port: 9090\n")
        .file(
            "metrics.yaml",
            &error_series(&[("dogfood", 0.5), ("single", 0.001)]),
        )
        .commit("a bad change");
    let bad = repo.rev_parse("HEAD");
    let second = repo.run(&["rollout", "start", "--format", "json"]).json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    repo.run_env(&["rollout", "run"], &sim).assert_code(1);
    let dogfood = wait_until(
        &prom,
        "ringmaster_rollout_event_timestamp_seconds{ring=\"dogfood\"}",
        |s| s.iter().any(|(m, _)| m["event"] == "rolled-back"),
    );
    let events: Vec<&str> = dogfood
        .iter()
        .map(|(m, _)| {
            assert_eq!(m["rollout"], second.as_str(), "{m}");
            // The revision the rollout carried, though the ring holds `good` again.
            assert_eq!(m["revision"], bad.as_str(), "{m}");
            m["event"].as_str().unwrap_or("?")
        })
        .collect();
    let mut sorted = events.clone();
    sorted.sort();
    assert_eq!(sorted, vec!["delivered", "halted", "rolled-back"]);
    let info = wait_until(
        &prom,
        "ringmaster_ring_revision_info{ring=\"dogfood\"}",
        |s| s.len() == 1 && s[0].0["revision"] == good.as_str(),
    );
    assert_eq!(info.len(), 1);
    assert_eq!(
        series(
            &prom,
            "ringmaster_rollout_event_timestamp_seconds{ring=\"single\"}"
        )
        .len(),
        3
    );
    // Grafana's annotation query: the events of a rollout, as times.
    let annotations = series(
        &prom,
        &format!("ringmaster_rollout_event_timestamp_seconds{{rollout=\"{second}\"}} * 1000"),
    );
    assert_eq!(annotations.len(), 3);
    assert!(gateway.metrics().contains("ringmaster_ring_revision_info{"));
}
