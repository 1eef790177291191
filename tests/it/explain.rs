//! `ringmaster explain --class C KEY.PATH`: every hierarchy layer in order,
//! what it did to the key (set, overrode, merged, knocked-out, absent,
//! no-file, not-applicable) with file:line and value, and the final value.
//! On the layered fixture of `support::LAYERED_FILES` and on `examples/shop`.

use serde_json::{Value, json};

use crate::render::{in_shop, shop, shop_classes, shop_leaves};
use crate::support::{Output, TestRepo, check_leaf_line, redactions};

fn explain(repo: &TestRepo, class: &str, key: &str, extra: &[&str]) -> Output {
    let mut args = vec!["explain", "--class", class, key];
    args.extend_from_slice(extra);
    repo.run(&args)
}

fn explain_json(repo: &TestRepo, class: &str, key: &str) -> Value {
    let out = explain(repo, class, key, &["--format", "json"]).expect_code(0);
    out.json()
}

/// One layer of the JSON answer reduced to `(layer, file, action, line, value)`;
/// `file` is the template for a layer that is not applicable.
type Step = (u64, String, String, Option<u64>, Option<Value>);

fn steps(explanation: &Value) -> Vec<Step> {
    explanation["layers"]
        .as_array()
        .unwrap_or_else(|| panic!("no layers array in {explanation}"))
        .iter()
        .map(|s| {
            (
                s["layer"].as_u64().unwrap_or_default(),
                s["file"]
                    .as_str()
                    .or(s["template"].as_str())
                    .unwrap_or_default()
                    .to_owned(),
                s["action"].as_str().unwrap_or_default().to_owned(),
                s["line"].as_u64(),
                s.get("value").filter(|v| !v.is_null()).cloned(),
            )
        })
        .collect()
}

fn step(layer: u64, file: &str, action: &str, line: Option<u64>, value: Option<Value>) -> Step {
    (layer, file.to_owned(), action.to_owned(), line, value)
}

fn absent(layer: u64, file: &str) -> Step {
    step(layer, file, "absent", None, None)
}

fn no_file(layer: u64, file: &str) -> Step {
    step(layer, file, "no-file", None, None)
}

fn not_applicable(layer: u64, template: &str) -> Step {
    step(layer, template, "not-applicable", None, None)
}

