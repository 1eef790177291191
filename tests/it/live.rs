//! The real servers the live tests start on loopback, shared by every test
//! module that needs them: Prometheus (Debian's `prometheus`), a Pushgateway
//! (`prometheus-pushgateway`) and [`Scraped`], a tiny exporter whose body the
//! test computes at each scrape. `scripts/test.sh` installs the packages;
//! when one is missing the tests fail, naming the package, never skip.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{BIN, TestRepo, hermetic, temp_dir, tick};

/// A program on PATH, or a failure that says how to get it.
pub(crate) fn tool(name: &str) -> PathBuf {
    tool_from(name, "prometheus")
}

/// A program on PATH, or a failure naming the Debian package that has it.
pub(crate) fn tool_from(name: &str, package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`{name}` is not installed: these tests need the real one; install Debian's `{package}` package (scripts/test.sh does: apt-get install {package})"
            )
        })
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// The user and password of the Prometheus with basic auth, and its
/// bcrypt hash (cost 4) for Prometheus's web config.
pub(crate) const USER: &str = "ringmaster";
pub(crate) const PASSWORD: &str = "ringmaster-test";
pub(crate) const PASSWORD_BCRYPT: &str =
    "$2b$04$PZ8VXDQlnVs86/sH7/74Fu9reBQeh7aPT3vvpWBd9qPDBLDTTs4py";
/// base64("ringmaster:ringmaster-test")
pub(crate) const BASIC: &str = "cmluZ21hc3RlcjpyaW5nbWFzdGVyLXRlc3Q=";

/// `GET path` over HTTP/1.0 (no chunked answers): (status, body).
pub(crate) fn http_get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
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

