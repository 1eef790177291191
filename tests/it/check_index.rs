//! `check` with the cache takes a tracked file's blob id from the git index
//! when its stat data match and the entry is not racy, as git does, and
//! then does not read the file: a file whose stat data changed is hashed
//! (and still answers from the cache when its bytes did not change); a racy
//! entry is hashed; nothing is taken from the index where git may convert
//! bytes (autocrlf, a filter or eol attribute). To see which way a file
//! went, some tests plant an index entry that names other bytes than the
//! file holds: trusted, it answers for those bytes; hashed, for the file's.

use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::support::{Output, TestRepo};

const MANIFEST: &str = "\
version: 1
schemas:
  - files: \"config/**/*.yaml\"
    schema: schemas/app.schema.json
";

const SCHEMA: &str = r#"{ "type": "object", "properties": { "name": { "type": "string" } } }
"#;

/// `name: a` checks clean; `name: 7` (same size) breaks the schema.
const CLEAN: &str = "name: a\n";
const BROKEN: &str = "name: 7\n";
const PLANTED: &str = "config/a.yaml";

fn repo() -> TestRepo {
    let repo = TestRepo::new();
    repo.file("ringmaster.yaml", MANIFEST)
        .file("schemas/app.schema.json", SCHEMA)
        .file(PLANTED, CLEAN)
        .file("config/b.yaml", "name: b\n")
        .file("config/c.yaml", "name: c\n");
    repo.commit("index fixture");
    repo
}

fn set_mtime(path: &Path, at: SystemTime) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .expect("open")
        .set_modified(at)
        .expect("set mtime");
}

/// Every tracked file's mtime a minute back, then the index refreshed: no
/// entry is racy any more (as in a checkout a while ago).
fn settle(repo: &TestRepo) {
    let past = SystemTime::now() - Duration::from_secs(60);
    for file in repo.git(&["ls-files"]).lines() {
        set_mtime(&repo.path().join(file), past);
    }
    repo.git(&["update-index", "-q", "--refresh"]);
}

/// `(hits, lookups, hits on files not read)` from `-v`.
#[track_caller]
fn stats(out: &Output) -> (usize, usize, usize) {
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter_map(|l| l.strip_prefix("cache: "))
        .collect();
    let number = |line: &str, i: usize| -> usize {
        line.split_whitespace()
            .nth(i)
            .and_then(|w| w.parse().ok())
            .unwrap_or_else(|| panic!("no number in `{line}`:\n{}", out.stderr))
    };
    assert_eq!(lines.len(), 2, "{}", out.stderr);
    assert!(lines[1].ends_with("of them not read (the git index vouches they are unchanged)"));
    (
        number(lines[0], 0),
        number(lines[0], 2),
        number(lines[1], 0),
    )
}

fn warm(repo: &TestRepo) -> Output {
    repo.run(&["-v", "check", "--format", "json"])
}

fn uncached(repo: &TestRepo) -> Output {
    repo.run(&["check", "--no-cache", "--format", "json"])
}

#[test]
fn an_unchanged_tracked_file_is_not_read_and_one_touched_is_hashed() {
    let repo = repo();
    settle(&repo);
    let expected = uncached(&repo);
    expected.assert_code(0);
    let cold = warm(&repo);
    assert_eq!(cold.stdout, expected.stdout);
    assert_eq!(stats(&cold).0, 0);
    // The three config files and the schema: no findings, not layers.
    let again = warm(&repo);
    assert_eq!(again.stdout, expected.stdout);
    let (hits, lookups, unread) = stats(&again);
    assert_eq!(hits, lookups);
    assert_eq!(unread, 4, "{}", again.stderr);

    // New stat data, the same bytes: hashed, and still the cache's answer.
    set_mtime(
        &repo.path().join("config/b.yaml"),
        SystemTime::now() - Duration::from_secs(5),
    );
    let touched = warm(&repo);
    assert_eq!(touched.stdout, expected.stdout);
    assert_eq!(stats(&touched), (hits, lookups, 3));
    assert_eq!(repo.git(&["status", "--porcelain"]), "");
}

