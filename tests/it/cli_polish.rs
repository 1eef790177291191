//! The command line as a user meets it: an example in every command's help,
//! shell completions and man pages generated from the clap definition, and
//! colour that follows `--color` and `NO_COLOR`.

use std::process::Command;

use clap::CommandFactory;
use ringmaster::cli::Cli;

use crate::support::{BIN, TestRepo, run_at, run_tool};

/// Every command path: `[]`, `["check"]`, `["rollout", "run"]`, …
fn command_paths() -> Vec<Vec<String>> {
    fn walk(cmd: &clap::Command, prefix: &[String], out: &mut Vec<Vec<String>>) {
        out.push(prefix.to_vec());
        for sub in cmd.get_subcommands() {
            let mut path = prefix.to_vec();
            path.push(sub.get_name().to_owned());
            walk(sub, &path, out);
        }
    }
    let mut out = Vec::new();
    walk(&Cli::command(), &[], &mut out);
    out
}

#[test]
fn every_command_has_help_with_an_example() {
    let paths = command_paths();
    assert!(paths.len() > 20, "{paths:?}");
    let cwd = tempfile::tempdir().unwrap();
    for path in &paths {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let out = run_at(cwd.path(), &args).expect_code(0);
        assert!(
            out.stdout.contains("Example"),
            "`ringmaster {}` has no example:\n{}",
            args.join(" "),
            out.stdout
        );
    }
}

#[test]
fn completion_scripts_name_the_subcommands() {
    let cwd = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = run_at(cwd.path(), &["completions", shell]).expect_code(0);
        for word in ["rollout", "timeline", "completions", "format"] {
            assert!(out.stdout.contains(word), "{shell}: no `{word}`");
        }
    }
    // The bash script parses, and completing `ringmaster rollout t` offers
    // the timeline subcommand.
    let bash = run_at(cwd.path(), &["completions", "bash"]).stdout;
    let script = cwd.path().join("ringmaster.bash");
    std::fs::write(&script, &bash).unwrap();
    run_tool(Command::new("bash").arg("-n").arg(&script), "bash -n");
    let complete = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {}; COMP_WORDS=(ringmaster rollout ti); COMP_CWORD=2; COMP_LINE='ringmaster rollout ti'; COMP_POINT=${{#COMP_LINE}}; _ringmaster ringmaster ti rollout; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display()
        ))
        .output()
        .unwrap();
    let offered = String::from_utf8_lossy(&complete.stdout);
    assert_eq!(offered.trim(), "timeline", "{offered}");

    let bad = run_at(cwd.path(), &["completions", "tcsh"]).expect_code(2);
    bad.assert_stderr_has("possible values");
}

#[test]
fn the_man_page_renders_and_dir_writes_one_page_per_command() {
    let cwd = tempfile::tempdir().unwrap();
    let out = run_at(cwd.path(), &["man"]).expect_code(0);
    out.assert_stdout_has(".TH RINGMASTER 1");
    assert!(out.stdout.contains(".SH NAME"));
    assert!(out.stdout.contains("rollout"));
    // groff renders it without a warning (-ww: all warnings).
    let page = cwd.path().join("ringmaster.1");
    std::fs::write(&page, &out.stdout).unwrap();
    let groff = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-z"])
        .arg(&page)
        .output()
        .expect("groff is required (Debian: groff-base; scripts/test.sh installs it)");
    assert!(groff.status.success());
    assert_eq!(String::from_utf8_lossy(&groff.stderr), "", "groff warnings");

    let dir = cwd.path().join("man1");
    std::fs::create_dir(&dir).unwrap();
    run_at(cwd.path(), &["man", "--dir", "man1"]).assert_code(0);
    let mut pages: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    pages.sort();
    // One page per command (clap's generated `help` has none).
    let expected = command_paths().len();
    assert_eq!(pages.len(), expected, "{pages:?}");
    for name in [
        "ringmaster.1",
        "ringmaster-check.1",
        "ringmaster-rollout-timeline.1",
    ] {
        assert!(pages.contains(&name.to_owned()), "{pages:?}");
    }
    let timeline = std::fs::read_to_string(dir.join("ringmaster-rollout-timeline.1")).unwrap();
    assert!(
        timeline.contains(".TH RINGMASTER-ROLLOUT-TIMELINE 1"),
        "{timeline}"
    );
    assert!(timeline.contains("html"), "the formats are listed");

    let missing = run_at(cwd.path(), &["man", "--dir", "nowhere"]).expect_code(2);
    missing.assert_stderr_has("nowhere");
}

/// Runs `ringmaster` with exactly these colour-related environment variables
/// (stdout is a pipe, as in CI).
fn run_colour(repo: &TestRepo, args: &[&str], no_color: Option<&str>) -> (String, String) {
    let mut cmd = Command::new(BIN);
    cmd.arg("--repo")
        .arg(repo.path())
        .args(args)
        .current_dir(repo.path())
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("CLICOLOR")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null");
    if let Some(v) = no_color {
        cmd.env("NO_COLOR", v);
    }
    let out = cmd.output().unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn colour_follows_color_and_no_color() {
    let repo = TestRepo::standard();
    repo.file("config/web.yaml", "server:\n  port: 80\n"); // misses `host`
    let esc = |s: &str| s.contains('\u{1b}');

    let (always, _) = run_colour(&repo, &["check", "--color", "always"], None);
    assert!(always.contains("config/web.yaml:"), "{always}");
    assert!(esc(&always), "--color always gives colour:\n{always}");
    // An explicit flag wins over the environment (no-color.org).
    let (forced, _) = run_colour(&repo, &["check", "--color", "always"], Some("1"));
    assert!(esc(&forced));

    for (args, no_color) in [
        (&["check", "--color", "auto"][..], Some("1")),
        (&["check"], Some("1")),
        (&["check", "--color", "never"], None),
        // Auto on a pipe: no colour even without NO_COLOR.
        (&["check", "--color", "auto"], None),
        (&["check", "--help"], Some("1")),
    ] {
        let (stdout, stderr) = run_colour(&repo, args, no_color);
        assert!(!stdout.is_empty(), "{args:?}");
        assert!(
            !esc(&stdout) && !esc(&stderr),
            "{args:?} NO_COLOR={no_color:?} printed escapes:\n{stdout}{stderr}"
        );
    }
}
