//! Effective schemas per class selector (`effective:` list form) and the
//! scoping of `unknown-override` (`unknown_override.ignore`, open maps),
//! issue 14 item 4.
//!
//! The repos model a Helm deployment repo with several charts (as
//! Wikimedia's helmfile.d does): each chart's `values.yaml` is the first
//! layer of its classes, a cluster file overrides it. Helm deep-merges
//! maps, and a chart declares `resources: {}` / `podAnnotations: {}` for
//! users to fill (`helm create` writes both into a new chart's
//! `values.yaml`). "Values Files",
//! https://helm.sh/docs/chart_template_guide/values_files/: "values.yaml is
//! the default, which can be overridden by [...] a user-supplied values
//! file", so a cluster file filling `resources` sets exactly what Helm
//! renders.

use serde_json::{Value, json};

use crate::support::TestRepo;

/// (rule, class, file, line, message) of each finding: what a reviewer
/// reads.
fn seen(findings: &[Value]) -> Vec<Value> {
    findings
        .iter()
        .map(|f| {
            json!([
                f["rule"],
                f["class"],
                f["file"],
                f["line"],
                f["path"],
                f["message"]
            ])
        })
        .collect()
}

/// Two charts: cert-manager's classes and the web service's classes.
const TWO_CHARTS: &str = "\
version: 1
hierarchy:
  - charts/{chart}/values.yaml
  - clusters/{class}.yaml
host_classes:
  cert-manager-eqiad: { chart: cert-manager }
  cert-manager-codfw: { chart: cert-manager }
  web-eqiad: { chart: web }
  web-codfw: { chart: web }
";

/// cert-manager's values: open at the top level, a webhook timeout of at
/// most 30 seconds.
const CERT_MANAGER_SCHEMA: &str = r#"{
  "type": "object",
  "required": ["replicaCount"],
  "properties": {
    "replicaCount": { "type": "integer" },
    "webhook": {
      "type": "object",
      "properties": { "timeoutSeconds": { "type": "integer", "maximum": 30 } }
    }
  }
}
"#;

/// The web service's values: closed, so cert-manager's keys would fail it.
const WEB_SCHEMA: &str = r#"{
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "port": { "type": "integer", "maximum": 65535 },
    "replicas": { "type": "integer" }
  }
}
"#;

fn two_charts(effective: &str) -> TestRepo {
    let repo = TestRepo::new();
    repo.file("ringmaster.yaml", &format!("{TWO_CHARTS}{effective}"))
        .file("schemas/cert-manager.schema.json", CERT_MANAGER_SCHEMA)
        .file("schemas/web.schema.json", WEB_SCHEMA)
        .file(
            "charts/cert-manager/values.yaml",
            "replicaCount: 1\nwebhook:\n  timeoutSeconds: 10\n",
        )
        .file("charts/web/values.yaml", "port: 80\nreplicas: 2\n")
        .file("clusters/cert-manager-eqiad.yaml", "replicaCount: 2\n")
        .file(
            "clusters/cert-manager-codfw.yaml",
            "replicaCount: 2\nwebhook:\n  timeoutSeconds: 60\n",
        )
        .file("clusters/web-eqiad.yaml", "replicas: 3\n")
        .file("clusters/web-codfw.yaml", "replicas: 3\nport: 70000\n")
        .commit("two charts");
    repo
}

#[test]
fn each_class_is_checked_against_the_schema_of_the_first_selector_that_matches_it() {
    let repo = two_charts(
        "effective:
  - classes: \"cert-manager-*\"
    schema: schemas/cert-manager.schema.json
  - classes: \"*\"
    schema: schemas/web.schema.json
",
    );
    let out = repo.run(&["check", "--format", "json"]);
    out.assert_code(1);
    // cert-manager's classes are never checked against the web schema
    // (which rejects `replicaCount` and `webhook`); each violation is
    // reported for its own class only, at the leaf's file and line.
    assert_eq!(
        seen(&out.findings()),
        vec![
            json!([
                "schema",
                "cert-manager-codfw",
                "clusters/cert-manager-codfw.yaml",
                3,
                "/webhook/timeoutSeconds",
                "60 is greater than the maximum of 30"
            ]),
            json!([
                "schema",
                "web-codfw",
                "clusters/web-codfw.yaml",
                2,
                "/port",
                "70000 is greater than the maximum of 65535"
            ]),
        ]
    );
}

#[test]
fn a_class_no_selector_matches_has_no_effective_schema() {
    let repo = two_charts(
        "effective:
  - classes: \"web-*\"
    schema: schemas/web.schema.json
",
    );
    let out = repo.run(&["check", "--format", "json"]);
    out.assert_code(1);
    let findings = seen(&out.findings());
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0][1], "web-codfw");
}

