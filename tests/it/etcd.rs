//! Shared mode against a real etcd (SPEC §7): the journal, the driver lock
//! and the ring deliveries in etcd. Each test starts its own `etcd` on free
//! loopback ports with a temp data dir (Debian's `etcd-server`; `etcdctl`
//! from `etcd-client`), and fails, never skips, when they are missing.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{BIN, FREEZE_FOR_INCIDENT, Output, TestRepo, run_tool, tick};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn which(tool: &str, package: &str) -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(tool))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| {
        panic!(
            "`{tool}` is not installed: these tests need a real etcd. Run scripts/test.sh (it installs Debian's `{package}`), or `apt-get install {package}`"
        )
    })
}

/// A real etcd on free loopback ports, killed on drop.
pub(crate) struct EtcdServer {
    child: Option<Child>,
    data: tempfile::TempDir,
    client_port: u16,
    peer_port: u16,
    /// Extra flags (TLS) kept for restarts.
    extra: Vec<String>,
    scheme: &'static str,
    /// The CA and client certificate etcdctl uses, with TLS.
    pki: Option<PathBuf>,
}

impl EtcdServer {
    pub(crate) fn start() -> EtcdServer {
        EtcdServer::start_with(&[], "http", None)
    }

    /// etcd serving clients over TLS with the certificates in `pki` (see
    /// [`make_pki`]), requiring a client certificate signed by its CA.
    pub(crate) fn start_tls(pki: &std::path::Path) -> EtcdServer {
        let file = |name: &str| pki.join(name).display().to_string();
        let extra = [
            "--cert-file".to_owned(),
            file("server.pem"),
            "--key-file".to_owned(),
            file("server-key.pem"),
            "--trusted-ca-file".to_owned(),
            file("ca.pem"),
            "--client-cert-auth".to_owned(),
        ];
        EtcdServer::start_with(&extra, "https", Some(pki.to_path_buf()))
    }

    fn start_with(extra: &[String], scheme: &'static str, pki: Option<PathBuf>) -> EtcdServer {
        let mut server = EtcdServer {
            child: None,
            data: tempfile::tempdir().expect("a temp dir"),
            client_port: free_port(),
            peer_port: free_port(),
            extra: extra.to_vec(),
            scheme,
            pki,
        };
        server.launch();
        server
    }

    pub(crate) fn url(&self) -> String {
        format!("{}://127.0.0.1:{}", self.scheme, self.client_port)
    }

    fn launch(&mut self) {
        let etcd = which("etcd", "etcd-server");
        let peer = format!("http://127.0.0.1:{}", self.peer_port);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.data.path().join("etcd.log"))
            .expect("the etcd log file");
        let child = Command::new(etcd)
            .arg("--data-dir")
            .arg(self.data.path().join("data"))
            .args(["--name", "default"])
            .args(["--listen-client-urls", &self.url()])
            .args(["--advertise-client-urls", &self.url()])
            .args(["--listen-peer-urls", &peer])
            .args(["--initial-advertise-peer-urls", &peer])
            .args(["--initial-cluster", &format!("default={peer}")])
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start etcd");
        self.child = Some(child);
        self.wait_healthy();
    }

    fn wait_healthy(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if self.ctl(&["endpoint", "health"]).code == Some(0) {
                return;
            }
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!(
                    "etcd exited ({status}) before it was healthy:\n{}",
                    self.log()
                );
            }
            tick(deadline, "etcd was not healthy within 20 s", || self.log());
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.data.path().join("etcd.log")).unwrap_or_default()
    }

    /// Kills etcd (SIGKILL: what a crash or an OOM kill does).
    pub(crate) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same data dir and ports.
    pub(crate) fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    /// Extra etcdctl flags (TLS, user).
    fn ctl_flags(&self) -> Vec<String> {
        let mut flags = vec![format!("--endpoints={}", self.url())];
        if let Some(dir) = &self.pki {
            flags.push(format!("--cacert={}", dir.join("ca.pem").display()));
            flags.push(format!("--cert={}", dir.join("client.pem").display()));
            flags.push(format!("--key={}", dir.join("client-key.pem").display()));
        }
        flags
    }

    /// Runs etcdctl against this server.
    pub(crate) fn ctl(&self, args: &[&str]) -> Output {
        let started = Instant::now();
        let out = Command::new(which("etcdctl", "etcd-client"))
            .env("ETCDCTL_API", "3")
            .args(self.ctl_flags())
            .args(["--dial-timeout=2s", "--command-timeout=5s"])
            .args(args)
            .output()
            .expect("run etcdctl");
        Output {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            elapsed: started.elapsed(),
        }
    }

    /// etcdctl that must succeed; its stdout.
    pub(crate) fn ctl_ok(&self, args: &[&str]) -> String {
        let out = self.ctl(args);
        assert_eq!(
            out.code,
            Some(0),
            "etcdctl {args:?} failed:\n{}",
            out.all_output()
        );
        out.stdout
    }

    /// A key's value, if it exists.
    pub(crate) fn get(&self, key: &str) -> Option<String> {
        self.kv(key).map(|(v, _)| v)
    }

    /// A key's value and version (how many times it was written since created).
    pub(crate) fn kv(&self, key: &str) -> Option<(String, u64)> {
        let json: Value = serde_json::from_str(&self.ctl_ok(&["get", key, "-w", "json"])).unwrap();
        let kv = json["kvs"].as_array()?.first()?.clone();
        let value = b64(kv["value"].as_str().unwrap_or(""));
        Some((value, kv["version"].as_u64().unwrap()))
    }

    /// The keys under a prefix, in key order.
    pub(crate) fn keys(&self, prefix: &str) -> Vec<String> {
        self.ctl_ok(&["get", "--prefix", "--keys-only", prefix])
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for EtcdServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, made
/// with the openssl command line (EC P-256 keys, PKCS#8).
fn make_pki(dir: &std::path::Path) {
    let openssl = which("openssl", "openssl");
    let run = |args: &[&str]| {
        run_tool(
            Command::new(&openssl).args(args).current_dir(dir),
            &format!("openssl {args:?}"),
        );
    };
    let key = |name: &str| {
        run(&[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            name,
        ])
    };
    key("ca-key.pem");
    run(&[
        "req",
        "-x509",
        "-new",
        "-key",
        "ca-key.pem",
        "-days",
        "2",
        "-subj",
        "/CN=ringmaster test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
        "-out",
        "ca.pem",
    ]);
    for (name, cn, ext) in [
        (
            "server",
            "127.0.0.1",
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth",
        ),
        ("client", "ringmaster", "extendedKeyUsage=clientAuth"),
    ] {
        key(&format!("{name}-key.pem"));
        run(&[
            "req",
            "-new",
            "-key",
            &format!("{name}-key.pem"),
            "-subj",
            &format!("/CN={cn}"),
            "-out",
            &format!("{name}.csr"),
        ]);
        std::fs::write(dir.join(format!("{name}.ext")), ext).unwrap();
        run(&[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca-key.pem",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &format!("{name}.ext"),
            "-out",
            &format!("{name}.pem"),
        ]);
    }
}

/// etcdctl's JSON output carries keys and values in base64.
fn b64(s: &str) -> String {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s)
        .expect("base64 from etcdctl");
    String::from_utf8(bytes).expect("utf-8")
}

