//! The prebuilt wheel (packaging/ringmaster/pyproject.toml, maturin
//! `bindings = "bin"`): built from this checkout by scripts/build-wheel.sh
//! (dev profile, once per test run, by scripts/test.sh before the tests), it
//! installs with pip from a local directory with no index, and its binary
//! checks the example; the real pre-commit framework installs the
//! `language: python` hook from a checkout of this repository with pip
//! pointed at that directory (`PIP_FIND_LINKS`, `PIP_NO_INDEX`: the package
//! index's role in real use), refuses a bad commit and accepts a good one,
//! without a Rust toolchain or the binary under test on PATH.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use crate::precommit::pre_commit;
use crate::support::{TestRepo, hermetic, run_tool};

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn project() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

static WHEEL_DIR: Mutex<Option<PathBuf>> = Mutex::new(None);

/// A directory holding the one `ringmaster-cli` wheel built from this checkout:
/// `RINGMASTER_TEST_WHEELS` when scripts/test.sh built it before the tests
/// (so no compile runs beside them), otherwise built here on first use.
fn wheel_dir() -> PathBuf {
    let mut built = WHEEL_DIR.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(dir) = built.as_ref() {
        return dir.clone();
    }
    if let Some(dir) = std::env::var_os("RINGMASTER_TEST_WHEELS") {
        let dir = project().join(dir);
        *built = Some(dir.clone());
        return dir;
    }
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let dir = tmp.join("wheels");
    let _ = std::fs::remove_dir_all(&dir);
    let target = tmp.parent().expect("CARGO_TARGET_TMPDIR is <target>/tmp");
    run_tool(
        Command::new(project().join("scripts/build-wheel.sh"))
            .args(["--dev", "-o"])
            .arg(&dir)
            .env("CARGO_TARGET_DIR", target)
            .current_dir(project()),
        "scripts/build-wheel.sh --dev (maturin from PyPI into a virtualenv: needs python3 \
         with venv; Debian: apt-get install python3-venv)",
    );
    *built = Some(dir.clone());
    dir
}

/// The wheel file in `dir`: exactly one, named for this version.
fn the_wheel(dir: &Path) -> PathBuf {
    let wheels: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "whl"))
        .collect();
    assert_eq!(wheels.len(), 1, "{wheels:?}");
    wheels[0].clone()
}

/// A fresh virtualenv; returns its bin directory.
fn venv(at: &Path) -> PathBuf {
    run_tool(
        Command::new("python3").args(["-m", "venv"]).arg(at),
        "python3 -m venv (Debian: apt-get install python3-venv)",
    );
    at.join("bin")
}

