//! `ringmaster import helm`: a chart's values.yaml, then value files in
//! `helm install -f` order. Helm has no Debian package, so the expected
//! values are written out from Helm's documented rules (helm.sh/docs,
//! "Values Files" and "Chart Template Guide: Values Files"; the merge is
//! `pkg/chartutil/coalesce.go`): maps merge key by key, lists and scalars
//! replace, an override's `null` removes the key it overrides, and the
//! chart's `values.schema.json` checks the final values.

use serde_json::json;

use crate::support::TestRepo;

fn fixture() -> TestRepo {
    TestRepo::from_fixture("import/helm")
}

fn render(repo: &TestRepo, class: &str) -> serde_json::Value {
    repo.run(&["render", "--class", class, "--format", "json"])
        .expect_code(0)
        .json()
}

#[test]
fn chart_values_then_value_files_coalesce_as_helm_does() {
    let repo = fixture();
    let out = repo
        .run(&[
            "import",
            "helm",
            "--chart",
            "web",
            "--values",
            "envs/common.yaml",
            "--values",
            "envs/prod.yaml",
        ])
        .expect_code(0);
    assert!(
        out.stdout
            .contains("ringmaster.yaml from Helm: 1 host class")
    );
    // `helm template web -f envs/common.yaml -f envs/prod.yaml`, by Helm's rules:
    // the -f files merge (later wins), then coalesce over the chart's defaults.
    assert_eq!(
        render(&repo, "web"),
        json!({
            "replicaCount": 5,
            // A map merges key by key: the chart's repository and pullPolicy stay.
            "image": {"repository": "nginx", "tag": "1.27", "pullPolicy": "IfNotPresent"},
            // `service: null` removed the chart's service.
            "podAnnotations": {"team": "web"},
            // `limits: null` removed the limits; the emptied map stays.
            "resources": {},
            // A list replaces, never appends.
            "tolerations": [{"key": "b"}, {"key": "c"}],
            // go-yaml v2 reads `yes` as true (YAML 1.1).
            "ingress": {"enabled": true, "hosts": ["www.example.com"]},
            "nodeSelector": {"zone": "eu-west-1a"}
        })
    );
    repo.run(&["check"]).expect_code(0);
}

#[test]
fn class_only_value_files_follow_the_shared_ones() {
    let repo = fixture();
    repo.run(&[
        "import",
        "helm",
        "--chart",
        "web",
        "--values",
        "envs/common.yaml",
        "--class",
        "prod=envs/prod.yaml",
        "--class",
        "staging",
    ])
    .expect_code(0);
    let prod = render(&repo, "prod");
    let staging = render(&repo, "staging");
    assert_eq!(prod["replicaCount"], 5);
    assert_eq!(prod.get("service"), None);
    // staging has the shared file only: the chart's service and selector stay.
    assert_eq!(staging["replicaCount"], 1);
    assert_eq!(staging["service"], json!({"type": "ClusterIP", "port": 80}));
    assert_eq!(staging["nodeSelector"], json!({"disktype": "ssd"}));
    assert_eq!(staging["image"]["tag"], "1.27");
    // Provenance names the class's own file.
    let explained = repo
        .run(&[
            "explain",
            "--class",
            "prod",
            "replicaCount",
            "--format",
            "json",
        ])
        .expect_code(0)
        .json();
    assert_eq!(explained["source"], "envs/prod.yaml:1");
}

#[test]
fn the_charts_schema_checks_every_class() {
    let repo = fixture();
    repo.file(
        "envs/bad.yaml",
        "replicaCount: 0\nimage:\n  repository: 7\n",
    );
    repo.run(&[
        "import",
        "helm",
        "--chart",
        "web",
        "--values",
        "envs/bad.yaml",
        "--class",
        "bad",
    ])
    .expect_code(0);
    let out = repo.run(&["check", "--format", "json"]).expect_code(1);
    let paths: Vec<String> = out
        .findings()
        .iter()
        .filter_map(|f| f["path"].as_str().map(str::to_owned))
        .collect();
    assert!(
        paths.contains(&"/replicaCount".to_owned())
            && paths.contains(&"/image/repository".to_owned()),
        "{paths:?}"
    );
}

#[test]
fn import_never_overwrites_without_force_and_is_idempotent() {
    let repo = fixture();
    let args = [
        "import",
        "helm",
        "--chart",
        "web",
        "--values",
        "envs/prod.yaml",
    ];
    repo.run(&args).expect_code(0);
    let first = repo.read("ringmaster.yaml");
    let refused = repo.run(&args).expect_code(2);
    assert!(refused.stderr.contains("already exists; pass --force"));
    assert_eq!(repo.read("ringmaster.yaml"), first);
    let mut forced = args.to_vec();
    forced.push("--force");
    let out = repo.run(&forced).expect_code(0);
    assert!(out.stdout.starts_with("replaced "));
    assert_eq!(
        repo.read("ringmaster.yaml"),
        first,
        "same input, same manifest"
    );
}

#[test]
fn value_files_outside_the_repo_and_bad_class_names_are_refused() {
    let repo = fixture();
    let outside = tempfile::NamedTempFile::new().expect("temp file");
    let outside = outside.path().to_string_lossy().into_owned();
    let out = repo
        .run(&["import", "helm", "--chart", "web", "--values", &outside])
        .expect_code(2);
    assert!(out.stderr.contains("is outside"));
    let out = repo
        .run(&["import", "helm", "--chart", "web", "--class", "../x"])
        .expect_code(2);
    assert!(out.stderr.contains("a class name is letters"));
    assert!(!repo.path().join("ringmaster.yaml").exists());
}