const PREFIX: &str = "/rm";

/// A config repo whose state and deliveries live in `etcd` under `/rm`:
/// three rings (dogfood: class a; single: class b; multi: classes m1..m5),
/// one healthy embedded gate each, soak and interval as given.
fn etcd_repo(etcd: &EtcdServer, soak: &str, interval: &str) -> TestRepo {
    let repo = TestRepo::new();
    let url = etcd.url();
    repo.file(
        "ringmaster.yaml",
        &format!(
            "version: 1\nhierarchy:\n  - config/defaults.yaml\n  - config/ring/{{ring}}.yaml\nhost_classes:\n  a: {{ring: dogfood}}\n  b: {{ring: single}}\n  m1: {{ring: multi}}\n  m2: {{ring: multi}}\n  m3: {{ring: multi}}\n  m4: {{ring: multi}}\n  m5: {{ring: multi}}\nrings: rings/\nmetrics:\n  kind: embedded\n  file: metrics.yaml\nstate:\n  kind: etcd\n  endpoints: [{url}]\n  prefix: {PREFIX}\ndeliver:\n  kind: etcd\n  endpoints: [{url}]\n  prefix: {PREFIX}\n"
        ),
    )
    .file("config/defaults.yaml", "port: 8080\nworkers: 4\n");
    for (order, ring) in ["dogfood", "single", "multi"].iter().enumerate() {
        repo.file(
            &format!("config/ring/{ring}.yaml"),
            &format!("workers: {}\n", order + 5),
        );
        repo.file(
            &format!("rings/{ring}.yaml"),
            &format!(
                "name: {ring}\norder: {}\nsoak: {soak}\ninterval: {interval}\ngates:\n  - name: errors\n    query: errors{{ring=\"{ring}\"}}\n    max: 0.01\ninconclusive_limit: 2\non_breach: rollback\n",
                order + 1
            ),
        );
    }
    repo.file(
        "metrics.yaml",
        "series:\n  'errors{ring=\"dogfood\"}': [[0, 0.001]]\n  'errors{ring=\"single\"}': [[0, 0.001]]\n  'errors{ring=\"multi\"}': [[0, 0.001]]\n",
    );
    repo.git_env(&["add", "-A"], &[]);
    repo.git_env(
        &["commit", "-qm", "config"],
        &[
            ("GIT_AUTHOR_EMAIL", "dev@example.com"),
            ("GIT_COMMITTER_EMAIL", "dev@example.com"),
        ],
    );
    repo
}

const CLASSES: [(&str, &str); 7] = [
    ("dogfood", "a"),
    ("single", "b"),
    ("multi", "m1"),
    ("multi", "m2"),
    ("multi", "m3"),
    ("multi", "m4"),
    ("multi", "m5"),
];

/// `rollout run` on the simulated clock (soaks take no time), plus `envs`.
fn drive(repo: &TestRepo, envs: &[(&str, &str)]) -> Output {
    let mut all = vec![("RINGMASTER_CLOCK", "simulated")];
    all.extend_from_slice(envs);
    repo.run_env(&["rollout", "run"], &all)
}

fn start(repo: &TestRepo) -> String {
    let out = repo
        .run(&["rollout", "start", "--format", "json"])
        .expect_code(0);
    out.json()["id"].as_str().unwrap().to_owned()
}

/// Every journal entry in etcd, in key order, parsed.
fn journal(etcd: &EtcdServer) -> Vec<Value> {
    let json: Value = serde_json::from_str(&etcd.ctl_ok(&[
        "get",
        "--prefix",
        &format!("{PREFIX}/journal/"),
        "-w",
        "json",
    ]))
    .unwrap();
    let mut entries: Vec<Value> = json["kvs"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|kv| serde_json::from_str(&b64(kv["value"].as_str().unwrap())).unwrap())
        .collect();
    entries.sort_by_key(|e| e["seq"].as_u64());
    entries
}

/// `kind:ring` of every journal entry, in sequence order.
fn kinds(etcd: &EtcdServer) -> Vec<String> {
    journal(etcd)
        .iter()
        .map(|e| {
            format!(
                "{}:{}",
                e["event"]["kind"].as_str().unwrap_or(""),
                e["event"]["ring"].as_str().unwrap_or("")
            )
        })
        .collect()
}

/// Sequence numbers 1..=n with no gap or repeat, and a clean `audit verify`.
fn assert_journal_whole(repo: &TestRepo, etcd: &EtcdServer) {
    let seqs: Vec<u64> = journal(etcd)
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
    assert_eq!(seqs, expected, "journal sequence numbers");
    let audit = repo
        .run(&["audit", "verify", "--format", "json"])
        .expect_code(0);
    let report = audit.json();
    assert_eq!(report["intact"], true, "{report}");
    assert_eq!(report["entries"].as_u64(), Some(seqs.len() as u64));
}

/// Each ring's revision key holds `revision` and was written exactly once.
fn assert_delivered_once(etcd: &EtcdServer, revision: &str) {
    for ring in ["dogfood", "single", "multi"] {
        let (value, version) = etcd
            .kv(&format!("{PREFIX}/rings/{ring}/revision"))
            .unwrap_or_else(|| panic!("ring {ring} was never delivered"));
        assert_eq!((value.as_str(), version), (revision, 1), "ring {ring}");
    }
}