/// Plants an index entry for [`PLANTED`] that names the clean bytes while
/// the file holds the broken ones with the same size, its stat data those
/// of the file, then gives the index file an mtime `index_after` the
/// second the file was written in.
fn plant(repo: &TestRepo, index_after: Duration) {
    let file = repo.path().join(PLANTED);
    std::fs::write(&file, BROKEN).expect("write");
    // Old enough that libgit2 does not smudge the entry when it writes.
    let file_mtime = SystemTime::now() - Duration::from_secs(30);
    set_mtime(&file, file_mtime);
    let git = git2::Repository::open(repo.path()).expect("open repo");
    let mut index = git.index().expect("index");
    let mut entry = index
        .get_path(Path::new(PLANTED), 0)
        .expect("a tracked file");
    let clean = git2::Oid::hash_object(git2::ObjectType::Blob, CLEAN.as_bytes()).expect("oid");
    assert_eq!(entry.id, clean, "the entry names the clean bytes");
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(&file).expect("lstat");
    entry.mtime = git2::IndexTime::new(meta.mtime() as i32, meta.mtime_nsec() as u32);
    entry.ctime = git2::IndexTime::new(meta.ctime() as i32, meta.ctime_nsec() as u32);
    entry.dev = meta.dev() as u32;
    entry.ino = meta.ino() as u32;
    entry.uid = meta.uid();
    entry.gid = meta.gid();
    entry.file_size = meta.size() as u32;
    index.add(&entry).expect("add");
    index.write().expect("write index");
    let index_path = repo.path().join(".git/index");
    let planted = index.get_path(Path::new(PLANTED), 0).expect("planted");
    assert_eq!(planted.file_size as usize, BROKEN.len(), "not smudged");
    set_mtime(&index_path, second_of(&file) + index_after);
}

/// The start of the second `path` was last modified in.
fn second_of(path: &Path) -> SystemTime {
    let mtime = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .expect("mtime");
    let secs = mtime
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

#[test]
fn a_racy_entry_is_hashed_and_the_answer_is_the_files() {
    let repo = repo();
    settle(&repo);
    warm(&repo).assert_code(0);

    // The index written in the same second as the file changed: racy.
    plant(&repo, Duration::from_millis(999));
    let racy = warm(&repo);
    racy.assert_code(1);
    assert_eq!(racy.stdout, uncached(&repo).stdout);
    assert!(
        racy.findings().iter().any(|f| f["file"] == PLANTED),
        "{}",
        racy.stdout
    );
    assert_eq!(stats(&racy).2, 3, "{}", racy.stderr);

    // The control: the same entry with the index a second later is trusted
    // as git trusts it (`git status` calls the file unchanged), so the file
    // is not read and the answer is the one for the bytes the entry names.
    plant(&repo, Duration::from_secs(1));
    assert_eq!(repo.git(&["status", "--porcelain", "--", PLANTED]), "");
    let trusted = warm(&repo);
    trusted.assert_code(0);
    assert_eq!(stats(&trusted).2, 4, "{}", trusted.stderr);
}

#[test]
fn where_git_may_convert_bytes_every_file_is_hashed() {
    type Setup = fn(&TestRepo);
    let setups: [(&str, Setup); 4] = [
        ("core.autocrlf", |r| {
            r.git(&["config", "core.autocrlf", "input"]);
        }),
        ("a committed .gitattributes", |r| {
            r.file(".gitattributes", "*.yaml text eol=lf\n");
            r.commit("attributes");
        }),
        ("info/attributes", |r| {
            std::fs::create_dir_all(r.path().join(".git/info")).expect("info dir");
            std::fs::write(r.path().join(".git/info/attributes"), "*.yaml filter=x\n")
                .expect("attributes");
        }),
        ("an untracked .gitattributes in a subdirectory", |r| {
            r.file("config/.gitattributes", "[attr]mine ident\n*.yaml mine\n");
        }),
    ];
    for (what, setup) in setups {
        let repo = repo();
        setup(&repo);
        settle(&repo);
        warm(&repo).assert_code(0);
        plant(&repo, Duration::from_secs(2));
        let out = warm(&repo);
        out.assert_code(1);
        assert_eq!(out.stdout, uncached(&repo).stdout, "{what}");
        assert_eq!(stats(&out).2, 0, "{what}: {}", out.stderr);
    }
    // Attributes that convert nothing leave the index in use.
    let repo = repo();
    repo.file(".gitattributes", "*.png binary\n*.rs diff=rust\n");
    repo.commit("attributes");
    settle(&repo);
    warm(&repo).assert_code(0);
    assert_eq!(stats(&warm(&repo)).2, 4);
}

/// A check of one file (the pre-commit case) no longer walks the whole tree
/// unless a symbolic link lies somewhere under it; with one, the link out
/// where ringmaster looks is still named, as a whole-tree check names it.
#[test]
fn a_one_file_check_still_names_a_link_out_where_ringmaster_looks() {
    let repo = repo();
    let one = repo.run(&["check", "--format", "json", PLANTED]);
    one.assert_code(0);
    let outside = tempfile::tempdir().expect("tempdir");
    std::fs::write(outside.path().join("secret.yaml"), "name: x\n").expect("write");
    std::fs::create_dir_all(repo.path().join("config/deep/er")).expect("dirs");
    std::os::unix::fs::symlink(
        outside.path().join("secret.yaml"),
        repo.path().join("config/deep/er/linked.yaml"),
    )
    .expect("symlink");
    let whole = repo.run(&["check", "--format", "json"]);
    whole.assert_code(2);
    let one = repo.run(&["check", "--format", "json", PLANTED]);
    one.assert_code(2);
    assert_eq!(one.stdout, whole.stdout);
    assert!(
        one.stdout.contains("config/deep/er/linked.yaml"),
        "{}",
        one.stdout
    );
}