/// One `explain --format json` case on the layered fixture: every layer's
/// step, the final value and its source (`None`: no value, no source).
struct Walk {
    class: &'static str,
    key: &'static str,
    steps: Vec<Step>,
    last: Option<(Value, &'static str)>,
}

fn walks() -> Vec<Walk> {
    vec![
        // A list set, then overridden by a later layer; the tenant layer is
        // not applicable (web-eu has no `tenant` fact).
        Walk {
            class: "web-eu",
            key: "server.tls.ciphers",
            steps: vec![
                step(
                    1,
                    "config/defaults.yaml",
                    "set",
                    Some(7),
                    Some(json!(["aes128", "aes256"])),
                ),
                absent(2, "config/role/web.yaml"),
                step(
                    3,
                    "config/region/eu.yaml",
                    "overrode",
                    Some(5),
                    Some(json!(["chacha20"])),
                ),
                not_applicable(4, "config/tenant/{tenant}.yaml"),
                absent(5, "config/class/web-eu.yaml"),
            ],
            last: Some((json!(["chacha20"]), "config/region/eu.yaml:5")),
        },
        // A scalar knocked out by the class file.
        Walk {
            class: "web-eu",
            key: "server.host",
            steps: vec![
                step(
                    1,
                    "config/defaults.yaml",
                    "set",
                    Some(4),
                    Some(json!("localhost")),
                ),
                absent(2, "config/role/web.yaml"),
                absent(3, "config/region/eu.yaml"),
                not_applicable(4, "config/tenant/{tenant}.yaml"),
                step(5, "config/class/web-eu.yaml", "knocked-out", Some(2), None),
            ],
            last: None,
        },
        // A key knocked out with its parent mapping (role db: `features: !unset`).
        Walk {
            class: "db-eu",
            key: "features.search",
            steps: vec![
                step(
                    1,
                    "config/defaults.yaml",
                    "set",
                    Some(12),
                    Some(json!(true)),
                ),
                step(2, "config/role/db.yaml", "knocked-out", Some(3), None),
                absent(3, "config/region/eu.yaml"),
                no_file(4, "config/tenant/zeta.yaml"),
                no_file(5, "config/class/db-eu.yaml"),
            ],
            last: None,
        },
        // Missing files, and an override from the tenant layer.
        Walk {
            class: "web-us",
            key: "features.beta",
            steps: vec![
                step(
                    1,
                    "config/defaults.yaml",
                    "set",
                    Some(13),
                    Some(json!(false)),
                ),
                absent(2, "config/role/web.yaml"),
                no_file(3, "config/region/us.yaml"),
                step(
                    4,
                    "config/tenant/acme.yaml",
                    "overrode",
                    Some(3),
                    Some(json!(true)),
                ),
                no_file(5, "config/class/web-us.yaml"),
            ],
            last: Some((json!(true), "config/tenant/acme.yaml:3")),
        },
    ]
}

/// Each walk, layer by layer: the class and key echoed, every step, the
/// final value and its source; a not-applicable layer names no file, only
/// its template.
#[test]
fn explain_walks_every_layer_and_names_the_final_source() {
    let repo = TestRepo::layered();
    for walk in walks() {
        let e = explain_json(&repo, walk.class, walk.key);
        assert_eq!(
            (&e["class"], &e["key"]),
            (&json!(walk.class), &json!(walk.key))
        );
        assert_eq!(steps(&e), walk.steps, "{} {}", walk.class, walk.key);
        let (last, source) = walk
            .last
            .map_or((Value::Null, Value::Null), |(v, s)| (v, json!(s)));
        assert_eq!((&e["final"], &e["source"]), (&last, &source), "{e}");
        for layer in e["layers"].as_array().into_iter().flatten() {
            if layer["action"] == "not-applicable" {
                assert!(
                    layer["file"].is_null() && layer["template"].is_string(),
                    "{layer}"
                );
            }
        }
    }
}

#[test]
fn a_mapping_set_then_merged_into() {
    let repo = TestRepo::layered();
    let e = explain_json(&repo, "web-eu", "server.tls");
    let actions: Vec<(u64, String, String, Option<u64>)> = steps(&e)
        .into_iter()
        .map(|(n, f, a, l, _)| (n, f, a, l))
        .collect();
    assert_eq!(
        actions,
        vec![
            (1, "config/defaults.yaml".into(), "set".into(), Some(5)),
            (2, "config/role/web.yaml".into(), "merged".into(), Some(4)),
            (3, "config/region/eu.yaml".into(), "merged".into(), Some(4)),
            (
                4,
                "config/tenant/{tenant}.yaml".into(),
                "not-applicable".into(),
                None
            ),
            (5, "config/class/web-eu.yaml".into(), "absent".into(), None),
        ]
    );
    assert_eq!(
        e["final"],
        json!({"enabled": true, "ciphers": ["chacha20"]})
    );
}

/// Issue 14: a key no layer of the class sets or knocks out is not "not
/// set" but an unknown key path: exit 2, naming the key and the class.
#[test]
fn a_key_no_layer_sets_is_an_unknown_key_path() {
    let repo = TestRepo::layered();
    let out = explain(&repo, "web-us", "server.timeout", &["--format", "json"]).expect_code(2);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    assert!(
        out.stderr
            .contains("`server.timeout` is not a key of host class `web-us`"),
        "{}",
        out.stderr
    );
}

/// The human format, whole: the header names the key and class; one
/// numbered line per layer in hierarchy order with its place, what it did
/// ("set", "does not mention", "no such file", "overrode", "knocked",
/// "not applicable") and the value; then the final value with its source,
/// or "not set" after a knockout.
#[test]
fn human_output_walks_the_layers_and_names_knockouts_and_inapplicable_layers() {
    let repo = TestRepo::layered();
    let beta = explain(&repo, "web-us", "features.beta", &[]).expect_code(0);
    let host = explain(&repo, "web-eu", "server.host", &["--format", "human"]).expect_code(0);
    insta::with_settings!({filters => redactions()}, {
        insta::assert_snapshot!(format!(
            "--- web-us features.beta\n{}--- web-eu server.host\n{}",
            beta.stdout, host.stdout
        ));
    });
}

#[test]
fn explain_at_a_revision_reads_that_revision() {
    let repo = TestRepo::layered();
    // The working tree: region eu's level moves to line 3 and becomes error.
    repo.file(
        "config/region/eu.yaml",
        "logging:\n  # louder\n  level: error\nserver:\n  tls:\n    ciphers: [chacha20]\n",
    );
    let now = explain_json(&repo, "db-eu", "logging.level");
    assert_eq!(now["final"], "error");
    assert_eq!(now["source"], "config/region/eu.yaml:3");
    let out = explain(
        &repo,
        "db-eu",
        "logging.level",
        &["--rev", "HEAD", "--format", "json"],
    )
    .expect_code(0);
    let then = out.json();
    assert_eq!(then["final"], "warn");
    assert_eq!(then["source"], "config/region/eu.yaml:2");
    assert_eq!(
        steps(&then)[2],
        step(
            3,
            "config/region/eu.yaml",
            "overrode",
            Some(2),
            Some(json!("warn"))
        )
    );
}

#[test]
fn a_key_set_again_after_a_knockout() {
    let repo = TestRepo::new();
    repo.file(
        "ringmaster.yaml",
        "version: 1\nhierarchy:\n  - a.yaml\n  - b.yaml\n  - c.yaml\nhost_classes:\n  k: {}\n",
    )
    .file("a.yaml", "x:\n  y: 1\n")
    .file("b.yaml", "x:\n  y: !unset\n")
    .file("c.yaml", "# again\nx:\n  y: 3\n");
    let e = explain_json(&repo, "k", "x.y");
    assert_eq!(
        steps(&e),
        vec![
            step(1, "a.yaml", "set", Some(2), Some(json!(1))),
            step(2, "b.yaml", "knocked-out", Some(2), None),
            step(3, "c.yaml", "set", Some(3), Some(json!(3))),
        ]
    );
    assert_eq!(e["final"], json!(3));
    assert_eq!(e["source"], "c.yaml:3");
}

/// A mapping that replaces an inherited null or scalar merges nothing: the
/// later layer overrode the value. (`s` is a type change, an error for
/// `check`; `explain` must still describe what happened.)
#[test]
fn a_mapping_replacing_a_null_or_a_scalar_overrode_it() {
    let repo = TestRepo::new();
    repo.file(
        "ringmaster.yaml",
        "version: 1\nhierarchy:\n  - a.yaml\n  - b.yaml\nhost_classes:\n  k: {}\n",
    )
    .file("a.yaml", "placeholder:\ns: 1\n")
    .file("b.yaml", "placeholder:\n  b: 2\ns:\n  y: 2\n");
    let render = repo
        .run(&["render", "--class", "k", "--format", "json"])
        .expect_code(0);
    assert_eq!(
        render.json(),
        json!({"placeholder": {"b": 2}, "s": {"y": 2}})
    );

    let e = explain_json(&repo, "k", "placeholder");
    assert_eq!(
        steps(&e),
        vec![
            step(1, "a.yaml", "set", Some(1), None),
            step(2, "b.yaml", "overrode", Some(1), Some(json!({"b": 2}))),
        ]
    );
    assert_eq!(e["final"], json!({"b": 2}));
    let e = explain_json(&repo, "k", "s");
    assert_eq!(
        steps(&e),
        vec![
            step(1, "a.yaml", "set", Some(2), Some(json!(1))),
            step(2, "b.yaml", "overrode", Some(3), Some(json!({"y": 2}))),
        ]
    );
    let human = explain(&repo, "k", "s", &[]).expect_code(0);
    assert!(!human.stdout.contains("merged"), "{}", human.stdout);
}

/// Bad arguments exit 2 and say what was wrong: an unknown revision is
/// named, an unknown class gets "did you mean", a malformed key path is named.
#[test]
fn bad_arguments_exit_2_naming_what_is_wrong() {
    let repo = TestRepo::layered();
    let cases: [(&str, &str, &[&str], &[&str]); 3] = [
        (
            "web-eu",
            "server.port",
            &["--rev", "nope-rev"],
            &["nope-rev"],
        ),
        ("web-ue", "server.port", &[], &["did you mean", "web-eu"]),
        ("web-eu", "server..port", &[], &["server..port"]),
    ];
    for (class, key, extra, said) in cases {
        let out = explain(&repo, class, key, extra).expect_code(2);
        for needle in said {
            out.assert_stderr_has(needle);
        }
    }
}

#[test]
fn layer_that_fails_to_parse_exits_2_naming_file_and_line() {
    let repo = TestRepo::layered();
    repo.file("config/role/web.yaml", "server:\n  port: 80\n  tls: x: y\n");
    let out = explain(&repo, "web-eu", "server.port", &[]).expect_code(2);
    out.assert_stderr_has("config/role/web.yaml:3");
}

// ---------------------------------------------------------------------------
// The bundled example repo: for every class and every leaf, `explain` agrees
// with `render --provenance`, and every line it names says what it claims.

#[test]
fn example_repo_explain_names_the_same_source_as_render_for_every_leaf() {
    let mut problems = Vec::new();
    let mut checked = 0;
    for class in shop_classes() {
        for (path, value, file, line) in shop_leaves(&class) {
            let out =
                in_shop(&["explain", "--class", &class, &path, "--format", "json"]).expect_code(0);
            let e = out.json();
            let place = format!("{file}:{line}");
            if e["source"] != json!(place) {
                problems.push(format!(
                    "{class} {path}: explain says {}, render says {place}",
                    e["source"]
                ));
            }
            if e["final"] != value {
                problems.push(format!(
                    "{class} {path}: explain's final {} is not render's {value}",
                    e["final"]
                ));
            }
            // The last layer that set or overrode the key is the final source.
            let last = steps(&e)
                .into_iter()
                .rev()
                .find(|s| s.2 == "set" || s.2 == "overrode");
            match last {
                Some((_, f, _, Some(l), v))
                    if f == file && l == line && v.as_ref() == Some(&value) => {}
                other => problems.push(format!(
                    "{class} {path}: the last layer that set it is {other:?}, render says {place}"
                )),
            }
            checked += 1;
        }
    }
    // 24 leaves per class (defaults.yaml has them all), 23 for api-acme,
    // whose trace endpoint is knocked out: 119 in all.
    assert!(checked >= 119, "only {checked} leaves checked");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn example_repo_every_line_explain_names_holds_the_key() {
    let mut problems = Vec::new();
    for class in shop_classes() {
        for (path, _, _, _) in shop_leaves(&class) {
            let out =
                in_shop(&["explain", "--class", &class, &path, "--format", "json"]).expect_code(0);
            for (_, file, action, line, value) in steps(&out.json()) {
                let Some(line) = line else { continue };
                let text = std::fs::read_to_string(shop().join(&file)).unwrap();
                let result = match value {
                    Some(v) => check_leaf_line(&text, line as usize, &path, &v),
                    None => check_leaf_line(&text, line as usize, &path, &Value::Null)
                        .or_else(|_| unset_line(&text, line as usize, &path)),
                };
                if let Err(why) = result {
                    problems.push(format!("{class} {path} {action} at {file}:{line}: {why}"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Line `line` knocks out the last segment of `path` (or one of its parents).
fn unset_line(text: &str, line: usize, path: &str) -> Result<(), String> {
    let l = text.lines().nth(line - 1).unwrap_or_default();
    let ok = l.contains("!unset")
        && path
            .split('.')
            .any(|s| l.trim_start().starts_with(&format!("{s}:")));
    if ok {
        Ok(())
    } else {
        Err(format!("not a knockout of {path}: {l:?}"))
    }
}

#[test]
fn example_repo_knockout_and_missing_ring_file() {
    let out = in_shop(&[
        "explain",
        "--class",
        "api-acme",
        "tracing.endpoint",
        "--format",
        "json",
    ])
    .expect_code(0);
    let e = out.json();
    assert_eq!(
        steps(&e),
        vec![
            step(
                1,
                "config/defaults.yaml",
                "set",
                Some(29),
                Some(json!("http://otel-collector.shop.internal:4317"))
            ),
            absent(2, "config/role/api.yaml"),
            step(
                3,
                "config/region/eu-west.yaml",
                "overrode",
                Some(8),
                Some(json!("http://otel-collector.eu-west.shop.internal:4317"))
            ),
            no_file(4, "config/ring/single-tenant.yaml"),
            step(
                5,
                "config/class/api-acme.yaml",
                "knocked-out",
                Some(9),
                None
            ),
        ]
    );
    assert!(e["final"].is_null(), "{e}");
    assert!(e["source"].is_null(), "{e}");
}
