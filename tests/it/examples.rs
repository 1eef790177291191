//! The bundled example and its demo scripts stay true: the committed sample
//! PR comment is what `diff-demo.sh` prints today, and `change-demo.sh`
//! shows the dual-change warning the README quotes.

use std::process::Command;

use crate::support::BIN;

fn demo(script: &str, args: &[&str]) -> (i32, String) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("bash")
        .arg(root.join("examples").join(script))
        .args(args)
        .env("RINGMASTER_BIN", BIN)
        .env("NO_COLOR", "1")
        .env_remove("RINGMASTER_TODAY")
        .output()
        .expect("run the demo script");
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("panicked"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn the_committed_sample_pr_comment_is_current() {
    let (code, stdout) = demo("diff-demo.sh", &["--format", "markdown"]);
    assert_eq!(code, 0, "{stdout}");
    // The base commit differs per run; the sample writes it as `<base>`.
    let line = stdout
        .lines()
        .find(|l| l.starts_with("Effective values, `"))
        .expect("the revisions line");
    let normalized = stdout.replace(line, "Effective values, `<base>` → working tree.");
    let sample = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/shop-diff.md"),
    )
    .expect("examples/shop-diff.md");
    assert_eq!(
        normalized, sample,
        "regenerate examples/shop-diff.md with examples/diff-demo.sh"
    );
}

#[test]
fn the_change_demo_shows_a_dual_change() {
    let (code, stdout) = demo("change-demo.sh", &[]);
    // Renaming the key leaves the layer schema and the role files behind:
    // errors too, so exit 1; the warning the README shows is among them.
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains(
            "warning: `max_pool_size` is added and `pool_size` removed in the same change, with a similar value: a rename ships both at once [dual-change]"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("--> config/defaults.yaml:17:3"), "{stdout}");
}

#[test]
fn the_rollout_demo_completes_one_change_and_rolls_back_the_other() {
    let (code, stdout) = demo("rollout-demo.sh", &["--timeline-only"]);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains("| dogfood | halted | gate `error-ratio` breached: 0.09 against 0.01 |"),
        "{stdout}"
    );
    assert!(stdout.contains("| dogfood | rolled-back |"), "{stdout}");
    assert!(stdout.contains("**Time to mitigate**"), "{stdout}");
    // The committed sample is this demo's timeline (times and ids aside).
    let sample = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/rollout-timeline.md"),
    )
    .expect("examples/rollout-timeline.md");
    // Times in a detail (when the impact began) are the run's own too.
    let untimed = |l: &str| -> String {
        let mut out = l.to_owned();
        while let Some(i) = out.find("Z (its history") {
            let start = i.saturating_sub(19);
            out.replace_range(start..=i, "[time]");
        }
        out
    };
    let shape = |t: &str| -> Vec<String> {
        t.lines()
            .map(|l| untimed(&l.split(" | ").skip(3).collect::<Vec<_>>().join(" | ")))
            .filter(|l| !l.contains("revision `") && !l.contains("` → `"))
            .collect()
    };
    assert_eq!(
        shape(&stdout),
        shape(&sample),
        "regenerate examples/rollout-timeline.md"
    );
}

/// The README's "Adopting an existing repo", as `adopt-demo.sh` runs it on
/// the bundled fixtures: each import renders what the real tool computes
/// (puppet and ansible-inventory are installed by the test command), and the
/// pull request each one makes shows in `diff`.
#[test]
fn the_adoption_demo_agrees_with_puppet_and_ansible_and_diffs_each_change() {
    let (code, stdout) = demo("adopt-demo.sh", &[]);
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(
        stdout.matches(" differ\n").count(),
        2,
        "both real tools were compared: {stdout}"
    );
    assert_eq!(stdout.matches(", 0 differ\n").count(), 2, "{stdout}");
    for change in [
        "+ ntp::servers  [\"ntp.west.example.com\"]  data/dc/west-override.yaml:1",
        "+ backup  true  inventory/group_vars/db.json:1",
        "~ replicaCount  1 → 3  envs/common.yaml:12",
    ] {
        assert!(stdout.contains(change), "{change} in {stdout}");
    }
}