#[test]
fn the_map_form_still_checks_every_class_against_one_schema() {
    let repo = two_charts(
        "effective:
  schema: schemas/web.schema.json
",
    );
    let out = repo.run(&["check", "--format", "json"]);
    out.assert_code(1);
    let findings = seen(&out.findings());
    // Every class meets the one schema: cert-manager's keys are not in it.
    let classes: std::collections::BTreeSet<&str> =
        findings.iter().filter_map(|f| f[1].as_str()).collect();
    assert_eq!(
        classes.into_iter().collect::<Vec<_>>(),
        ["cert-manager-codfw", "cert-manager-eqiad", "web-codfw"],
        "{findings:#?}"
    );
    assert!(
        findings.iter().any(|f| f[2] == "clusters/web-codfw.yaml"
            && f[3] == 2
            && f[5] == "70000 is greater than the maximum of 65535"),
        "{findings:#?}"
    );
}

/// Three layers; the middle one is vendored data (Hiera keeps defaults in
/// module data, which the environment's `common.yaml` does not repeat).
const SCOPED: &str = "\
version: 1
hierarchy:
  - config/defaults.yaml
  - vendor/{module}.yaml
  - config/class/{class}.yaml
host_classes:
  web1: { module: nginx }
unknown_override:
  ignore:
    - files: \"vendor/**\"
    - keys: /podAnnotations
    - keys: profile.settings
";

#[test]
fn unknown_override_is_ignored_in_matching_files_and_under_matching_prefixes_only() {
    let repo = TestRepo::new();
    repo.file("ringmaster.yaml", SCOPED)
        .file(
            "config/defaults.yaml",
            "name: base\nprofile:\n  name: web\n",
        )
        .file("vendor/nginx.yaml", "nginx_workers: 4\nname: nginx\n")
        .file(
            "config/class/web1.yaml",
            "\
podAnnotations:
  team: web
profile:
  settings:
    tls: true
  sttings: {}
podAnnotationsExtra: 1
nginx_wrkers: 8
",
        )
        .commit("scoped");
    let out = repo.run(&["check", "--format", "json"]);
    out.assert_code(0);
    // Still reported: a key outside every prefix (a prefix matches whole
    // keys: `/podAnnotations` does not cover `podAnnotationsExtra`), set
    // in a file the glob does not match.
    assert_eq!(
        seen(&out.findings_of("unknown-override")),
        vec![
            json!([
                "unknown-override",
                "web1",
                "config/class/web1.yaml",
                6,
                "/profile/sttings",
                "`profile.sttings` is set here but no earlier layer defines it, so it overrides nothing"
            ]),
            json!([
                "unknown-override",
                "web1",
                "config/class/web1.yaml",
                7,
                "/podAnnotationsExtra",
                "`podAnnotationsExtra` is set here but no earlier layer defines it, so it overrides nothing"
            ]),
            json!([
                "unknown-override",
                "web1",
                "config/class/web1.yaml",
                8,
                "/nginx_wrkers",
                "`nginx_wrkers` is set here but no earlier layer defines it, so it overrides nothing"
            ]),
        ]
    );
}

#[test]
fn keys_under_a_map_the_first_layer_leaves_empty_are_not_unknown_overrides() {
    let repo = TestRepo::new();
    repo.file(
        "ringmaster.yaml",
        "\
version: 1
hierarchy:
  - charts/web/values.yaml
  - clusters/{site}.yaml
  - clusters/{class}.yaml
host_classes:
  web-eqiad: { site: eqiad }
",
    )
    // A chart's values.yaml, as `helm create` writes it.
    .file(
        "charts/web/values.yaml",
        "\
replicaCount: 1
resources: {}
podAnnotations: {}
nodeSelector:
  disk: hdd
",
    )
    .file(
        "clusters/eqiad.yaml",
        "\
resources:
  limits:
    cpu: 100m
podAnnotations:
  team: web
  gone: !unset
nodeSelector:
  zone: a
",
    )
    .file(
        "clusters/web-eqiad.yaml",
        "\
resources:
  requests:
    memory: 128Mi
",
    )
    .commit("open maps");
    let out = repo.run(&["check", "--format", "json"]);
    out.assert_code(0);
    // Filled in: `resources` (twice, by two later layers) and
    // `podAnnotations`. Reported: a key added to a map the chart did not
    // leave empty, and a knock-out of a key nobody set (it removes nothing).
    assert_eq!(
        seen(&out.findings_of("unknown-override")),
        vec![
            json!([
                "unknown-override",
                "web-eqiad",
                "clusters/eqiad.yaml",
                6,
                "/podAnnotations/gone",
                "`podAnnotations.gone` is knocked out with !unset, but no earlier layer sets it"
            ]),
            json!([
                "unknown-override",
                "web-eqiad",
                "clusters/eqiad.yaml",
                8,
                "/nodeSelector/zone",
                "`nodeSelector.zone` is set here but no earlier layer defines it, so it overrides nothing"
            ]),
        ]
    );
    // The merged values are Helm's: the chart's maps filled in.
    let render = repo.run(&["render", "--class", "web-eqiad", "--format", "json"]);
    render.assert_code(0);
    assert_eq!(
        render.json(),
        json!({
            "replicaCount": 1,
            "resources": { "limits": { "cpu": "100m" }, "requests": { "memory": "128Mi" } },
            "podAnnotations": { "team": "web" },
            "nodeSelector": { "disk": "hdd", "zone": "a" }
        })
    );
}