/// Waits until the etcd journal holds an entry of `kind` (for `ring`).
fn wait_for(etcd: &EtcdServer, what: &str, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !kinds(etcd).iter().any(|k| k == what) {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the driver exited ({status}) before `{what}`");
        }
        assert!(Instant::now() < deadline, "no `{what}` within 30 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn spawn_driver(repo: &TestRepo, actor: &str, envs: &[(&str, &str)]) -> Child {
    Command::new(BIN)
        .arg("--repo")
        .arg(repo.path())
        .args(["rollout", "run", "--as", actor])
        .env("NO_COLOR", "1")
        .env_remove("RINGMASTER_CLOCK")
        .envs(envs.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start a driver")
}

fn finish(child: Child) -> Output {
    let started = Instant::now();
    Output::of(
        child.wait_with_output().expect("the driver's output"),
        started,
    )
}

fn no_local_journal(repo: &TestRepo) {
    assert!(
        !repo.path().join(".git/ringmaster/journal.jsonl").exists(),
        "shared mode wrote a local journal"
    );
}

// ------------------------------------------------------------------ tests

#[test]
fn a_rollout_in_shared_mode_delivers_the_rendered_configs_and_reads_the_etcd_journal() {
    let etcd = EtcdServer::start();
    let repo = etcd_repo(&etcd, "30s", "30s");
    let head = repo.rev_parse("HEAD");
    let id = start(&repo);
    let out = drive(&repo, &[]).expect_code(0);
    assert!(out.stdout.contains("complete"), "{}", out.all_output());
    assert_delivered_once(&etcd, &head);
    // Each delivery names the ring's own key prefix, not `<ring>`.
    for ring in ["dogfood", "single", "multi"] {
        out.assert_stderr_has(&format!(" {PREFIX}/rings/{ring}/ ("));
    }
    // Every class key holds exactly what `render` prints for it.
    for (ring, class) in CLASSES {
        let delivered = etcd
            .get(&format!("{PREFIX}/rings/{ring}/classes/{class}"))
            .unwrap_or_else(|| panic!("class {class} not delivered"));
        let rendered = repo.run(&["render", "--class", class]).expect_code(0);
        assert_eq!(delivered, rendered.stdout, "class {class}");
    }
    // Nothing else under the ring: no stray or temporary keys.
    assert_eq!(etcd.keys(&format!("{PREFIX}/rings/multi/")).len(), 6);
    // The journal lives in etcd, one key per event, under the rollout's id.
    no_local_journal(&repo);
    let keys = etcd.keys(&format!("{PREFIX}/journal/{id}/"));
    assert_eq!(
        keys[0],
        format!("{PREFIX}/journal/{id}/00000000000000000001")
    );
    assert_journal_whole(&repo, &etcd);
    // status and timeline replay it.
    let status = repo
        .run(&["rollout", "status", &id, "--format", "json"])
        .expect_code(0);
    assert_eq!(status.json()["state"], "complete");
    let timeline = repo
        .run(&["rollout", "timeline", &id, "--format", "json"])
        .expect_code(0);
    let events = timeline.json()["events"].as_array().unwrap().len();
    assert_eq!(events, keys.len());

    // A second revision goes out with one guarded transaction per ring.
    repo.file("config/defaults.yaml", "port: 9090\nworkers: 4\n")
        .commit("port 9090");
    let next = repo.rev_parse("HEAD");
    start(&repo);
    drive(&repo, &[]).assert_code(0);
    let (value, version) = etcd.kv(&format!("{PREFIX}/rings/multi/revision")).unwrap();
    assert_eq!((value.as_str(), version), (next.as_str(), 2));
    assert!(
        etcd.get(&format!("{PREFIX}/rings/multi/classes/m3"))
            .unwrap()
            .contains("port: 9090")
    );

    // A revision that changes only multi's layer rewrites only multi's
    // classes; every ring's revision key still moves.
    repo.file("config/ring/multi.yaml", "workers: 12\n")
        .commit("more workers in multi");
    start(&repo);
    let out = drive(&repo, &[]).expect_code(0);
    assert!(
        out.stderr.contains("dogfood: delivered")
            && out.stderr.contains("(0 classes written, 1 unchanged"),
        "{}",
        out.stderr
    );
    let version = |key: &str| etcd.kv(&format!("{PREFIX}/rings/{key}")).unwrap().1;
    assert_eq!(version("dogfood/revision"), 3);
    assert_eq!(
        version("dogfood/classes/a"),
        2,
        "an unchanged class was rewritten"
    );
    assert_eq!(version("multi/classes/m2"), 3);

    // An entry edited in etcd is named by `audit verify`.
    let first = format!("{PREFIX}/journal/{id}/00000000000000000001");
    let edited = etcd
        .get(&first)
        .unwrap()
        .replace("dev@example.com", "mallory@example.com");
    assert_ne!(edited, etcd.get(&first).unwrap());
    etcd.ctl_ok(&["put", &first, &edited]);
    let audit = repo.run(&["audit", "verify"]).expect_code(1);
    audit.assert_stdout_has(&format!("{first}: entry 1: edited"));
}

#[test]
fn two_drivers_race_for_the_etcd_lock_and_one_gets_exit_3_naming_the_holder() {
    let etcd = EtcdServer::start();
    // Wall-clock soaks of 1 s: the winner holds the lock for a few seconds.
    let repo = etcd_repo(&etcd, "1s", "1s");
    let head = repo.rev_parse("HEAD");
    start(&repo);
    let mut first = spawn_driver(&repo, "first@example.com", &[]);
    let mut second = spawn_driver(&repo, "second@example.com", &[]);
    let (first_pid, second_pid) = (first.id(), second.id());
    // Whichever took the lock, the other one is refused at once.
    let deadline = Instant::now() + Duration::from_secs(30);
    while first.try_wait().unwrap().is_none() && second.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "neither driver finished");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (a, b) = (finish(first), finish(second));
    let (winner, loser, winner_pid, winner_actor) = if a.code == Some(0) {
        (a, b, first_pid, "first@example.com")
    } else {
        (b, a, second_pid, "second@example.com")
    };
    winner.assert_code(0);
    loser.assert_code(3);
    assert!(
        loser
            .stderr
            .contains("another rollout driver holds the lock")
            && loser.stderr.contains(winner_actor)
            && loser.stderr.contains(&format!("(pid {winner_pid})"))
            && loser.stderr.contains(&format!("{PREFIX}/lock")),
        "{}",
        loser.stderr
    );
    assert_delivered_once(&etcd, &head);
    assert_journal_whole(&repo, &etcd);
    // The winner released the lock on exit: nothing is left to wait for.
    assert_eq!(etcd.get(&format!("{PREFIX}/lock")), None);
}

#[test]
fn a_lock_held_from_another_machine_is_refused_until_its_lease_lapses() {
    let etcd = EtcdServer::start();
    let repo = etcd_repo(&etcd, "30s", "30s");
    start(&repo);
    // A driver on another machine holds the lock on a 3 s lease, then vanishes.
    let grant = etcd.ctl_ok(&["lease", "grant", "3"]);
    let lease = grant.split_whitespace().nth(1).unwrap().to_owned();
    let holder = format!(
        r#"{{"actor":"bob@example.com","host":"laptop-7","pid":4242,"since":"2026-11-22T10:00:00Z","lease":"{lease}","boot":"x"}}"#
    );
    etcd.ctl_ok(&[
        "put",
        &format!("{PREFIX}/lock"),
        &holder,
        &format!("--lease={lease}"),
    ]);
    let refused = drive(&repo, &[]).expect_code(3);
    assert!(
        refused
            .stderr
            .contains("bob@example.com on laptop-7 (pid 4242) since 2026-11-22T10:00:00Z"),
        "{}",
        refused.stderr
    );
    assert_eq!(kinds(&etcd), ["started:"]);
    let deadline = Instant::now() + Duration::from_secs(15);
    let done = loop {
        let out = drive(&repo, &[]);
        if out.code != Some(3) || Instant::now() > deadline {
            break out;
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    done.assert_code(0);
}

#[test]
fn a_driver_killed_mid_delivery_and_a_second_one_finish_the_rollout_exactly_once() {
    let etcd = EtcdServer::start();
    let repo = etcd_repo(&etcd, "30s", "30s");
    let head = repo.rev_parse("HEAD");
    start(&repo);
    // Two operations per transaction: dogfood and single (one class each)
    // still fit one transaction each, multi (five classes) goes in chunks of
    // two, then its revision key. The first driver dies after the fourth
    // transaction: multi's second chunk.
    let envs = [("RINGMASTER_ETCD_MAX_TXN_OPS", "2")];
    let killed_envs = [
        ("RINGMASTER_ETCD_MAX_TXN_OPS", "2"),
        ("RINGMASTER_ETCD_ABORT_AFTER_TXNS", "4"),
    ];
    let killed = drive(&repo, &killed_envs);
    assert_eq!(
        killed.code,
        None,
        "the driver should have aborted: {}",
        killed.all_output()
    );
    // Killed between chunks: some of multi's classes are new, its revision key is not there yet.
    assert_eq!(etcd.get(&format!("{PREFIX}/rings/multi/revision")), None);
    assert!(
        etcd.get(&format!("{PREFIX}/rings/multi/classes/m4"))
            .is_some()
    );
    assert!(
        etcd.get(&format!("{PREFIX}/rings/multi/classes/m5"))
            .is_none()
    );
    // Its lease would hold the lock for 4 s more; but the holder died on
    // this machine (same host, boot and PID namespace, pid gone), so the next
    // driver ends that lease and takes over at once.
    drive(&repo, &envs).assert_code(0);
    assert_delivered_once(&etcd, &head);
    assert_eq!(
        etcd.keys(&format!("{PREFIX}/rings/multi/classes/")).len(),
        5
    );
    let k = kinds(&etcd);
    for ring in ["dogfood", "single", "multi"] {
        let delivered = format!("delivered:{ring}");
        assert_eq!(k.iter().filter(|e| **e == delivered).count(), 1, "{k:?}");
    }
    assert_eq!(k.last().map(String::as_str), Some("completed:"));
    assert_journal_whole(&repo, &etcd);
}

#[test]
fn an_etcd_restart_mid_soak_is_survived_without_losing_or_doubling_anything() {
    let mut etcd = EtcdServer::start();
    let repo = etcd_repo(&etcd, "3s", "1s");
    let head = repo.rev_parse("HEAD");
    start(&repo);
    let mut driver = spawn_driver(&repo, "ci@example.com", &[]);
    wait_for(&etcd, "evaluated:dogfood", &mut driver);
    // etcd dies and comes back on the same data dir while dogfood soaks.
    etcd.stop();
    std::thread::sleep(Duration::from_millis(1500));
    etcd.restart();
    let out = finish(driver).expect_code(0);
    assert!(out.stdout.contains("complete"), "{}", out.all_output());
    assert_delivered_once(&etcd, &head);
    assert_journal_whole(&repo, &etcd);
    // Each soak round of each ring is journaled once.
    let entries = journal(&etcd);
    let mut rounds: Vec<(String, u64)> = entries
        .iter()
        .filter(|e| e["event"]["kind"] == "evaluated")
        .map(|e| {
            (
                e["event"]["ring"].as_str().unwrap().to_owned(),
                e["event"]["round"].as_u64().unwrap(),
            )
        })
        .collect();
    let n = rounds.len();
    rounds.dedup();
    assert_eq!(
        rounds.len(),
        n,
        "a soak round was journaled twice: {rounds:?}"
    );
    assert_eq!(kinds(&etcd).last().map(String::as_str), Some("completed:"));
}

#[test]
fn a_ring_key_changed_behind_ringmasters_back_halts_with_the_key_and_both_revisions() {
    let etcd = EtcdServer::start();
    let repo = etcd_repo(&etcd, "30s", "30s");
    let first = repo.rev_parse("HEAD");
    start(&repo);
    drive(&repo, &[]).assert_code(0);
    repo.file("config/defaults.yaml", "port: 9090\nworkers: 4\n")
        .commit("port 9090");
    start(&repo);
    // The driver journals its intent (dogfood goes from `first` to the new
    // revision) and dies; then someone writes the ring's revision by hand.
    let killed = drive(&repo, &[("RINGMASTER_ABORT_AFTER", "1")]);
    assert_eq!(killed.code, None, "{}", killed.all_output());
    let key = format!("{PREFIX}/rings/dogfood/revision");
    etcd.ctl_ok(&["put", &key, "0123456789abcdef"]);
    let out = drive(&repo, &[]).expect_code(1);
    assert!(
        out.stdout.contains("halted at ring dogfood")
            && out.stdout.contains(&key)
            && out.stdout.contains(&format!("not `{first}`"))
            && out.stdout.contains("`0123456789abcdef`")
            && out.stdout.contains("behind ringmaster's back"),
        "{}",
        out.all_output()
    );
    // Left as found, classes untouched.
    assert_eq!(etcd.kv(&key), Some(("0123456789abcdef".into(), 2)));
    assert!(
        etcd.get(&format!("{PREFIX}/rings/dogfood/classes/a"))
            .unwrap()
            .contains("port: 8080")
    );
    assert_journal_whole(&repo, &etcd);
}

#[test]
fn a_driver_whose_lease_is_revoked_stops_with_exit_3_and_writes_nothing_more() {
    let etcd = EtcdServer::start();
    let repo = etcd_repo(&etcd, "30s", "1s");
    start(&repo);
    let mut driver = spawn_driver(&repo, "ci@example.com", &[]);
    wait_for(&etcd, "evaluated:dogfood", &mut driver);
    let holder: Value =
        serde_json::from_str(&etcd.get(&format!("{PREFIX}/lock")).unwrap()).unwrap();
    assert_eq!(holder["pid"].as_u64(), Some(u64::from(driver.id())));
    etcd.ctl_ok(&["lease", "revoke", holder["lease"].as_str().unwrap()]);
    let after_revoke = journal(&etcd).len();
    let out = finish(driver).expect_code(3);
    out.assert_stderr_has("lost its lock");
    // Not one entry or delivery after the lease was gone.
    assert_eq!(journal(&etcd).len(), after_revoke);
    assert_eq!(etcd.get(&format!("{PREFIX}/rings/single/revision")), None);
    assert_journal_whole(&repo, &etcd);
    // A new driver takes over and finishes.
    drive(&repo, &[]).assert_code(0);
}

#[test]
fn a_freeze_lives_in_etcd_and_flags_select_shared_mode() {
    let etcd = EtcdServer::start();
    // A repo without `state:` in its manifest: --etcd selects shared mode.
    let repo = etcd_repo(&etcd, "30s", "30s");
    let manifest = repo.read("ringmaster.yaml");
    let cut = manifest.find("state:").unwrap();
    let end = manifest.find("deliver:").unwrap();
    let without_state = format!("{}{}", &manifest[..cut], &manifest[end..]);
    repo.file("ringmaster.yaml", &without_state)
        .commit("no state section");
    let url = etcd.url();
    // Two endpoints, the first one dead: every request fails over to the second.
    let endpoints = format!("http://127.0.0.1:{},{url}", free_port());
    let flags = ["--etcd", endpoints.as_str(), "--etcd-prefix", "/rm/"];
    let with = |args: &[&str]| -> Vec<String> {
        flags.iter().chain(args).map(|s| s.to_string()).collect()
    };
    let run = |args: &[&str], envs: &[(&str, &str)]| {
        let all = with(args);
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        repo.run_env(&all, envs)
    };
    run(&FREEZE_FOR_INCIDENT, &[]).assert_code(0);
    let frozen = etcd.keys(&format!("{PREFIX}/journal/_repo/"));
    assert_eq!(frozen.len(), 1, "{frozen:?}");
    no_local_journal(&repo);
    run(&["rollout", "start"], &[]).assert_code(0);
    let out = run(&["rollout", "run"], &[("RINGMASTER_CLOCK", "simulated")]).expect_code(4);
    out.assert_stdout_has("incident 42");
    assert_eq!(etcd.get(&format!("{PREFIX}/rings/dogfood/revision")), None);
    // The environment works as well as the flags.
    repo.run_env(
        &["rollout", "unfreeze"],
        &[
            ("RINGMASTER_ETCD_ENDPOINTS", url.as_str()),
            ("RINGMASTER_ETCD_PREFIX", "/rm"),
        ],
    )
    .assert_code(0);
    run(&["rollout", "run"], &[("RINGMASTER_CLOCK", "simulated")]).assert_code(0);
    let timeline = run(&["rollout", "timeline", "--format", "json"], &[]);
    let kinds: Vec<String> = timeline.json()["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"]["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds.first().map(String::as_str), Some("frozen"));
    assert!(kinds.contains(&"unfrozen".to_owned()), "{kinds:?}");
    let audit = run(&["audit", "verify", "--format", "json"], &[]).expect_code(0);
    assert!(audit.json()["journal"].as_str().unwrap().contains(&url));
    // Without the flags, the local journal is empty.
    repo.run(&["rollout", "status"]).assert_code(2);
}

#[test]
fn an_unreachable_etcd_is_exit_3_naming_the_endpoints() {
    let port = free_port();
    let repo = TestRepo::new();
    repo.run(&["init"]).assert_code(0);
    repo.commit("config repo");
    let url = format!("http://127.0.0.1:{port}");
    let out = repo
        .run_env(
            &["--etcd", &url, "rollout", "start"],
            &[("RINGMASTER_ETCD_RETRY_SECONDS", "1")],
        )
        .expect_code(3);
    out.assert_stderr_has("etcd is unreachable")
        .assert_stderr_has(&url);
    // A manifest that names etcd but does not parse never falls back to the
    // local journal.
    let manifest = repo.read("ringmaster.yaml");
    repo.file(
        "ringmaster.yaml",
        &format!(
            "{manifest}
state: {{kind: etcd, endpoints: [{url}]
"
        ),
    );
    let out = repo.run(&["rollout", "start"]).expect_code(2);
    out.assert_stderr_has("where the journal lives");
    assert!(!repo.path().join(".git/ringmaster/journal.jsonl").exists());
}

#[test]
fn etcd_users_and_roles_restrict_who_may_write_which_ring() {
    let etcd = EtcdServer::start();
    let repo = etcd_repo(&etcd, "30s", "30s");
    // As in the README: root, a role for every driver (journal, lock, the
    // first rings) and one for CI only (multi-tenant, here `multi`).
    for args in [
        vec!["user", "add", "root:rootpw"],
        vec!["role", "add", "rollout-driver"],
        vec![
            "role",
            "grant-permission",
            "--prefix=true",
            "rollout-driver",
            "readwrite",
            "/rm/journal",
        ],
        vec![
            "role",
            "grant-permission",
            "rollout-driver",
            "readwrite",
            "/rm/lock",
        ],
        vec![
            "role",
            "grant-permission",
            "--prefix=true",
            "rollout-driver",
            "readwrite",
            "/rm/rings/dogfood/",
        ],
        vec![
            "role",
            "grant-permission",
            "--prefix=true",
            "rollout-driver",
            "readwrite",
            "/rm/rings/single/",
        ],
        vec![
            "role",
            "grant-permission",
            "--prefix=true",
            "rollout-driver",
            "read",
            "/rm/rings/",
        ],
        vec!["role", "add", "ring-multi"],
        vec![
            "role",
            "grant-permission",
            "--prefix=true",
            "ring-multi",
            "readwrite",
            "/rm/rings/multi/",
        ],
        vec!["user", "add", "alice:alicepw"],
        vec!["user", "grant-role", "alice", "rollout-driver"],
        vec!["user", "add", "ci:cipw"],
        vec!["user", "grant-role", "ci", "rollout-driver"],
        vec!["user", "grant-role", "ci", "ring-multi"],
        vec!["auth", "enable"],
    ] {
        etcd.ctl_ok(&args);
    }
    // Without credentials: refused, with what to set.
    let out = repo.run(&["rollout", "start"]).expect_code(3);
    out.assert_stderr_has("RINGMASTER_ETCD_USERNAME");
    // A wrong password names the user and the variables.
    let out = repo
        .run_env(
            &["rollout", "start"],
            &[
                ("RINGMASTER_ETCD_USERNAME", "alice"),
                ("RINGMASTER_ETCD_PASSWORD", "nope"),
            ],
        )
        .expect_code(3);
    out.assert_stderr_has("authentication as `alice`");
    let alice = [
        ("RINGMASTER_ETCD_USERNAME", "alice"),
        ("RINGMASTER_ETCD_PASSWORD", "alicepw"),
    ];
    let ci = [
        ("RINGMASTER_ETCD_USERNAME", "ci"),
        ("RINGMASTER_ETCD_PASSWORD", "cipw"),
    ];
    repo.run_env(&["rollout", "start"], &alice).assert_code(0);
    // alice's driver delivers dogfood and single, and may not write multi.
    let out = drive(&repo, &alice).expect_code(3);
    assert!(
        out.stderr.contains("permission denied") && out.stderr.contains("role"),
        "{}",
        out.all_output()
    );
    let root = ["--user=root:rootpw"];
    let get = |key: &str| {
        let mut args = root.to_vec();
        args.extend(["get", "--print-value-only", key]);
        etcd.ctl_ok(&args).trim().to_owned()
    };
    let head = repo.rev_parse("HEAD");
    assert_eq!(get("/rm/rings/single/revision"), head);
    assert_eq!(get("/rm/rings/multi/revision"), "");
    // CI's identity may: the rollout completes (the flag works as the variable does).
    repo.run_env(
        &["--etcd-user", "ci", "rollout", "run"],
        &[
            ("RINGMASTER_CLOCK", "simulated"),
            ("RINGMASTER_ETCD_PASSWORD", ci[1].1),
        ],
    )
    .assert_code(0);
    assert_eq!(get("/rm/rings/multi/revision"), head);
    repo.run_env(&["audit", "verify"], &ci).assert_code(0);
}

#[test]
fn tls_with_a_ca_and_a_client_certificate_from_flags_or_the_environment() {
    let pki = tempfile::tempdir().unwrap();
    make_pki(pki.path());
    let etcd = EtcdServer::start_tls(pki.path());
    assert!(etcd.url().starts_with("https://"));
    let repo = etcd_repo(&etcd, "30s", "30s");
    let file = |name: &str| pki.path().join(name).display().to_string();
    let (ca, cert, key) = (file("ca.pem"), file("client.pem"), file("client-key.pem"));
    // Without a client certificate etcd refuses the connection: exit 3.
    let out = repo
        .run_env(
            &["--etcd-cacert", &ca, "rollout", "start"],
            &[("RINGMASTER_ETCD_RETRY_SECONDS", "1")],
        )
        .expect_code(3);
    out.assert_stderr_has("etcd is unreachable");
    // Without the CA, ringmaster does not trust etcd's certificate.
    let out = repo
        .run_env(
            &["--etcd-cert", &cert, "--etcd-key", &key, "rollout", "start"],
            &[("RINGMASTER_ETCD_RETRY_SECONDS", "1")],
        )
        .expect_code(3);
    assert!(
        out.stderr.to_lowercase().contains("certificate"),
        "{}",
        out.stderr
    );
    // Flags for start, the environment for run: the rollout completes.
    repo.run(&[
        "--etcd-cacert",
        &ca,
        "--etcd-cert",
        &cert,
        "--etcd-key",
        &key,
        "rollout",
        "start",
    ])
    .assert_code(0);
    let env = [
        ("RINGMASTER_ETCD_CACERT", ca.as_str()),
        ("RINGMASTER_ETCD_CERT", cert.as_str()),
        ("RINGMASTER_ETCD_KEY", key.as_str()),
    ];
    drive(&repo, &env).assert_code(0);
    assert_delivered_once(&etcd, &repo.rev_parse("HEAD"));
    repo.run_env(&["audit", "verify"], &env).assert_code(0);
}

#[test]
fn a_breach_rolls_the_ring_back_in_etcd_or_withdraws_a_first_delivery() {
    let etcd = EtcdServer::start();
    let repo = etcd_repo(&etcd, "30s", "30s");
    let metrics = |dogfood: f64| {
        format!(
            "series:\n  'errors{{ring=\"dogfood\"}}': [[0, {dogfood}]]\n  'errors{{ring=\"single\"}}': [[0, 0.001]]\n  'errors{{ring=\"multi\"}}': [[0, 0.001]]\n"
        )
    };
    // The very first delivery breaches: dogfood held nothing before, so the
    // rollback withdraws it (revision and classes, in one transaction).
    repo.file("metrics.yaml", &metrics(0.09))
        .commit("bad from the start");
    start(&repo);
    let out = drive(&repo, &[]).expect_code(1);
    out.assert_stdout_has("halted at ring dogfood");
    assert_eq!(etcd.keys(&format!("{PREFIX}/rings/")), Vec::<String>::new());
    assert!(kinds(&etcd).contains(&"delivered:dogfood".to_owned()));

    repo.file("metrics.yaml", &metrics(0.001)).commit("healthy");
    let good = repo.rev_parse("HEAD");
    start(&repo);
    drive(&repo, &[]).assert_code(0);

    // A later revision breaches in dogfood: the ring goes back to `good`,
    // classes included; the other rings never see the bad revision.
    repo.file("config/defaults.yaml", "port: 6666\nworkers: 4\n")
        .file("metrics.yaml", &metrics(0.09))
        .commit("a bad change");
    start(&repo);
    drive(&repo, &[]).assert_code(1);
    let (revision, version) = etcd
        .kv(&format!("{PREFIX}/rings/dogfood/revision"))
        .unwrap();
    // Written three times: good, bad, good again.
    assert_eq!((revision.as_str(), version), (good.as_str(), 3));
    let class = etcd
        .get(&format!("{PREFIX}/rings/dogfood/classes/a"))
        .unwrap();
    assert!(class.contains("port: 8080"), "{class}");
    assert_eq!(
        etcd.get(&format!("{PREFIX}/rings/single/revision"))
            .as_deref(),
        Some(good.as_str())
    );
    assert!(kinds(&etcd).contains(&"rolled-back:dogfood".to_owned()));
    assert_journal_whole(&repo, &etcd);
}

#[test]
fn a_driver_killed_after_any_journal_step_in_etcd_recovers_exactly_once() {
    let etcd = EtcdServer::start();
    // 3 rings × (delivering, delivered, evaluated, promoted) + completed.
    for n in 1..=13 {
        etcd.ctl_ok(&["del", "--prefix", &format!("{PREFIX}/")]);
        let repo = etcd_repo(&etcd, "30s", "30s");
        let head = repo.rev_parse("HEAD");
        start(&repo);
        let killed = drive(&repo, &[("RINGMASTER_ABORT_AFTER", &n.to_string())]);
        assert_eq!(killed.code, None, "step {n}: the driver was meant to die");
        drive(&repo, &[]).assert_code(0);
        let k = kinds(&etcd);
        for ring in ["dogfood", "single", "multi"] {
            for kind in ["delivered", "promoted"] {
                let what = format!("{kind}:{ring}");
                assert_eq!(
                    k.iter().filter(|e| **e == what).count(),
                    1,
                    "step {n}: {k:?}"
                );
            }
        }
        assert_eq!(k.len(), 14, "step {n}: {k:?}");
        assert_delivered_once(&etcd, &head);
        assert_journal_whole(&repo, &etcd);
    }
}

/// `n` runs of the binary on `repo` started at once, run `i` with `args(i)`;
/// stderr is piped, stdout only when `keep_stdout` (else discarded).
fn spawn_together(
    repo: &TestRepo,
    n: usize,
    keep_stdout: bool,
    args: impl Fn(usize) -> Vec<String>,
) -> Vec<Child> {
    (0..n)
        .map(|i| {
            Command::new(BIN)
                .arg("--repo")
                .arg(repo.path())
                .args(args(i))
                .stdout(if keep_stdout {
                    Stdio::piped()
                } else {
                    Stdio::null()
                })
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect()
}

#[test]
fn concurrent_writers_never_share_a_sequence_number() {
    let etcd = EtcdServer::start();
    let repo = etcd_repo(&etcd, "30s", "30s");
    // Eight people freeze the line at the same moment, from eight processes
    // (freezes take no lock: every append races on the journal head).
    let children = spawn_together(&repo, 8, false, |i| {
        vec![
            "rollout".to_owned(),
            "freeze".to_owned(),
            "--reason".to_owned(),
            format!("person {i}"),
        ]
    });
    for child in children {
        finish(child).assert_code(0);
    }
    let entries = journal(&etcd);
    assert_eq!(entries.len(), 8);
    let mut reasons: Vec<String> = entries
        .iter()
        .map(|e| e["event"]["reason"].as_str().unwrap().to_owned())
        .collect();
    reasons.sort();
    reasons.dedup();
    assert_eq!(
        reasons.len(),
        8,
        "an event was lost or doubled: {reasons:?}"
    );
    assert_journal_whole(&repo, &etcd);
}

/// Sends a signal to a process with kill(1).
fn signal(pid: u32, sig: &str) {
    let status = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .expect("kill(1)");
    assert!(status.success(), "kill {sig} {pid}");
}

#[test]
fn a_stalled_ex_holder_that_wakes_up_after_another_driver_took_over_writes_nothing() {
    let etcd = EtcdServer::start();
    let repo = etcd_repo(&etcd, "2s", "1s");
    start(&repo);
    let short_lease = [("RINGMASTER_ETCD_LEASE_TTL", "2")];
    let mut first = spawn_driver(&repo, "first@example.com", &short_lease);
    wait_for(&etcd, "evaluated:dogfood", &mut first);
    // The first driver stalls (a paused VM, a GC pause, SIGSTOP): its lease
    // lapses while it believes it still holds the lock.
    signal(first.id(), "-STOP");
    let lock = format!("{PREFIX}/lock");
    let deadline = Instant::now() + Duration::from_secs(15);
    while etcd.get(&lock).is_some() {
        assert!(
            Instant::now() < deadline,
            "the stalled driver's lease never lapsed"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut second = spawn_driver(&repo, "second@example.com", &[]);
    let deadline = Instant::now() + Duration::from_secs(15);
    while !etcd
        .get(&lock)
        .unwrap_or_default()
        .contains("second@example.com")
    {
        assert!(
            second.try_wait().unwrap().is_none(),
            "the second driver exited early"
        );
        assert!(
            Instant::now() < deadline,
            "the second driver never took the lock"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let by_first = |entries: &[Value]| {
        entries
            .iter()
            .filter(|e| e["actor"] == "first@example.com")
            .count()
    };
    let before = by_first(&journal(&etcd));
    // It wakes up: its next write carries a compare on a lease that is gone.
    signal(first.id(), "-CONT");
    let out = finish(first).expect_code(3);
    out.assert_stderr_has("lost its lock")
        .assert_stderr_has("second@example.com");
    assert_eq!(
        by_first(&journal(&etcd)),
        before,
        "the ex-holder wrote after losing its lease"
    );
    // The new holder goes on undisturbed and completes the rollout.
    finish(second).assert_code(0);
    assert_delivered_once(&etcd, &repo.rev_parse("HEAD"));
    assert_journal_whole(&repo, &etcd);
}

/// For the library-level tests: the etcd repo (30 s soak and interval) and
/// its etcd state opened with the default connection arguments.
fn library_state(etcd: &EtcdServer) -> (TestRepo, ringmaster::store::etcd::State) {
    let repo = etcd_repo(etcd, "30s", "30s");
    let args = ringmaster::cli::EtcdArgs::default();
    let state = ringmaster::store::etcd::State::open(&args, repo.path(), &repo.path().join(".git"))
        .unwrap();
    (repo, state)
}

#[test]
fn a_soak_rounds_evaluations_are_appended_in_chunked_transactions_that_chain() {
    // Library level: 130 events in one call span three transactions (etcd
    // allows 128 operations each); the chain and the head hold across them.
    use ringmaster::rollout::journal::Stamp;
    let etcd = EtcdServer::start();
    let (_repo, state) = library_state(&etcd);
    let journal = state.journal();
    journal
        .append(
            Stamp::new("2026-11-22T10:00:00Z", "lib", "r-1"),
            serde_json::json!({"kind": "x"}),
        )
        .unwrap();
    let events: Vec<Value> = (0..130)
        .map(|i| serde_json::json!({"kind": "evaluated", "n": i}))
        .collect();
    let appended = journal
        .append_all(Stamp::new("2026-11-22T10:00:30Z", "lib", "r-1"), events)
        .unwrap();
    assert_eq!(
        appended.iter().map(|e| e.body.seq).collect::<Vec<_>>(),
        (2..=131).collect::<Vec<u64>>()
    );
    let stored = journal.entries().unwrap();
    assert_eq!(stored.len(), 131);
    assert_eq!(stored[130].body.event["n"], 129);
    assert!(journal.verify().unwrap().is_empty());
}

#[test]
fn every_delivery_transaction_is_fenced_by_the_drivers_lease() {
    use ringmaster::deliver::{DeliveryError, DeliveryTarget};
    // Library level: the delivery target a driver builds, used after its
    // lease ended (revoked by hand here; lapsed while it stalled in life).
    let etcd = EtcdServer::start();
    let (repo, state) = library_state(&etcd);
    let lock = state
        .lock("lib@example.com", "2026-11-22T10:00:00Z")
        .unwrap();
    let manifest = ringmaster::config::snapshot::Snapshot::open(repo.path(), None)
        .unwrap()
        .manifest;
    let place = state.etcd_delivery_place(&manifest).unwrap().unwrap();
    let target = ringmaster::deliver::etcd::EtcdTarget::open(place, state.fence()).unwrap();
    let configs = vec![("a".to_owned(), "x: 1\n".to_owned())];
    target.deliver("dogfood", None, "r1", &configs).unwrap();
    let holder: Value =
        serde_json::from_str(&etcd.get(&format!("{PREFIX}/lock")).unwrap()).unwrap();
    etcd.ctl_ok(&["lease", "revoke", holder["lease"].as_str().unwrap()]);
    let err = target
        .deliver("dogfood", Some("r1"), "r2", &configs)
        .unwrap_err();
    assert!(
        matches!(err, DeliveryError::Other(_)) && err.to_string().contains("lost its lock"),
        "{err}"
    );
    let err = target.withdraw("dogfood", "r1").unwrap_err();
    assert!(err.to_string().contains("lost its lock"), "{err}");
    assert_eq!(
        etcd.get(&format!("{PREFIX}/rings/dogfood/revision"))
            .as_deref(),
        Some("r1")
    );
    assert_eq!(
        etcd.get(&format!("{PREFIX}/rings/dogfood/classes/a"))
            .as_deref(),
        Some("x: 1\n")
    );
    drop(lock);
}

#[test]
fn rollouts_started_at_the_same_moment_never_share_an_id() {
    let etcd = EtcdServer::start();
    let repo = etcd_repo(&etcd, "30s", "30s");
    // Four people (an identical event from one person in the same second is
    // one event: the journal cannot tell them apart, and need not).
    let children = spawn_together(&repo, 4, true, |i| {
        let mut args: Vec<String> = [
            "rollout",
            "start",
            "--supersede",
            "--format",
            "json",
            "--as",
        ]
        .map(String::from)
        .to_vec();
        args.push(format!("person{i}@example.com"));
        args
    });
    let mut ids = Vec::new();
    for child in children {
        let out = finish(child);
        match out.code {
            Some(0) => ids.push(out.json()["id"].as_str().unwrap().to_owned()),
            // The loser of a race on one id is told to start again.
            // Starts take the driver lock: a loser is told who holds it.
            Some(3) => assert!(
                out.stderr.contains("run `ringmaster rollout start` again")
                    || out.stderr.contains("holds the lock"),
                "{}",
                out.stderr
            ),
            _ => panic!("{}", out.all_output()),
        }
    }
    assert!(!ids.is_empty());
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(
        ids.len(),
        n,
        "two starts got one id: {:?}",
        journal(&etcd)
            .iter()
            .map(|e| format!("{} {} {}", e["seq"], e["rollout"], e["event"]["kind"]))
            .collect::<Vec<_>>()
    );
    // Exactly one `started` per rollout, and every rollout replays.
    let started: Vec<String> = journal(&etcd)
        .iter()
        .filter(|e| e["event"]["kind"] == "started")
        .map(|e| e["rollout"].as_str().unwrap().to_owned())
        .collect();
    let mut unique = started.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        started.len(),
        "a rollout was started twice: {started:?}"
    );
    assert_eq!(started.len(), n, "{started:?}");
    for id in &ids {
        repo.run(&["rollout", "status", id]).assert_code(0);
    }
    assert_journal_whole(&repo, &etcd);
}
