//! Key paths without ambiguity (issue 14, SPEC §8): keys that hold dots
//! (`net.ipv4.conf.all.forwarding` under `sysctl`, Kubernetes' label
//! `app.kubernetes.io/name`) are named by `explain` in the dotted form with
//! the key quoted, as a JSON Pointer, or plainly dotted when that names one
//! key; `diff` and `render --provenance` print the quoted form and carry the
//! JSON Pointer beside it; an unknown key path is exit 2 with a suggestion.
//! `render --all` prints every class as one JSON line.

use serde_json::{Value, json};

use crate::support::{Output, TestRepo, changes_by_class, items, redactions, text};

const MANIFEST: &str = "\
version: 1
hierarchy:
  - config/defaults.yaml
  - config/role/{role}.yaml
host_classes:
  web: { role: web }
  router: { role: router }
  api: { role: api }
";

const DEFAULTS: &str = "\
sysctl:
  net.ipv4.conf.all.forwarding: 0
  vm.swappiness: 60
labels:
  app.kubernetes.io/name: shop
  tier: frontend
server:
  port: 80
";

const ROUTER: &str = "\
sysctl:
  net.ipv4.conf.all.forwarding: 1
labels:
  tier: !unset
";

const WEB: &str = "\
labels:
  app.kubernetes.io/name: storefront
";

/// Three classes; `router` overrides a sysctl key and knocks `labels.tier`
/// out, `web` overrides the Kubernetes label, `api` has no role file.
fn repo() -> TestRepo {
    TestRepo::committed(
        &[
            ("ringmaster.yaml", MANIFEST),
            ("config/defaults.yaml", DEFAULTS),
            ("config/role/router.yaml", ROUTER),
            ("config/role/web.yaml", WEB),
        ],
        "dotted keys",
    )
}

fn explain(repo: &TestRepo, class: &str, key: &str) -> Output {
    repo.run(&["explain", "--class", class, key, "--format", "json"])
}

/// `(action, line)` of each layer of an explanation.
fn actions(e: &Value) -> Vec<(String, Option<u64>)> {
    items(e, "layers")
        .iter()
        .map(|s| (text(s, "action"), s["line"].as_u64()))
        .collect()
}