pub(crate) fn urlencode(s: &str) -> String {
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
pub(crate) struct Prometheus {
    child: Option<Child>,
    pub(crate) port: u16,
    dir: tempfile::TempDir,
    pub(crate) data: PathBuf,
}

impl Prometheus {
    /// Starts Prometheus scraping `targets` every second, storing in
    /// `data` (default: a fresh directory).
    pub(crate) fn start(targets: &[u16], data: Option<&Path>) -> Prometheus {
        Prometheus::start_with(targets, data, false)
    }

    /// A Prometheus serving `openmetrics` history (`# EOF`-terminated text),
    /// written into blocks with `promtool tsdb create-blocks-from`; keep the
    /// directory alive as long as the server.
    pub(crate) fn with_history(openmetrics: &str) -> (tempfile::TempDir, Prometheus) {
        let work = temp_dir("ringmaster-history-");
        let input = work.path().join("history.om");
        std::fs::write(&input, openmetrics).unwrap();
        let data = work.path().join("data");
        crate::support::run_tool(
            Command::new(tool("promtool"))
                .args(["tsdb", "create-blocks-from", "openmetrics"])
                .arg(&input)
                .arg(&data),
            "promtool tsdb create-blocks-from",
        );
        let prom = Prometheus::start(&[], Some(&data));
        (work, prom)
    }

    /// With `basic_auth`, every request needs [`USER`] and [`PASSWORD`].
    pub(crate) fn start_with(targets: &[u16], data: Option<&Path>, basic_auth: bool) -> Prometheus {
        let dir = temp_dir("ringmaster-prom-");
        let mut config = String::from(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n",
        );
        for port in targets {
            // `honor_labels`: a Pushgateway's pushed `job`/`instance` labels
            // are kept, as its documentation asks; an exporter has none.
            config.push_str(&format!(
                "  - job_name: app-{port}\n    honor_labels: true\n    scrape_interval: 1s\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
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
    pub(crate) fn launch(&mut self) {
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

    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }

    /// An instant query's single value, if it has one now.
    pub(crate) fn value(&self, query: &str) -> Option<f64> {
        let (_, body) = http_get(
            self.port,
            &format!("/api/v1/query?query={}", urlencode(query)),
        )
        .ok()?;
        let v: Value = serde_json::from_str(&body).ok()?;
        v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
    }

    /// Waits until `query` has a value (scrapes have landed).
    pub(crate) fn wait_for(&self, query: &str) {
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

    pub(crate) fn stop(&mut self) {
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

/// An exporter on a loopback port: each scrape's body is what `body` returns,
/// given the seconds since the previous scrape (counters grow by rate × dt).
pub(crate) struct Scraped {
    pub(crate) port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Scraped {
    pub(crate) fn start(mut body: impl FnMut(f64) -> String + Send + 'static) -> Scraped {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let thread = std::thread::spawn(move || {
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
                let text = body(dt);
                let _ = write!(
                    conn,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                    text.len()
                );
            }
        });
        Scraped {
            port,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Scraped {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What `refs/rings/<ring>` holds in `repo` now ("" when nothing).
pub(crate) fn ring_ref(repo: &Path, ring: &str) -> String {
    Command::new("git")
        .args(["rev-parse", "-q", "--verify"])
        .arg(format!("refs/rings/{ring}"))
        .current_dir(repo)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// A Prometheus Pushgateway on a free loopback port; killed on drop.
pub(crate) struct Pushgateway {
    child: Child,
    pub(crate) port: u16,
    dir: tempfile::TempDir,
}

impl Pushgateway {
    pub(crate) fn start() -> Pushgateway {
        let dir = temp_dir("ringmaster-pushgateway-");
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("log")).unwrap();
        let child = Command::new(tool_from(
            "prometheus-pushgateway",
            "prometheus-pushgateway",
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--log.level=warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start prometheus-pushgateway");
        let mut gateway = Pushgateway { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok((200, _)) = http_get(port, "/-/ready") {
                return gateway;
            }
            if let Ok(Some(status)) = gateway.child.try_wait() {
                panic!(
                    "prometheus-pushgateway exited ({status}):\n{}",
                    gateway.log()
                );
            }
            tick(deadline, "pushgateway not ready after 30 s", || {
                gateway.log()
            });
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }

    /// What it exposes now (`/metrics`).
    pub(crate) fn metrics(&self) -> String {
        http_get(self.port, "/metrics")
            .map(|(_, b)| b)
            .unwrap_or_default()
    }
}

impl Drop for Pushgateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The repo's local journal, one JSON value per entry.
pub(crate) fn journal(repo: &TestRepo) -> Vec<Value> {
    std::fs::read_to_string(repo.path().join(".git/ringmaster/journal.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The journaled events of `kind` for `ring`.
pub(crate) fn events<'a>(entries: &'a [Value], kind: &str, ring: &str) -> Vec<&'a Value> {
    entries
        .iter()
        .map(|e| &e["event"])
        .filter(|e| e["kind"] == kind && e["ring"] == ring)
        .collect()
}

/// `rollout run` in the background.
pub(crate) fn spawn_run(repo: &TestRepo) -> Child {
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

/// Waits for the driver, which must exit with `code`: its (stdout, stderr).
pub(crate) fn exited(child: Child, code: i32) -> (String, String) {
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "{stdout}{stderr}");
    (stdout, stderr)
}

/// The harness itself: what is pushed to the Pushgateway is what the
/// Prometheus scraping it answers, with the pushed `job` label kept.
#[test]
fn a_metric_pushed_to_the_pushgateway_is_queryable_in_prometheus() {
    let gateway = Pushgateway::start();
    let mut stream = TcpStream::connect(("127.0.0.1", gateway.port)).unwrap();
    let body = "harness_probe 42\n";
    write!(
        stream,
        "POST /metrics/job/harness HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(
        answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200"),
        "{answer}"
    );
    assert!(
        gateway
            .metrics()
            .contains("harness_probe{instance=\"\",job=\"harness\"} 42"),
        "{}: {}",
        gateway.url(),
        gateway.metrics()
    );
    let prom = Prometheus::start(&[gateway.port], None);
    prom.wait_for("harness_probe{job=\"harness\"}");
    assert_eq!(prom.value("harness_probe{job=\"harness\"}"), Some(42.0));
}
