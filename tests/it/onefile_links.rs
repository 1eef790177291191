//! The one-file pre-commit check with the cache: the scan of the tree for
//! symbolic links is remembered when it finds none, with the stamps (inode,
//! mtime, ctime) of the directories it read, and a later check takes that
//! answer only while every one of them is unchanged. A link made since, in
//! any directory, new or old, is found and reported as before.

use crate::support::{Output, TestRepo};

const MANIFEST: &str = "\
version: 1
schemas:
  - files: \"config/**/*.yaml\"
    schema: schemas/layer.schema.json
";

/// The cached answer is the `--no-cache` one: stdout, stderr, exit code.
#[track_caller]
fn same_answer(repo: &TestRepo, file: &str) -> Output {
    let expected = repo.run(&["check", "--no-cache", file]);
    let out = repo.run(&["check", file]);
    assert_eq!(out.stdout, expected.stdout, "{file}");
    assert_eq!(out.stderr, expected.stderr, "{file}");
    assert_eq!(out.code, expected.code, "{file}");
    out
}

#[track_caller]
fn reports_link(out: &Output, link: &str) {
    assert_eq!(out.code, Some(2), "{}\n{}", out.stdout, out.stderr);
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(
        all.contains(link) && all.contains("symbolic link"),
        "{link}:\n{all}"
    );
}

#[test]
fn a_link_out_made_after_a_remembered_scan_is_reported_by_the_next_one_file_check() {
    let repo = TestRepo::new();
    repo.file("ringmaster.yaml", MANIFEST)
        .file("schemas/layer.schema.json", "{ \"type\": \"object\" }\n")
        .file("config/team-a/a.yaml", "port: 80\n")
        .file("config/team-b/b.yaml", "port: 81\n");
    repo.commit("one-file link fixture");
    // A scan is remembered only when every directory is older than its
    // margin (2 s): a change in the scan's clock tick could go unseen.
    std::thread::sleep(std::time::Duration::from_millis(2200));
    let memo = repo.path().join(".git/ringmaster/cache/links1");
    for _ in 0..2 {
        let out = same_answer(&repo, "config/team-a/a.yaml");
        assert_eq!(out.code, Some(0), "{}", out.stdout);
        assert!(memo.is_file(), "the scan that found no link is remembered");
    }

    // A link out in another directory than the file checked.
    let leak = repo.path().join("config/team-b/leak.yaml");
    std::os::unix::fs::symlink("/etc/hostname", &leak).expect("symlink");
    for _ in 0..2 {
        reports_link(
            &same_answer(&repo, "config/team-a/a.yaml"),
            "config/team-b/leak.yaml",
        );
    }
    std::fs::remove_file(&leak).expect("remove link");
    assert_eq!(same_answer(&repo, "config/team-a/a.yaml").code, Some(0));

    // Old enough again, remembered again; then a link in a new directory.
    std::thread::sleep(std::time::Duration::from_millis(2200));
    let before = std::fs::read(&memo).expect("memo");
    assert_eq!(same_answer(&repo, "config/team-a/a.yaml").code, Some(0));
    assert_ne!(std::fs::read(&memo).expect("memo"), before, "rewritten");
    repo.dir("config/team-c");
    std::os::unix::fs::symlink("/etc/hostname", repo.path().join("config/team-c/c.yaml"))
        .expect("symlink");
    reports_link(
        &same_answer(&repo, "config/team-a/a.yaml"),
        "config/team-c/c.yaml",
    );
}