/// PATH without any directory holding a ringmaster or cargo: what the hook
/// and the pip install run must come from their own environment.
fn path_without_ringmaster(first: &Path) -> String {
    let rest = std::env::var("PATH").unwrap_or_default();
    let kept = rest.split(':').filter(|d| !d.is_empty()).filter(|d| {
        !Path::new(d).join("ringmaster").exists() && !Path::new(d).join("cargo").exists()
    });
    std::iter::once(first.to_string_lossy().into_owned())
        .chain(kept.map(str::to_owned))
        .collect::<Vec<_>>()
        .join(":")
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn the_wheel_installs_with_pip_from_a_local_directory_and_its_binary_checks_the_example() {
    let dir = wheel_dir();
    let wheel = the_wheel(&dir);
    let name = wheel.file_name().unwrap().to_string_lossy().into_owned();
    // The binary alone, for any Python 3, on a manylinux platform tag.
    assert!(
        name.starts_with(&format!("ringmaster_cli-{VERSION}-py3-none-manylinux_")),
        "{name}"
    );
    let listing = run_tool(
        Command::new("python3")
            .args(["-m", "zipfile", "-l"])
            .arg(&wheel),
        "python3 -m zipfile -l",
    );
    let listing = String::from_utf8_lossy(&listing.stdout).into_owned();
    let files: Vec<&str> = listing
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(
        files.contains(&format!("ringmaster_cli-{VERSION}.data/scripts/ringmaster").as_str()),
        "{listing}"
    );
    assert!(
        files
            .iter()
            .all(|f| f.starts_with(&format!("ringmaster_cli-{VERSION}."))),
        "only the binary and its metadata:\n{listing}"
    );

    let scratch = tempfile::tempdir().unwrap();
    let bin = venv(&scratch.path().join("venv"));
    let out = run_tool(
        Command::new(bin.join("pip"))
            .args([
                "install",
                "--no-index",
                "--disable-pip-version-check",
                "--find-links",
            ])
            .arg(&dir)
            .arg("ringmaster-cli")
            .env("PATH", path_without_ringmaster(&bin)),
        "pip install ringmaster-cli",
    );
    assert!(
        text(&out).contains(&format!("ringmaster-cli-{VERSION}")),
        "{}",
        text(&out)
    );
    let ringmaster = bin.join("ringmaster");

    let out = run_tool(
        Command::new(&ringmaster).arg("--version"),
        "ringmaster --version",
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("ringmaster {VERSION}\n")
    );

    // The installed binary links no system OpenSSL or libgit2 (vendored
    // libgit2, rustls): only what every manylinux platform has.
    let out = run_tool(Command::new("ldd").arg(&ringmaster), "ldd");
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let lib = line.split_whitespace().next().unwrap_or_default();
        let lib = lib.rsplit('/').next().unwrap_or_default();
        assert!(
            [
                "linux-vdso.so.1",
                "libz.so.1",
                "libgcc_s.so.1",
                "libm.so.6",
                "libc.so.6"
            ]
            .contains(&lib)
                || lib.starts_with("ld-linux"),
            "links {lib}:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }

    // `ringmaster check` on the example, from that install: clean, then a
    // finding with its place.
    let repo = TestRepo::new();
    repo.copy_dir(&project().join("examples/shop"), "")
        .commit("shop config");
    let check = |args: &[&str]| {
        hermetic(&mut Command::new(&ringmaster))
            .args(args)
            .current_dir(repo.path())
            .output()
            .unwrap()
    };
    let out = check(&["check"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let api = repo.read("config/role/api.yaml");
    repo.file(
        "config/role/api.yaml",
        &api.replace("max_connections: 1024", "max_connections: lots"),
    );
    let out = check(&["check"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("config/role/api.yaml:4:20"),
        "{}",
        text(&out)
    );
}

/// A git repository holding this checkout's files (tracked and new, as in the
/// work tree), as a user's `repo:` URL at a tag would; returns its commit.
fn checkout_of_this_repo() -> (TestRepo, String) {
    let out = run_tool(
        Command::new("git")
            .args([
                "ls-files",
                "-z",
                "--cached",
                "--others",
                "--exclude-standard",
            ])
            .current_dir(project()),
        "git ls-files (the tests run from a git checkout)",
    );
    let repo = TestRepo::new();
    let mut copied = 0;
    for rel in out.stdout.split(|b| *b == 0).filter(|r| !r.is_empty()) {
        let rel = String::from_utf8_lossy(rel).into_owned();
        let from = project().join(&rel);
        // Deleted in the work tree but still in the index: not in a checkout.
        if !from.is_file() {
            continue;
        }
        let to = repo.path().join(&rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&from, &to).unwrap();
        copied += 1;
    }
    assert!(copied > 10, "{copied} files");
    repo.git(&["add", "-A"]);
    repo.commit("ringmaster");
    let rev = repo.rev_parse("HEAD");
    (repo, rev)
}

/// Runs `program` in the config repo as a new user's shell would, with pip
/// pointed at `index` only; returns (success, output).
fn run_user(
    repo: &TestRepo,
    program: &Path,
    args: &[&str],
    path: &str,
    home: &Path,
    index: &Path,
) -> (bool, String) {
    let out = hermetic(&mut Command::new(program))
        .args(args)
        .current_dir(repo.path())
        .env("PATH", path)
        .env("PRE_COMMIT_HOME", home)
        .env("PIP_FIND_LINKS", index)
        .env("PIP_NO_INDEX", "1")
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .env("GIT_AUTHOR_NAME", "dev")
        .env("GIT_AUTHOR_EMAIL", "dev@shop.example")
        .env("GIT_COMMITTER_NAME", "dev")
        .env("GIT_COMMITTER_EMAIL", "dev@shop.example")
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", program.display()));
    (out.status.success(), text(&out))
}

#[test]
fn the_wheel_hook_installs_without_compiling_refuses_a_bad_commit_and_accepts_a_good_one() {
    let pre_commit = pre_commit();
    let index = wheel_dir();
    let (hooks, rev) = checkout_of_this_repo();
    let scratch = tempfile::tempdir().unwrap();
    let home = scratch.path().join("pre-commit");
    let path = path_without_ringmaster(pre_commit.parent().unwrap());

    let repo = TestRepo::new();
    repo.copy_dir(&project().join("examples/shop"), "").file(
        ".pre-commit-config.yaml",
        &format!(
            "repos:\n  - repo: {}\n    rev: {rev}\n    hooks:\n      - id: ringmaster-check-wheel\n      - id: ringmaster-diff-wheel\n",
            hooks.path().display()
        ),
    );
    repo.commit("shop config");
    let run = |program: &Path, args: &[&str], index: &Path| {
        run_user(&repo, program, args, &path, &home, index)
    };
    let git_commit = |message: &str| {
        run(
            Path::new("git"),
            &["-c", "commit.gpgsign=false", "commit", "-m", message],
            &index,
        )
    };
    let (ok, out) = run(&pre_commit, &["install"], &index);
    assert!(ok, "{out}");
    let head = repo.rev_parse("HEAD");

    // The hook's environment comes from the wheel, never from compiling: with
    // no ringmaster wheel where pip looks, it cannot be installed.
    let empty = scratch.path().join("empty-index");
    std::fs::create_dir_all(&empty).unwrap();
    let (ok, out) = run(
        &pre_commit,
        &["install-hooks", "--config", ".pre-commit-config.yaml"],
        &empty,
    );
    assert!(!ok, "installed without the wheel:\n{out}");
    assert!(out.contains(&format!("ringmaster-cli=={VERSION}")), "{out}");

    // A bad change: refused with the finding's place; the first commit
    // creates the hook's environment by pip-installing the wheel (no cargo on PATH;
    // its time is a benchmark figure in the README, not an assertion here).
    let api = repo.read("config/role/api.yaml");
    repo.file(
        "config/role/api.yaml",
        &api.replace("max_connections: 1024", "max_connections: lots"),
    )
    .stage("config/role/api.yaml");
    let (ok, out) = git_commit("api: lots of connections");
    assert!(!ok, "a bad commit was accepted:\n{out}");
    assert!(out.contains("Failed"), "{out}");
    assert!(out.contains("config/role/api.yaml:4:20"), "{out}");
    assert!(out.contains("is not of type \"integer\""), "{out}");
    assert_eq!(repo.rev_parse("HEAD"), head, "HEAD moved");
    // The binary that ran is the wheel's, in pre-commit's environment.
    let installed: Vec<PathBuf> = std::fs::read_dir(&home)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|repo_dir| {
            std::fs::read_dir(&repo_dir).ok().and_then(|entries| {
                entries
                    .map(|e| e.unwrap().path())
                    .find(|p| p.join("bin/ringmaster").is_file())
            })
        })
        .collect();
    assert_eq!(installed.len(), 1, "{installed:?}");

    // A good change: accepted.
    repo.file(
        "config/role/api.yaml",
        &api.replace("max_connections: 1024", "max_connections: 2048"),
    )
    .stage("config/role/api.yaml");
    let (ok, out) = git_commit("api: more connections");
    assert!(ok, "a good commit was refused:\n{out}");
    assert!(out.contains("Passed"), "{out}");
    assert_ne!(repo.rev_parse("HEAD"), head);

    // The manual diff hook from the same environment.
    let api = repo.read("config/role/api.yaml");
    repo.file(
        "config/role/api.yaml",
        &api.replace("pool_size: 40", "pool_size: 80"),
    )
    .stage("config/role/api.yaml");
    let (ok, out) = run(
        &pre_commit,
        &["run", "ringmaster-diff-wheel", "--hook-stage", "manual"],
        &index,
    );
    assert!(ok, "{out}");
    assert!(out.contains("pool_size"), "{out}");
    assert!(out.contains("api-dogfood"), "{out}");
}

/// The script of action.yml's step `name`, parsed with ringmaster's own YAML reader.
fn action_step(name: &str) -> String {
    let steps = crate::github::action_steps();
    crate::github::step(&steps, name)["run"]
        .as_str()
        .unwrap_or_else(|| panic!("step `{name}` in action.yml has no script"))
        .to_owned()
}

/// A static HTTP server (python3 -m http.server) over `dir`, stopped on drop.
struct Server {
    child: std::process::Child,
    url: String,
}

impl Server {
    fn start(dir: &Path) -> Server {
        use std::io::BufRead as _;
        let mut child = Command::new("python3")
            .args([
                "-u",
                "-m",
                "http.server",
                "0",
                "--bind",
                "127.0.0.1",
                "--directory",
            ])
            .arg(dir)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("python3 -m http.server");
        // "Serving HTTP on 127.0.0.1 port 41235 (http://127.0.0.1:41235/) ..."
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .split_whitespace()
            .skip_while(|w| *w != "port")
            .nth(1)
            .unwrap_or_else(|| panic!("http.server said {line:?}"))
            .to_owned();
        Server {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_action_installs_the_release_binary_when_pinned_to_its_tag_and_builds_otherwise() {
    let script = action_step("Install ringmaster");
    let scratch = tempfile::tempdir().unwrap();
    let s = scratch.path();
    let target = "x86_64-unknown-linux-gnu";

    // A release server laid out as GitHub's: /OWNER/REPO/releases/download/vX/<asset>,
    // holding the archive release.yml makes (the binary as ./ringmaster) and its sum.
    let release = s.join(format!("srv/acme/ringmaster/releases/download/v{VERSION}"));
    std::fs::create_dir_all(&release).unwrap();
    let archive_dir = s.join("archive");
    std::fs::create_dir_all(&archive_dir).unwrap();
    std::fs::copy(crate::support::BIN, archive_dir.join("ringmaster")).unwrap();
    let archive = format!("ringmaster-{target}.tar.gz");
    run_tool(
        Command::new("tar")
            .arg("-czf")
            .arg(release.join(&archive))
            .arg("-C")
            .arg(&archive_dir)
            .arg("."),
        "tar",
    );
    let sum = run_tool(
        Command::new("sha256sum")
            .arg(&archive)
            .current_dir(&release),
        "sha256sum",
    );
    std::fs::write(release.join(format!("{archive}.sha256")), &sum.stdout).unwrap();
    let server = Server::start(&s.join("srv"));

    // `cargo` records that it was asked to build, and builds nothing.
    let fake = s.join("fake-bin");
    std::fs::create_dir_all(&fake).unwrap();
    let cargo_log = s.join("cargo.log");
    std::fs::write(
        fake.join("cargo"),
        format!("#!/bin/sh\necho \"$*\" >> '{}'\n", cargo_log.display()),
    )
    .unwrap();
    std::fs::set_permissions(
        fake.join("cargo"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let path = path_without_ringmaster(&fake);

    // The action as the runner checks it out: <runner>/_actions/OWNER/REPO/REF.
    let action_at = |reference: &str| {
        let dir = s.join(format!("runner/_actions/acme/ringmaster/{reference}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(project().join("Cargo.toml"), dir.join("Cargo.toml")).unwrap();
        dir
    };
    let run = |case: &str, action_dir: &Path, version: &str, arch: &str, server_url: &str| {
        let _ = std::fs::remove_file(&cargo_log);
        let case_dir = s.join(case);
        std::fs::create_dir_all(case_dir.join("temp")).unwrap();
        let github_path = case_dir.join("github_path");
        std::fs::write(&github_path, "").unwrap();
        let script_file = case_dir.join("step.sh");
        std::fs::write(&script_file, &script).unwrap();
        let out = Command::new("bash")
            .args(["--noprofile", "--norc", "-eo", "pipefail"])
            .arg(&script_file)
            .env("PATH", &path)
            .env("ACTION_DIR", action_dir)
            .env("VERSION", version)
            .env("ROOT", case_dir.join("root"))
            .env("CACHE_HIT", "")
            .env("RUNNER_OS", "Linux")
            .env("RUNNER_ARCH", arch)
            .env("RUNNER_TEMP", case_dir.join("temp"))
            .env("GITHUB_SERVER_URL", server_url)
            .env("GITHUB_PATH", &github_path)
            .output()
            .unwrap();
        let cargo = std::fs::read_to_string(&cargo_log).unwrap_or_default();
        let on_path = std::fs::read_to_string(&github_path).unwrap();
        (out.status.code(), text(&out), cargo, on_path, case_dir)
    };
    let installed_runs = |bin_dir: &Path| {
        let out = run_tool(
            Command::new(bin_dir.join("ringmaster")).arg("--version"),
            "the installed ringmaster",
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("ringmaster {VERSION}\n")
        );
    };

    // Pinned to the release tag of its version: the release binary, no build.
    let tagged = action_at(&format!("v{VERSION}"));
    let (code, out, cargo, on_path, case) = run("tagged", &tagged, "action", "X64", &server.url);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(cargo, "", "built although a release binary exists:\n{out}");
    assert!(out.contains("installed ringmaster"), "{out}");
    assert_eq!(on_path.trim(), case.join("root/bin").to_str().unwrap());
    installed_runs(&case.join("root/bin"));

    // `version: X.Y.Z`: that release's binary too.
    let (code, out, cargo, on_path, case) = run("number", &tagged, VERSION, "X64", &server.url);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(cargo, "", "{out}");
    assert_eq!(
        on_path.trim(),
        case.join("temp/ringmaster/bin").to_str().unwrap()
    );
    installed_runs(&case.join("temp/ringmaster/bin"));

    // A branch or a commit: the action's code may not be the release's, so built.
    let branch = action_at("main");
    let (code, out, cargo, _, case) = run("branch", &branch, "action", "X64", &server.url);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(
        cargo.trim(),
        format!(
            "install --locked --root {} --path {}",
            case.join("root").display(),
            branch.display()
        )
    );

    // No binary for this runner in the release: built, as before.
    let (code, out, cargo, _, _) = run("arm", &tagged, "action", "ARM64", &server.url);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("no release binary at"), "{out}");
    assert!(cargo.starts_with("install --locked"), "{cargo}");
    let (code, out, cargo, _, _) = run("crates", &tagged, "9.9.9", "X64", &server.url);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(
        cargo.trim(),
        format!(
            "install --locked --root {} ringmaster --version 9.9.9",
            s.join("crates/temp/ringmaster").display()
        )
    );

    // A binary that does not match its checksum is neither installed nor
    // replaced by a build: the job fails.
    std::fs::write(
        release.join(format!("{archive}.sha256")),
        format!("{}  {archive}\n", "0".repeat(64)),
    )
    .unwrap();
    let (code, out, cargo, _, case) = run("tampered", &tagged, "action", "X64", &server.url);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("does not match its .sha256"), "{out}");
    assert_eq!(cargo, "", "{out}");
    assert!(!case.join("root/bin/ringmaster").exists());
}

#[test]
fn the_release_workflow_builds_the_wheels_and_the_archives_the_action_and_the_hooks_install() {
    let release = std::fs::read_to_string(project().join(".github/workflows/release.yml"))
        .expect("a release workflow");
    // The wheel from the maturin project, Linux in the manylinux_2_28 container.
    assert!(
        release.contains("uses: PyO3/maturin-action@v1"),
        "{release}"
    );
    assert!(release.contains("working-directory: packaging/ringmaster"));
    assert!(release.contains("manylinux: \"2_28\""));
    // Every runner target the action maps to has a build in the matrix, and
    // the archives carry the names the action downloads.
    let action = action_step("Install ringmaster");
    for target in [
        "x86_64-unknown-linux-gnu",
        "aarch64-unknown-linux-gnu",
        "x86_64-apple-darwin",
        "aarch64-apple-darwin",
    ] {
        assert!(action.contains(&format!("target={target}")), "{target}");
        assert!(release.contains(&format!("target: {target}")), "{target}");
    }
    assert!(action.contains("ringmaster-$target.tar.gz"));
    assert!(release.contains("ringmaster-$TARGET.tar.gz"));
    assert!(release.contains("ringmaster-$TARGET.tar.gz.sha256"));
    // The wheels go to PyPI, where the hook package's pin finds them.
    assert!(release.contains("pypa/gh-action-pypi-publish"));
    let maturin =
        std::fs::read_to_string(project().join("packaging/ringmaster/pyproject.toml")).unwrap();
    assert!(maturin.contains("name = \"ringmaster-cli\""), "{maturin}");
    assert!(maturin.contains("bindings = \"bin\""), "{maturin}");
    assert!(maturin.contains("dynamic = [\"version\"]"), "{maturin}");
}
