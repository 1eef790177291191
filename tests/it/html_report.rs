//! `rollout timeline --format html`: a real rollout of the bundled example
//! halted by a breach (embedded metrics, simulated clock, as
//! examples/rollout-demo.sh), its page written to a file, then loaded in a
//! real headless Chromium: the DOM it parsed (charts, sample points, event
//! rows), its console (no blocked fetch, no error) and a screenshot.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{TestRepo, redactions};

/// The bundled example with a change whose dogfood error ratio is 9% from
/// two minutes after the start: the rollout halts there and rolls back.
fn breached_rollout() -> (TestRepo, String) {
    let repo = TestRepo::new();
    let shop = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/shop");
    repo.copy_dir(&shop, "").commit("shop config");
    let api = repo
        .read("config/role/api.yaml")
        .replace("pool_size: 40", "pool_size: 400");
    let needle = "sum(rate(http_requests_total{ring=\"dogfood\"}[5m]))': [[0, 0.002]]";
    let metrics = repo.read("metrics/demo.yaml");
    assert!(metrics.contains(needle), "the demo metrics changed shape");
    let metrics = metrics.replace(
        needle,
        "sum(rate(http_requests_total{ring=\"dogfood\"}[5m]))': [[0, 0.002], [120, 0.09]]",
    );
    repo.file("config/role/api.yaml", &api)
        .file("metrics/demo.yaml", &metrics)
        .commit("api: a much bigger database pool");
    let started = repo
        .run(&[
            "rollout",
            "start",
            "--as",
            "alice@shop.example",
            "--format",
            "json",
        ])
        .expect_code(0);
    let id = started.json()["id"].as_str().unwrap().to_owned();
    // Exit 1: halted at dogfood by the error-ratio gate, and rolled back.
    repo.run_env(
        &["rollout", "run", "--as", "alice@shop.example"],
        &[("RINGMASTER_CLOCK", "simulated")],
    )
    .assert_code(1);
    (repo, id)
}

/// `rollout timeline ID --format html --output PAGE`.
fn html_to(repo: &TestRepo, id: &str, page: &Path) -> crate::support::Output {
    let page = page.to_str().unwrap_or_default();
    repo.run(&[
        "rollout", "timeline", id, "--format", "html", "--output", page,
    ])
}

/// A headless Chromium run, killed if it outlives its deadline or the test.
struct Chromium {
    child: Child,
    _profile: tempfile::TempDir,
}

impl Drop for Chromium {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn chromium_binary() -> PathBuf {
    for name in ["chromium", "chromium-browser"] {
        if let Ok(out) = Command::new("sh")
            .args(["-c", &format!("command -v {name}")])
            .output()
            && out.status.success()
        {
            return PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        }
    }
    panic!(
        "headless Chromium is required for this test and was not found on PATH \
         (Debian: apt-get install chromium; scripts/test.sh installs it)"
    );
}

/// Runs Chromium headless on `page` with `args`; returns (stdout, stderr).
fn chromium(page: &Path, args: &[&str]) -> (String, String) {
    let profile = tempfile::tempdir().unwrap();
    let out_dir = tempfile::tempdir().unwrap();
    let stdout_path = out_dir.path().join("stdout");
    let stderr_path = out_dir.path().join("stderr");
    let child = Command::new(chromium_binary())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            // Console messages (a CSP violation, a script error) go to stderr.
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout_path).unwrap())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .expect("start chromium");
    let mut browser = Chromium {
        child,
        _profile: profile,
    };
    let deadline = Instant::now() + Duration::from_secs(90);
    let status = loop {
        if let Some(status) = browser.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "chromium did not finish within 90 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = std::fs::read_to_string(&stdout_path).unwrap();
    let stderr = std::fs::read_to_string(&stderr_path).unwrap();
    assert!(status.success(), "chromium failed ({status}):\n{stderr}");
    (stdout, stderr)
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&png[12..16], b"IHDR");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&png[16..20]), be(&png[20..24]))
}

