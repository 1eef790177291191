//! Hostile numbers, URLs and code patterns (issue 12, items 10, 11 and 15):
//! every duration, order, limit and threshold is validated by `check` and
//! never quietly replaced by a default; the Prometheus URL keeps its path
//! and query and never shows its secrets; flag references in code are found
//! with configurable patterns.

use crate::support::{TestRepo, temp_dir};

/// A repo with four classes in four rings whose files hold every value the
/// issue found silently defaulted or misreported.
fn hostile_rings() -> TestRepo {
    TestRepo::committed(
        &[
            (
                "ringmaster.yaml",
                "version: 1\nrings: rings\nhost_classes:\n  a: { ring: canary }\n  b: { ring: multi }\n  c: { ring: huge }\n  d: { ring: edge }\nmetrics:\n  kind: embedded\n  file: metrics.yaml\nlimits:\n  max_depth: 64.0\n",
            ),
            ("metrics.yaml", "series:\n  up: [[0, 1]]\n"),
            (
                "rings/canary.yaml",
                "name: canary\norder: 1\nsoak: 99999999999999999999h\ninterval: 0s\ninconclusive_limit: 99999999999\ngates:\n  - name: errors\n    query: up\n    max: .nan\n",
            ),
            (
                "rings/multi.yaml",
                "name: multi\norder: 3.0\nsoak: 1h\ngates:\n  - name: errors\n    query: up\n    max: 2\n",
            ),
            (
                "rings/huge.yaml",
                "name: huge\norder: 99999999999999999999\nsoak: 1h\ngates:\n  - name: errors\n    query: up\n    max: 2\n",
            ),
            (
                "rings/edge.yaml",
                "name: edge\norder: 4\nsoak: 1h\ninterval: 500ms\ninconclusive_limit: 0\ngates:\n  - name: errors\n    query: up\n    max: 1\n    min: 2\n  - name: burn\n    burn_rate:\n      objective: 0.999\n      errors: 'e[{window}]'\n      total: 't[{window}]'\n      windows:\n        - {long: 5m, short: 1h, factor: -.inf}\n",
            ),
        ],
        "hostile rings",
    )
}

#[test]
fn out_of_range_durations_orders_limits_and_thresholds_are_check_errors_at_their_lines() {
    let repo = hostile_rings();
    let out = repo.run(&["check", "--format", "json"]);
    out.assert_code(1);
    let findings: Vec<String> = out
        .findings()
        .iter()
        .map(|f| {
            format!(
                "{} {}:{}:{} {} | {}",
                f["rule"].as_str().unwrap_or_default(),
                f["file"].as_str().unwrap_or_default(),
                f["line"],
                f["column"],
                f["path"].as_str().unwrap_or_default(),
                f["message"].as_str().unwrap_or_default()
            )
        })
        .collect();
    insta::assert_snapshot!(findings.join("\n"));
    // Nothing the schema sees through JSON (`.nan` as null) is reported as such.
    assert!(
        !out.stdout.contains("null is not of type"),
        "{}",
        out.stdout
    );

    // A command that evaluates rings refuses the invalid file (exit 2, at
    // its line) instead of running it with a zero soak or a default order.
    let gates = repo.run(&["gates", "check", "--ring", "multi"]);
    gates.assert_code(2);
    gates.assert_stderr_has("rings/canary.yaml:3:7");
}

