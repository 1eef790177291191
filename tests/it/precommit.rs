//! The project's `.pre-commit-hooks.yaml` under the real pre-commit
//! framework (from PyPI, in a virtualenv kept under the cargo target dir so
//! later runs skip the install): a config repo whose `.pre-commit-config.yaml`
//! uses the hooks refuses a bad commit with the finding's file:line, accepts
//! a good one, skips commits without config files, and runs the diff hook on
//! demand.
//!
//! The hooks run as their `-system` variants, with the binary under test on
//! PATH: the `language: rust` variants differ only in how pre-commit gets the
//! binary (a `cargo install` release build of this repository, minutes on a
//! CI runner), which pre-commit itself validates in `validate-manifest`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use crate::support::{BIN, TestRepo, run_tool};

/// pre-commit versions with `types_or`, `stages: [manual]` and the
/// `pre-commit` stage name.
const PRE_COMMIT: &str = "pre-commit>=3.2,<5";

static SETUP: Mutex<()> = Mutex::new(());

/// The `pre-commit` executable of a virtualenv under the cargo target dir,
/// created (and pre-commit installed from PyPI) when absent.
pub(crate) fn pre_commit() -> PathBuf {
    let _guard = SETUP.lock().unwrap_or_else(|e| e.into_inner());
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pre-commit-venv");
    let exe = venv.join("bin/pre-commit");
    // `.ready` is written last: a half-finished install, or a venv whose
    // Python went away (an upgraded interpreter), is started over.
    let works = || {
        Command::new(&exe)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if venv.join(".ready").is_file() && works() {
        return exe;
    }
    let _ = std::fs::remove_dir_all(&venv);
    let run = |cmd: &mut Command, what: &str| {
        run_tool(
            cmd,
            &format!(
                "{what} (the pre-commit test needs python3 with venv and PyPI; \
                 Debian: apt-get install python3-venv)"
            ),
        );
    };
    run(
        Command::new("python3").args(["-m", "venv"]).arg(&venv),
        "python3 -m venv",
    );
    run(
        Command::new(venv.join("bin/python")).args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            PRE_COMMIT,
        ]),
        "pip install pre-commit",
    );
    assert!(works(), "pre-commit was installed but does not run");
    std::fs::write(venv.join(".ready"), PRE_COMMIT).unwrap();
    exe
}

/// A git repository holding only this project's `.pre-commit-hooks.yaml`,
/// as a user's `repo:` URL would; returns its commit.
fn hooks_repo(dir: &Path) -> String {
    let hooks = Path::new(env!("CARGO_MANIFEST_DIR")).join(".pre-commit-hooks.yaml");
    std::fs::create_dir_all(dir).unwrap();
    std::fs::copy(&hooks, dir.join(".pre-commit-hooks.yaml")).unwrap();
    let git = |args: &[&str]| {
        let out = run_tool(
            Command::new("git")
                .args([
                    "-c",
                    "user.name=hooks",
                    "-c",
                    "user.email=hooks@ringmaster.invalid",
                    "-c",
                    "commit.gpgsign=false",
                    "-c",
                    "init.defaultBranch=main",
                ])
                .args(args)
                .current_dir(dir)
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("GIT_CONFIG_GLOBAL", "/dev/null"),
            &format!("git {args:?}"),
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    git(&["init", "-q", "."]);
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "hooks"]);
    git(&["rev-parse", "HEAD"])
}

/// A user's environment for git and pre-commit: the binary under test and
/// pre-commit on PATH, pre-commit's cache in `home`, no machine git config.
struct Env {
    path: String,
    home: PathBuf,
}

impl Env {
    fn new(pre_commit: &Path, home: &Path) -> Env {
        let bin_dir = Path::new(BIN).parent().unwrap();
        let path = format!(
            "{}:{}:{}",
            bin_dir.display(),
            pre_commit.parent().unwrap().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        Env {
            path,
            home: home.to_path_buf(),
        }
    }

    /// Runs a command in the config repo; returns (success, stdout + stderr).
    fn run(&self, repo: &TestRepo, program: &Path, args: &[&str]) -> (bool, String) {
        let out = Command::new(program)
            .args(args)
            .current_dir(repo.path())
            .env("PATH", &self.path)
            .env("PRE_COMMIT_HOME", self.home.join("pre-commit"))
            .env("NO_COLOR", "1")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "dev")
            .env("GIT_AUTHOR_EMAIL", "dev@shop.example")
            .env("GIT_COMMITTER_NAME", "dev")
            .env("GIT_COMMITTER_EMAIL", "dev@shop.example")
            .env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE")
            .env_remove("GIT_INDEX_FILE")
            .output()
            .unwrap_or_else(|e| panic!("run {}: {e}", program.display()));
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    }