#[test]
fn the_html_timeline_of_a_halted_rollout_renders_in_chromium() {
    let (repo, id) = breached_rollout();
    let events = repo
        .run(&["rollout", "timeline", &id, "--format", "json"])
        .json()["events"]
        .as_array()
        .unwrap()
        .len();
    let evaluated = repo
        .run(&["rollout", "timeline", &id, "--format", "json"])
        .json()["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"]["kind"] == "evaluated")
        .count();

    let out_dir = tempfile::tempdir().unwrap();
    let page = out_dir.path().join("report.html");
    let wrote = html_to(&repo, &id, &page).expect_code(0);
    wrote.assert_stdout_has("report.html");
    // Written atomically: nothing but the page is left in the directory.
    let left: Vec<_> = std::fs::read_dir(out_dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["report.html"]);
    let html = std::fs::read_to_string(&page).unwrap();
    // stdout without --output is the same page.
    let stdout = repo
        .run(&["rollout", "timeline", &id, "--format", "html"])
        .expect_code(0);
    assert_eq!(stdout.stdout, html);

    // Self-contained: nothing to fetch, and a policy that forbids fetching.
    let lower = html.to_lowercase();
    for fetch in [
        "src=", "href=", "url(", "@import", "http://", "https://", "<script",
    ] {
        assert!(!lower.contains(fetch), "the page references `{fetch}`");
    }
    assert!(html.contains("content=\"default-src 'none'"), "no CSP");
    // Two gates in dogfood (error-ratio and availability), one breach, the
    // halt and the rollback marked, the debrief figures.
    assert_eq!(html.matches("<svg class=\"gate-chart\"").count(), 2);
    assert_eq!(html.matches("class=\"sample verdict-breach\"").count(), 1);
    for marker in ["marker-deliver", "marker-halt", "marker-rollback"] {
        assert!(html.contains(marker), "no {marker}");
    }
    assert!(html.contains("class=\"threshold\""));
    assert!(html.contains("id=\"time-to-detect\""));
    assert!(html.contains("id=\"time-to-mitigate\""));

    // What Chromium parsed: the charts are SVG elements with a point per
    // evaluation, and every journal event is a table row (a run of healthy
    // evaluations one row per gate).
    let (dom, console) = chromium(&page, &["--dump-dom"]);
    assert_eq!(
        dom.matches("<svg class=\"gate-chart\"").count(),
        2,
        "charts in the DOM"
    );
    assert_eq!(
        dom.matches("<circle class=\"sample").count(),
        evaluated,
        "one point per evaluation"
    );
    // The four healthy rounds before the breach fold into one row per gate
    // (2 rows for 8 entries).
    assert_eq!(
        dom.matches("<tr class=\"ev ").count(),
        events - 8 + 2,
        "event rows"
    );
    assert_eq!(dom.matches("evaluated ×4</td>").count(), 2, "folded rows");
    assert!(dom.contains("<tr class=\"ev ev-halted\">"), "the halt row");
    assert!(
        dom.contains(
            "<span class=\"ring-name\">dogfood</span> <span class=\"phase\">rolled back</span>"
        ),
        "the ring strip"
    );
    assert!(
        dom.contains("<tr class=\"ev ev-rolled-back\">"),
        "the rollback row"
    );
    // The console stays silent: no fetch blocked by the policy, no error.
    let console_lines: Vec<&str> = console.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(console_lines.is_empty(), "{console_lines:#?}");

    // A screenshot: a real PNG of the window's size, with content (a blank
    // page compresses to a few kilobytes).
    let shot = out_dir.path().join("report.png");
    chromium(
        &page,
        &[
            "--window-size=1280,1600",
            &format!("--screenshot={}", shot.display()),
        ],
    );
    let png = std::fs::read(&shot).expect("chromium wrote no screenshot");
    assert_eq!(png_size(&png), (1280, 1600));
    assert!(
        png.len() > 40_000,
        "a near-empty screenshot: {} bytes",
        png.len()
    );
}

#[test]
fn journal_text_is_escaped_in_the_page() {
    let (repo, id) = breached_rollout();
    // Actors and reasons are journal text anyone with the repo can write.
    repo.run(&["rollout", "resume", &id, "--as", "<b>bob</b>"])
        .assert_code(0);
    repo.run(&[
        "rollout",
        "freeze",
        "--reason",
        "</td><script>alert(1)</script><img src=//evil.example/x>",
        "--as",
        "\"><svg onload=alert(2)>",
    ])
    .assert_code(0);
    let out = repo
        .run(&["rollout", "timeline", &id, "--format", "html"])
        .expect_code(0);
    let html = out.stdout;
    for raw in ["<script", "<img", "<b>bob", "<svg onload"] {
        assert!(!html.contains(raw), "`{raw}` reached the page unescaped");
    }
    assert!(html.contains("&lt;/td&gt;&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("&lt;b&gt;bob&lt;/b&gt;"));
}

#[test]
fn html_is_for_the_timeline_only_and_a_bad_output_path_is_named() {
    let (repo, id) = breached_rollout();
    for args in [
        &["check", "--format", "html"][..],
        &["rollout", "status", "--format", "html"],
        &["diff", "--format", "html"],
    ] {
        let out = repo.run(args).expect_code(2);
        assert!(
            out.stderr
                .contains("--format html is not available for this command"),
            "{args:?}: {}",
            out.stderr
        );
    }
    let missing = repo.path().join("no/such/dir/report.html");
    let out = html_to(&repo, &id, &missing).expect_code(2);
    out.assert_stderr_has("no/such/dir/report.html");
    assert!(!repo.path().join("no").exists());
}

/// The timeline of the halted rollout as markdown (the debrief) and as the
/// HTML page, byte for byte but for shas and times: the rings, the breach of
/// the error-ratio gate at dogfood, the rollback, and the page's charts.
#[test]
fn the_timeline_of_a_halted_rollout_in_markdown_and_html() {
    let (repo, id) = breached_rollout();
    let markdown = repo.run(&["rollout", "timeline", &id]).expect_code(0);
    let html = repo
        .run(&["rollout", "timeline", &id, "--format", "html"])
        .expect_code(0);
    insta::with_settings!({filters => redactions()}, {
        insta::assert_snapshot!("timeline_of_a_halted_rollout_markdown", markdown.stdout);
        insta::assert_snapshot!("timeline_of_a_halted_rollout_html", html.stdout);
    });
}