/// A free loopback port (nothing listens on it once this returns).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A real Prometheus (Debian's `prometheus` package) serving under the
/// base path `/prom/`, scraping nothing; killed on drop.
struct PrefixedPrometheus {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl PrefixedPrometheus {
    fn start() -> PrefixedPrometheus {
        let dir = temp_dir("ringmaster-prom-");
        std::fs::write(
            dir.path().join("prometheus.yml"),
            "global:\n  scrape_interval: 1s\n",
        )
        .expect("write the config");
        let port = free_port();
        let child = std::process::Command::new("prometheus")
            .arg(format!(
                "--config.file={}",
                dir.path().join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg(format!("--web.external-url=http://127.0.0.1:{port}/prom/"))
            .arg("--log.level=warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect(
                "start prometheus (Debian's `prometheus` package; scripts/test.sh installs it)",
            );
        let prom = PrefixedPrometheus {
            child,
            port,
            _dir: dir,
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !prom.ready() {
            assert!(
                std::time::Instant::now() < deadline,
                "prometheus not ready after 60 s"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        prom
    }

    /// `GET /prom/-/ready` answers 200.
    fn ready(&self) -> bool {
        use std::io::{Read, Write};
        let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let request = "GET /prom/-/ready HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
        let mut answer = String::new();
        stream.write_all(request.as_bytes()).is_ok()
            && stream.read_to_string(&mut answer).is_ok()
            && answer.starts_with("HTTP/1.0 200")
    }
}

impl Drop for PrefixedPrometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const SECRET: &str = "s3cretTOKEN42";

#[test]
fn a_prometheus_url_keeps_its_base_path_and_query_and_never_shows_the_token() {
    let prom = PrefixedPrometheus::start();
    let repo = TestRepo::new();
    repo.file(
        "ringmaster.yaml",
        "version: 1\nrings: rings\nhost_classes:\n  a: { ring: dogfood }\n",
    )
    .file(
        "rings/dogfood.yaml",
        "name: dogfood\norder: 1\nsoak: 1m\ngates:\n  - name: errors\n    query: vector(0.5)\n    max: 1\n",
    )
    .commit("one gated ring");
    let no_secret = |out: &crate::support::Output| {
        assert!(
            !out.all_output().contains(SECRET),
            "the token is shown:\n{}",
            out.all_output()
        );
    };
    // `gates check` of ring dogfood against the Prometheus at `url`.
    let gates_check = |url: &str, extra: &[&str], envs: &[(&str, &str)]| {
        let mut args = vec!["gates", "check", "--ring", "dogfood", "--prometheus", url];
        args.extend_from_slice(extra);
        repo.run_env(&args, envs)
    };

    // The API path goes under `/prom/`, the query stays a query.
    let url = format!("http://127.0.0.1:{}/prom/?token={SECRET}", prom.port);
    let ok = gates_check(&url, &["--format", "json"], &[]);
    ok.assert_code(0);
    no_secret(&ok);
    let json = ok.json();
    assert_eq!(
        json["rings"][0]["gates"][0]["verdict"], "healthy",
        "{}",
        ok.stdout
    );
    assert_eq!(json["rings"][0]["gates"][0]["value"], 0.5, "{}", ok.stdout);

    // Nothing listens: unreachable (exit 3), and the token stays hidden.
    let gone = format!("http://127.0.0.1:{}/?token={SECRET}", free_port());
    let down = gates_check(&gone, &[], &[]);
    down.assert_code(3);
    no_secret(&down);

    // A fragment is never sent to a server: refused at once.
    let fragment = format!("http://127.0.0.1:{}/prom/#{SECRET}", prom.port);
    let refused = gates_check(&fragment, &[], &[]);
    refused.assert_code(2);
    no_secret(&refused);
    assert!(refused.stderr.contains("fragment"), "{}", refused.stderr);

    // A CA file without a certificate, or a token with a newline, is a
    // clear configuration error at once, not "unreachable after 4 tries".
    repo.file("empty-ca.pem", "not a certificate\n");
    let ca = repo.path().join("empty-ca.pem");
    let url = format!("http://127.0.0.1:{}/prom/", prom.port);
    let no_cert = gates_check(
        &url,
        &[],
        &[("RINGMASTER_PROMETHEUS_CA_FILE", &ca.to_string_lossy())],
    );
    no_cert.assert_code(2);
    no_cert.assert_stderr_has("holds no PEM certificate");
    let token = format!("{SECRET}\n");
    let newline = gates_check(&url, &[], &[("RINGMASTER_PROMETHEUS_BEARER_TOKEN", &token)]);
    newline.assert_code(2);
    no_secret(&newline);
    assert!(
        newline.stderr.contains("control character") && !newline.stderr.contains("tries"),
        "{}",
        newline.stderr
    );

    // The manifest's `metrics.url` is checked the same way, at its line.
    repo.file(
        "ringmaster.yaml",
        &format!(
            "version: 1\nrings: rings\nhost_classes:\n  a: {{ ring: dogfood }}\nmetrics:\n  kind: prometheus\n  url: 'http://127.0.0.1:{}/prom/?token={SECRET}#top'\n",
            prom.port
        ),
    );
    let check = repo.run(&["check", "--format", "json"]);
    check.assert_code(1);
    let found = check.findings_of("manifest");
    assert_eq!(found.len(), 1, "{}", check.stdout);
    assert_eq!(
        (found[0]["line"].as_u64(), found[0]["path"].as_str()),
        (Some(7), Some("/metrics/url"))
    );
    assert!(
        !found[0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains(SECRET),
        "{}",
        check.stdout
    );
}

/// A repo with one flag and code that reads undefined flags through the
/// calls of the common SDKs (none of which the old fixed list knew).
fn sdk_code_repo(manifest_extra: &str) -> TestRepo {
    let repo = TestRepo::new();
    repo.file(
        "ringmaster.yaml",
        &format!("version: 1\nflags: flags/\n{manifest_extra}"),
    )
    .file(
        "flags/checkout-v2.yaml",
        "name: checkout-v2\nowner: team-shop\ntype: bool\ndefault: false\n",
    )
    .file(
        "app/web/cart.js",
        "if (ldClient.boolVariation(\"ld-cart\", ctx, false)) {}\nconst v = ldClient.jsonVariation('ld-layout', ctx, {});\nif (flags.enabled(\"plain-banner\")) {}\nif (unleash.isEnabled(\"checkout-v2\")) {}\n",
    )
    .file(
        "app/svc/main.go",
        "on, _ := ld.BoolVariationDetail(\"ld-go\", ctx, false)\nv, _ := client.BooleanValue(ctx, \"of-go\", false, ec)\n",
    )
    .file(
        "app/svc/eval.py",
        "client.get_boolean_value(\"of-py\", False)\nv = unleash.get_variant(\"un-py\")\nreq = EvaluationRequest(namespace_key=\"default\", flag_key=\"flipt-py\")\n",
    )
    .file(
        "app/svc/Custom.java",
        "if (features.checkFlag(\"custom-java\")) {}\n",
    );
    repo.commit("config and code");
    repo
}

/// `undefined[]` of `flags stale --code app --format json` as `file:line name`.
fn undefined(repo: &TestRepo) -> Vec<String> {
    let out = repo.run(&["flags", "stale", "--code", "app", "--format", "json"]);
    out.assert_code(0);
    out.json()["undefined"]
        .as_array()
        .unwrap_or_else(|| panic!("no undefined array: {}", out.stdout))
        .iter()
        .map(|r| {
            format!(
                "{}:{} {}",
                r["file"].as_str().unwrap_or_default(),
                r["line"],
                r["name"].as_str().unwrap_or_default()
            )
        })
        .collect()
}

#[test]
fn flag_calls_of_common_sdks_and_manifest_patterns_are_references_and_bad_patterns_are_manifest_errors()
 {
    // The built-in patterns: LaunchDarkly, plain `enabled`, Unleash,
    // OpenFeature (Go's context-first form too) and Flipt's `flag_key`.
    let defaults = sdk_code_repo("");
    assert_eq!(
        undefined(&defaults),
        [
            "app/svc/eval.py:1 of-py",
            "app/svc/eval.py:2 un-py",
            "app/svc/eval.py:3 flipt-py",
            "app/svc/main.go:1 ld-go",
            "app/svc/main.go:2 of-go",
            "app/web/cart.js:1 ld-cart",
            "app/web/cart.js:2 ld-layout",
            "app/web/cart.js:3 plain-banner",
        ]
    );

    // A manifest pattern with a `flag` group, plus the built-in ones.
    let custom = sdk_code_repo(
        "flag_references:\n  - default\n  - '\\bcheckFlag\\(\\s*\"(?P<flag>[a-z0-9-]+)\"'\n",
    );
    custom.run(&["check"]).assert_code(0);
    let found = undefined(&custom);
    assert!(
        found.contains(&"app/svc/Custom.java:1 custom-java".to_owned()),
        "{found:?}"
    );
    assert_eq!(found.len(), 9, "{found:?}");

    // Only the manifest's pattern: the SDK calls are no longer looked for.
    let only = sdk_code_repo("flag_references:\n  - 'checkFlag\\(\"([a-z-]+)\"'\n");
    assert_eq!(undefined(&only), ["app/svc/Custom.java:1 custom-java"]);

    // A bad regex and a pattern without a group: manifest errors at their
    // lines, and `flags stale` refuses to scan with them.
    let bad = sdk_code_repo("flag_references:\n  - 'checkFlag\\((\"'\n  - 'checkFlag'\n");
    let out = bad.run(&["check", "--format", "json"]);
    out.assert_code(1);
    let found: Vec<String> = out
        .findings_of("manifest")
        .iter()
        .map(|f| {
            format!(
                "{}:{} {} {}",
                f["file"].as_str().unwrap_or_default(),
                f["line"],
                f["path"].as_str().unwrap_or_default(),
                f["message"].as_str().unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            "ringmaster.yaml:4 /flag_references/0 flag reference pattern is not a valid regex: unclosed group",
            "ringmaster.yaml:5 /flag_references/1 flag reference pattern has no capture group for the flag name",
        ]
    );
    let refused = bad.run(&["flags", "stale", "--code", "app"]);
    refused.assert_code(2);
    refused.assert_stderr_has("ringmaster.yaml:4:");
}