    fn commit(&self, repo: &TestRepo, message: &str) -> (bool, String) {
        self.run(
            repo,
            Path::new("git"),
            &["-c", "commit.gpgsign=false", "commit", "-m", message],
        )
    }
}

#[test]
fn pre_commit_refuses_a_bad_config_change_and_accepts_a_good_one() {
    let pre_commit = pre_commit();
    let scratch = tempfile::tempdir().unwrap();
    let env = Env::new(&pre_commit, scratch.path());

    // pre-commit's own validation of the project's hooks file, every variant.
    let hooks_file = Path::new(env!("CARGO_MANIFEST_DIR")).join(".pre-commit-hooks.yaml");
    let repo = TestRepo::new();
    let (ok, out) = env.run(
        &repo,
        &pre_commit,
        &["validate-manifest", hooks_file.to_str().unwrap()],
    );
    assert!(ok, "{out}");

    let hooks_dir = scratch.path().join("hooks");
    let rev = hooks_repo(&hooks_dir);
    let shop = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/shop");
    repo.copy_dir(&shop, "").file(
        ".pre-commit-config.yaml",
        &format!(
            "repos:\n  - repo: {}\n    rev: {rev}\n    hooks:\n      - id: ringmaster-check-system\n      - id: ringmaster-diff-system\n",
            hooks_dir.display()
        ),
    );
    repo.commit("shop config");
    let (ok, out) = env.run(&repo, &pre_commit, &["validate-config"]);
    assert!(ok, "{out}");
    let (ok, out) = env.run(&repo, &pre_commit, &["install"]);
    assert!(ok, "{out}");
    let head = repo.rev_parse("HEAD");

    // A bad change: refused, with the finding's file:line:column.
    let api = repo.read("config/role/api.yaml");
    let lots = api.replace("max_connections: 1024", "max_connections: lots");
    repo.file("config/role/api.yaml", &lots)
        .stage("config/role/api.yaml");
    let (ok, out) = env.commit(&repo, "api: lots of connections");
    assert!(!ok, "a bad commit was accepted:\n{out}");
    assert!(out.contains("ringmaster check"), "{out}");
    assert!(out.contains("Failed"), "{out}");
    assert!(out.contains("config/role/api.yaml:4:20"), "{out}");
    assert!(out.contains("is not of type \"integer\""), "{out}");
    assert!(
        !out.contains("ringmaster diff"),
        "the diff hook is manual:\n{out}"
    );
    assert_eq!(repo.rev_parse("HEAD"), head, "HEAD moved");

    // A good change: accepted.
    repo.file(
        "config/role/api.yaml",
        &api.replace("max_connections: 1024", "max_connections: 2048"),
    )
    .stage("config/role/api.yaml");
    let (ok, out) = env.commit(&repo, "api: more connections");
    assert!(ok, "a good commit was refused:\n{out}");
    assert!(out.contains("Passed"), "{out}");
    assert_ne!(repo.rev_parse("HEAD"), head);

    // No config file in the commit: the hook has nothing to check.
    repo.file("NOTES.txt", "ops notes\n").stage("NOTES.txt");
    let (ok, out) = env.commit(&repo, "notes");
    assert!(ok, "{out}");
    assert!(out.contains("(no files to check)Skipped"), "{out}");

    // The manual diff hook: what the staged change does per host class.
    let api = repo.read("config/role/api.yaml");
    repo.file(
        "config/role/api.yaml",
        &api.replace("pool_size: 40", "pool_size: 80"),
    )
    .stage("config/role/api.yaml");
    let (ok, out) = env.run(
        &repo,
        &pre_commit,
        &["run", "ringmaster-diff-system", "--hook-stage", "manual"],
    );
    assert!(ok, "{out}");
    assert!(out.contains("ringmaster diff"), "{out}");
    assert!(out.contains("pool_size"), "{out}");
    assert!(out.contains("api-dogfood"), "{out}");
}