#[test]
fn explain_finds_a_key_holding_dots_written_quoted_as_a_pointer_or_plainly_dotted() {
    let repo = repo();
    for written in [
        r#"sysctl."net.ipv4.conf.all.forwarding""#,
        "/sysctl/net.ipv4.conf.all.forwarding",
        "sysctl.net.ipv4.conf.all.forwarding",
    ] {
        let e = explain(&repo, "router", written).expect_code(0).json();
        assert_eq!(
            (&e["key"], &e["pointer"]),
            (
                &json!(r#"sysctl."net.ipv4.conf.all.forwarding""#),
                &json!("/sysctl/net.ipv4.conf.all.forwarding")
            ),
            "{written}"
        );
        assert_eq!(
            actions(&e),
            [("set".into(), Some(2)), ("overrode".into(), Some(2))],
            "{written}"
        );
        assert_eq!(
            (&e["final"], &e["source"]),
            (&json!(1), &json!("config/role/router.yaml:2")),
            "{written}"
        );
    }
    // A `/` inside a key is `~1` in a pointer.
    for written in [
        "/labels/app.kubernetes.io~1name",
        r#"labels."app.kubernetes.io/name""#,
        "labels.app.kubernetes.io/name",
    ] {
        let e = explain(&repo, "web", written).expect_code(0).json();
        assert_eq!(e["pointer"], "/labels/app.kubernetes.io~1name", "{written}");
        assert_eq!(
            (&e["final"], &e["source"]),
            (&json!("storefront"), &json!("config/role/web.yaml:2")),
            "{written}"
        );
    }
    let human = repo.run(&[
        "explain",
        "--class",
        "router",
        "/sysctl/net.ipv4.conf.all.forwarding",
    ]);
    insta::assert_snapshot!(human.expect_code(0).stdout);
}

#[test]
fn a_plain_dotted_path_two_keys_print_as_is_refused_naming_both() {
    let repo = TestRepo::new();
    repo.file(
        "ringmaster.yaml",
        "version: 1\nhierarchy:\n  - a.yaml\nhost_classes:\n  k: {}\n",
    )
    .file("a.yaml", "a:\n  b.c: 1\na.b:\n  c: 2\n")
    .commit("two keys, one plain spelling");
    let out = explain(&repo, "k", "a.b.c").expect_code(2);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    assert!(
        out.stderr.contains(r#"`a."b.c"` or `"a.b".c`"#),
        "{}",
        out.stderr
    );
    for (written, value) in [(r#"a."b.c""#, 1), (r#""a.b".c"#, 2), ("/a.b/c", 2)] {
        let e = explain(&repo, "k", written).expect_code(0).json();
        assert_eq!(e["final"], value, "{written}: {e}");
    }
}

#[test]
fn an_unknown_key_path_is_exit_2_with_a_suggestion_but_a_knocked_out_key_is_explained() {
    let repo = repo();
    for (written, suggestion) in [
        ("server.prot", "did you mean `server.port`?"),
        (
            "/sysctl/vm.swapiness",
            "did you mean `/sysctl/vm.swappiness`?",
        ),
        (
            "sysctl.net.ipv4.conf.all.fowarding",
            r#"did you mean `sysctl."net.ipv4.conf.all.forwarding"`?"#,
        ),
        (
            r#"sysctl."vm.swapiness""#,
            r#"did you mean `sysctl."vm.swappiness"`?"#,
        ),
    ] {
        let out = explain(&repo, "router", written).expect_code(2);
        assert!(out.stdout.is_empty(), "{written}: {}", out.stdout);
        assert!(
            out.stderr
                .contains(&format!("`{written}` is not a key of host class `router`")),
            "{written}: {}",
            out.stderr
        );
        assert!(out.stderr.contains(suggestion), "{written}: {}", out.stderr);
    }
    // Malformed: said as such, with the forms that work.
    for written in ["server..port", r#"sysctl."vm.swappiness"#, "/server/~2"] {
        let out = explain(&repo, "router", written).expect_code(2);
        assert!(
            out.stderr.contains("is not a key path")
                && out.stderr.contains("/sysctl/net.ipv4.ip_forward"),
            "{written}: {}",
            out.stderr
        );
    }
    // Set, then knocked out: explained as before, with no final value.
    let e = explain(&repo, "router", "labels.tier")
        .expect_code(0)
        .json();
    assert_eq!(
        actions(&e),
        [("set".into(), Some(6)), ("knocked-out".into(), Some(4))]
    );
    assert!(e["final"].is_null() && e["source"].is_null(), "{e}");
}

/// `diff` between the commit and an edit touching both dotted keys.
fn edited() -> TestRepo {
    let repo = repo();
    repo.file(
        "config/role/router.yaml",
        "sysctl:\n  net.ipv4.conf.all.forwarding: 2\nlabels:\n  tier: !unset\n",
    )
    .file(
        "config/role/web.yaml",
        "labels:\n  app.kubernetes.io/name: storefront-v2\n",
    );
    repo
}

#[test]
fn diff_names_keys_holding_dots_quoted_and_with_a_pointer_in_json() {
    let repo = edited();
    let out = repo
        .run(&["diff", "--format", "json"])
        .expect_code(0)
        .json();
    let changes: Vec<(String, Value)> = changes_by_class(&out)
        .into_iter()
        .flat_map(|(class, changes)| changes.into_iter().map(move |ch| (class.clone(), ch)))
        .collect();
    assert_eq!(
        changes,
        [
            (
                "router".to_owned(),
                json!({"path": r#"sysctl."net.ipv4.conf.all.forwarding""#,
                       "pointer": "/sysctl/net.ipv4.conf.all.forwarding",
                       "op": "changed", "old": 1, "new": 2,
                       "source": "config/role/router.yaml:2"})
            ),
            (
                "web".to_owned(),
                json!({"path": r#"labels."app.kubernetes.io/name""#,
                       "pointer": "/labels/app.kubernetes.io~1name",
                       "op": "changed", "old": "storefront", "new": "storefront-v2",
                       "source": "config/role/web.yaml:2"})
            ),
        ]
    );
}

#[test]
fn diff_human_and_markdown_print_the_quoted_key_path() {
    let repo = edited();
    let human = repo.run(&["diff"]).expect_code(0).stdout;
    let markdown = repo
        .run(&["diff", "--format", "markdown"])
        .expect_code(0)
        .stdout;
    insta::with_settings!({filters => redactions()}, {
        insta::assert_snapshot!(format!("--- human\n{human}--- markdown\n{markdown}"));
    });
}

#[test]
fn render_provenance_and_findings_give_keys_holding_dots_their_pointer() {
    let repo = repo();
    let out = repo
        .run(&[
            "render",
            "--class",
            "router",
            "--provenance",
            "--format",
            "json",
        ])
        .expect_code(0)
        .json();
    let leaves: Vec<(&str, &Value, &Value)> = out["leaves"]
        .as_object()
        .expect("leaves")
        .iter()
        .map(|(path, leaf)| (path.as_str(), &leaf["pointer"], &leaf["value"]))
        .collect();
    assert_eq!(
        leaves,
        [
            (
                r#"sysctl."net.ipv4.conf.all.forwarding""#,
                &json!("/sysctl/net.ipv4.conf.all.forwarding"),
                &json!(1)
            ),
            (
                r#"sysctl."vm.swappiness""#,
                &json!("/sysctl/vm.swappiness"),
                &json!(60)
            ),
            (
                r#"labels."app.kubernetes.io/name""#,
                &json!("/labels/app.kubernetes.io~1name"),
                &json!("shop")
            ),
            ("server.port", &json!("/server/port"), &json!(80)),
        ]
    );
    // A finding on the effective config names the key by its pointer and
    // the line that set it.
    repo.file(
        "ringmaster.yaml",
        &format!("{MANIFEST}effective:\n  schema: schemas/service.schema.json\n"),
    )
    .file(
        "schemas/service.schema.json",
        r#"{"type": "object", "properties": {"sysctl": {"type": "object", "additionalProperties": {"type": "integer"}}}}"#,
    )
    .file(
        "config/role/router.yaml",
        "sysctl:\n  net.ipv4.conf.all.forwarding: 1.5\n",
    );
    let check = repo.run(&["check", "--format", "json"]);
    check.assert_code(1);
    let found: Vec<(Value, Value, Value, Value)> = check
        .findings()
        .iter()
        .map(|f| {
            (
                f["path"].clone(),
                f["file"].clone(),
                f["line"].clone(),
                f["class"].clone(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [(
            json!("/sysctl/net.ipv4.conf.all.forwarding"),
            json!("config/role/router.yaml"),
            json!(2),
            json!("router")
        )]
    );
}

#[test]
fn render_all_prints_every_class_as_a_json_line_in_name_order() {
    let repo = repo();
    let out = repo.run(&["render", "--all"]).expect_code(0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    let names: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).expect("a JSON line")["class"].clone())
        .collect();
    assert_eq!(names, [json!("api"), json!("router"), json!("web")]);
    for (line, name) in lines.iter().zip(["api", "router", "web"]) {
        let single = repo
            .run(&["render", "--class", name, "--format", "json"])
            .expect_code(0)
            .json();
        let expected = serde_json::to_string(&json!({"class": name, "config": single})).unwrap();
        assert_eq!(*line, expected);
    }
    // Nothing but JSON lines: --format yaml and --provenance are refused.
    repo.run(&["render", "--all", "--format", "yaml"])
        .expect_code(2);
    repo.run(&["render", "--all", "--provenance"])
        .expect_code(2);
}

#[test]
fn render_all_says_an_unrenderable_class_on_stderr_and_exits_as_render_does() {
    let repo = repo();
    repo.file("config/role/web.yaml", "labels: [\n");
    let single = repo.run(&["render", "--class", "web", "--format", "json"]);
    single.assert_code(2);
    let all = repo.run(&["render", "--all"]).expect_code(2);
    assert_eq!(all.stderr, single.stderr);
    assert!(
        all.stderr.contains("config/role/web.yaml:2"),
        "{}",
        all.stderr
    );
    let names: Vec<Value> = all
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("a JSON line")["class"].clone())
        .collect();
    assert_eq!(names, [json!("api"), json!("router")]);
}