#[test]
fn bad_class_globs_key_prefixes_and_missing_schemas_are_manifest_findings_at_their_line() {
    let repo = TestRepo::new();
    repo.file(
        "ringmaster.yaml",
        "\
version: 1
hierarchy:
  - config/defaults.yaml
host_classes:
  web1: {}
effective:
  - classes: \"[web\"
    schema: schemas/web.schema.json
  - classes: \"*\"
    schema: schemas/missing.schema.json
unknown_override:
  ignore:
    - files: \"vendor/[x\"
    - keys: /a~2b
",
    )
    .file("config/defaults.yaml", "port: 80\n")
    .file("schemas/web.schema.json", WEB_SCHEMA)
    .commit("bad selectors");
    let out = repo.run(&["check", "--format", "json"]);
    out.assert_code(1);
    let manifest: Vec<(u64, String, String)> = out
        .findings_of("manifest")
        .iter()
        .map(|f| {
            (
                f["line"].as_u64().unwrap_or_default(),
                f["path"].as_str().unwrap_or_default().to_owned(),
                f["message"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    insta::assert_debug_snapshot!("effective_scopes_bad_selectors", manifest);
}

#[test]
fn an_effective_schema_outside_the_repo_is_refused_at_its_line_in_the_list_form() {
    let repo = TestRepo::new();
    repo.file(
        "ringmaster.yaml",
        &format!(
            "{TWO_CHARTS}effective:
  - classes: \"web-*\"
    schema: schemas/web.schema.json
  - classes: \"*\"
    schema: ../outside/schema.json
"
        ),
    )
    .file("schemas/web.schema.json", WEB_SCHEMA)
    .file("charts/web/values.yaml", "port: 80\n")
    .commit("schema outside");
    let out = repo.run(&["check", "--format", "json"]);
    out.assert_code(2);
    assert_eq!(
        seen(&out.findings()),
        vec![json!([
            "manifest",
            null,
            "ringmaster.yaml",
            14,
            "/effective/1/schema",
            "`effective.schema` path `../outside/schema.json` climbs out of the repository with `..`; ringmaster never reads files outside the repo"
        ])]
    );
    let out = repo.run(&["render", "--class", "web-eqiad"]);
    out.assert_code(2);
    out.assert_stderr_has("ringmaster.yaml:14:13");
}

#[test]
fn an_effective_schema_linked_outside_the_repo_is_refused_at_its_line_in_the_list_form() {
    let outside = tempfile::tempdir().expect("temp dir");
    let secret = outside.path().join("schema.json");
    std::fs::write(&secret, "{\"description\": \"OUTSIDE-c0ffee\"}").expect("outside schema");
    let repo = TestRepo::new();
    repo.file(
        "ringmaster.yaml",
        &format!(
            "{TWO_CHARTS}effective:
  - classes: \"web-*\"
    schema: schemas/web.schema.json
  - classes: \"*\"
    schema: schemas/linked.schema.json
"
        ),
    )
    .file("schemas/web.schema.json", WEB_SCHEMA)
    .file("charts/web/values.yaml", "port: 80\n");
    std::os::unix::fs::symlink(&secret, repo.path().join("schemas/linked.schema.json"))
        .expect("symlink");
    repo.commit("schema linked outside");
    let out = repo.run(&["check", "--format", "json"]);
    out.assert_code(2);
    assert!(
        !out.all_output().contains("OUTSIDE-c0ffee"),
        "{}",
        out.all_output()
    );
    assert_eq!(
        seen(&out.findings()),
        vec![json!([
            "manifest",
            null,
            "ringmaster.yaml",
            14,
            "/effective/1/schema",
            "`effective.schema` path `schemas/linked.schema.json` leads outside the repository through a symbolic link; ringmaster never reads files outside the repo"
        ])]
    );
}

/// A key prefix naming a key that holds dots (a Kubernetes label) is written
/// as everywhere else, quoted: the keys under it are ignored, its siblings
/// are still reported.
#[test]
fn a_quoted_key_prefix_ignores_keys_under_a_key_holding_dots() {
    let repo = TestRepo::new();
    repo.file(
        "ringmaster.yaml",
        "version: 1
hierarchy:
  - defaults.yaml
  - class/{class}.yaml
host_classes:
  web1: {}
unknown_override:
  ignore:
    - keys: 'labels.\"app.kubernetes.io/name\"'
",
    )
    .file(
        "defaults.yaml",
        "labels:\n  app.kubernetes.io/name: {a: 1}\n  team: x\n",
    )
    .file(
        "class/web1.yaml",
        "labels:\n  app.kubernetes.io/name:\n    extra: 1\n  app.kubernetes.io/part-of: shop\n",
    )
    .commit("labels");
    let out = repo.run(&["check", "--format", "json"]);
    out.assert_code(0);
    let paths: Vec<Value> = seen(&out.findings_of("unknown-override"))
        .into_iter()
        .map(|f| f[4].clone())
        .collect();
    assert_eq!(paths, [json!("/labels/app.kubernetes.io~1part-of")]);
}
