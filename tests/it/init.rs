//! `ringmaster init` and `ringmaster audit verify`.

use crate::support::TestRepo;

#[test]
fn init_scaffolds_a_repo_that_check_and_render_accept() {
    let repo = TestRepo::new();
    let out = repo.run(&["init"]).expect_code(0);
    for file in [
        "ringmaster.yaml",
        "config/defaults.yaml",
        "config/role/app.yaml",
        "config/ring/dogfood.yaml",
        "config/class/app-example.yaml",
        "schemas/layer.schema.json",
        "flags/example-flag.yaml",
        "rings/dogfood.yaml",
        "rings/single-tenant.yaml",
        "rings/multi-tenant.yaml",
    ] {
        assert!(
            repo.path().join(file).is_file(),
            "{file} missing:\n{}",
            out.stdout
        );
        out.assert_stdout_has(&format!("created  {file}"));
    }
    // The default rings are the project's own, byte for byte.
    let shipped = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rings/dogfood.yaml"),
    )
    .unwrap();
    assert_eq!(repo.read("rings/dogfood.yaml"), shipped);

    let check = repo.run(&["check", "--format", "json"]).expect_code(0);
    assert_eq!(
        check.findings(),
        Vec::<serde_json::Value>::new(),
        "{}",
        check.stdout
    );
    assert_eq!(check.json()["summary"]["classes"], 3);

    let render = repo
        .run(&["render", "--class", "app-dogfood", "--format", "json"])
        .expect_code(0);
    let config = render.json();
    assert_eq!(config["server"]["max_connections"], 1024);
    assert_eq!(config["server"]["port"], 8080);
    assert_eq!(config["flags"]["example-flag"], true);
    assert_eq!(config["logging"]["level"], "debug");
    let example = repo.run(&["render", "--class", "app-example", "--format", "json"]);
    assert_eq!(example.json()["server"]["max_connections"], 2048);
    let shared = repo.run(&["render", "--class", "app-shared", "--format", "json"]);
    assert_eq!(shared.json()["flags"]["example-flag"], false);
}

#[test]
fn init_never_overwrites() {
    let repo = TestRepo::new();
    repo.file("config/defaults.yaml", "mine: true\n");
    let out = repo.run(&["init"]).expect_code(0);
    out.assert_stdout_has("kept     config/defaults.yaml");
    assert_eq!(repo.read("config/defaults.yaml"), "mine: true\n");

    let again = repo.run(&["init"]).expect_code(2);
    again.assert_stderr_has("already has a ringmaster.yaml");
}

#[test]
fn audit_verify_on_a_repo_without_rollouts_is_intact() {
    let repo = TestRepo::standard();
    let audit = repo.run(&["audit", "verify", "--format", "json"]);
    let report = audit.expect_code(0).json();
    assert_eq!(report["intact"], true);
    assert_eq!(report["entries"], 0);
}

#[test]
fn audit_verify_names_a_tampered_entry() {
    let repo = TestRepo::standard();
    let git_dir = repo.path().join(".git");
    use ringmaster::rollout::journal::{JournalStore as _, Stamp};
    let journal = ringmaster::rollout::journal::Journal::at(&git_dir);
    for n in 1..=3 {
        journal
            .append(
                Stamp::new(
                    "2026-11-22T10:00:00Z",
                    "alice@example.com",
                    "r-20261122-0001",
                ),
                serde_json::json!({"kind": "note", "n": n}),
            )
            .unwrap();
    }
    repo.run(&["audit", "verify"]).assert_code(0);

    let text = std::fs::read_to_string(journal.path()).unwrap();
    std::fs::write(
        journal.path(),
        text.replacen("alice@example.com", "mallory@example.com", 1),
    )
    .unwrap();
    let out = repo.run(&["audit", "verify"]).expect_code(1);
    out.assert_stdout_has(":1: entry 1: edited");
    out.assert_stdout_has("TAMPERED");

    let json = repo.run(&["audit", "verify", "--format", "json"]).json();
    assert_eq!(json["intact"], false);
    assert_eq!(json["problems"][0]["seq"], 1);
    assert_eq!(json["problems"][0]["line"], 1);
}
