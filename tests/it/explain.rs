//! `ringmaster explain --class C KEY.PATH`: every hierarchy layer in order,
//! what it did to the key (set, overrode, merged, knocked-out, absent,
//! no-file, not-applicable) with file:line and value, and the final value.
//! On the layered fixture of `support::LAYERED_FILES` and on `examples/shop`.

use serde_json::{Value, json};

use crate::render::{in_shop, shop, shop_classes, shop_leaves};
use crate::support::{Output, TestRepo, check_leaf_line};

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

#[test]
fn a_list_set_then_overridden_by_a_later_layer() {
    let repo = TestRepo::layered();
    let e = explain_json(&repo, "web-eu", "server.tls.ciphers");
    assert_eq!(e["class"], "web-eu");
    assert_eq!(e["key"], "server.tls.ciphers");
    assert_eq!(
        steps(&e),
        vec![
            step(
                1,
                "config/defaults.yaml",
                "set",
                Some(7),
                Some(json!(["aes128", "aes256"]))
            ),
            absent(2, "config/role/web.yaml"),
            step(
                3,
                "config/region/eu.yaml",
                "overrode",
                Some(5),
                Some(json!(["chacha20"]))
            ),
            not_applicable(4, "config/tenant/{tenant}.yaml"),
            absent(5, "config/class/web-eu.yaml"),
        ]
    );
    assert_eq!(e["final"], json!(["chacha20"]));
    assert_eq!(e["source"], "config/region/eu.yaml:5");
    // The not-applicable layer names no file, and says which fact is missing.
    let tenant = &e["layers"][3];
    assert!(tenant["file"].is_null(), "{tenant}");
    assert_eq!(tenant["template"], "config/tenant/{tenant}.yaml");
}

#[test]
fn a_scalar_knocked_out_by_the_class_file() {
    let repo = TestRepo::layered();
    let e = explain_json(&repo, "web-eu", "server.host");
    assert_eq!(
        steps(&e),
        vec![
            step(
                1,
                "config/defaults.yaml",
                "set",
                Some(4),
                Some(json!("localhost"))
            ),
            absent(2, "config/role/web.yaml"),
            absent(3, "config/region/eu.yaml"),
            not_applicable(4, "config/tenant/{tenant}.yaml"),
            step(5, "config/class/web-eu.yaml", "knocked-out", Some(2), None),
        ]
    );
    assert!(e["final"].is_null(), "{e}");
    assert!(e["source"].is_null(), "{e}");
}

#[test]
fn a_key_knocked_out_with_its_parent_mapping() {
    let repo = TestRepo::layered();
    let e = explain_json(&repo, "db-eu", "features.search");
    assert_eq!(
        steps(&e),
        vec![
            step(
                1,
                "config/defaults.yaml",
                "set",
                Some(12),
                Some(json!(true))
            ),
            step(2, "config/role/db.yaml", "knocked-out", Some(3), None),
            absent(3, "config/region/eu.yaml"),
            no_file(4, "config/tenant/zeta.yaml"),
            no_file(5, "config/class/db-eu.yaml"),
        ]
    );
    assert!(e["final"].is_null(), "{e}");
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

#[test]
fn missing_files_and_an_override_from_the_tenant_layer() {
    let repo = TestRepo::layered();
    let e = explain_json(&repo, "web-us", "features.beta");
    assert_eq!(
        steps(&e),
        vec![
            step(
                1,
                "config/defaults.yaml",
                "set",
                Some(13),
                Some(json!(false))
            ),
            absent(2, "config/role/web.yaml"),
            no_file(3, "config/region/us.yaml"),
            step(
                4,
                "config/tenant/acme.yaml",
                "overrode",
                Some(3),
                Some(json!(true))
            ),
            no_file(5, "config/class/web-us.yaml"),
        ]
    );
    assert_eq!(e["final"], json!(true));
    assert_eq!(e["source"], "config/tenant/acme.yaml:3");
}

#[test]
fn a_key_no_layer_sets_has_no_final_value() {
    let repo = TestRepo::layered();
    let e = explain_json(&repo, "web-us", "server.timeout");
    let actions: Vec<String> = steps(&e).into_iter().map(|s| s.2).collect();
    assert_eq!(
        actions,
        ["absent", "absent", "no-file", "absent", "no-file"]
    );
    assert!(e["final"].is_null(), "{e}");
    assert!(e["source"].is_null(), "{e}");
}

#[test]
fn human_output_walks_the_layers_in_order() {
    let repo = TestRepo::layered();
    let out = explain(&repo, "web-us", "features.beta", &[]).expect_code(0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines[0].contains("features.beta"), "{}", out.stdout);
    assert!(lines[0].contains("web-us"), "{}", out.stdout);
    // One line per layer, in hierarchy order, each with its place and what it did.
    let expected: [(&str, &str, &str); 5] = [
        ("config/defaults.yaml:13", "set", "false"),
        ("config/role/web.yaml", "does not mention", ""),
        ("config/region/us.yaml", "no such file", ""),
        ("config/tenant/acme.yaml:3", "overrode", "true"),
        ("config/class/web-us.yaml", "no such file", ""),
    ];
    let layer_lines: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
        .collect();
    assert_eq!(layer_lines.len(), 5, "{}", out.stdout);
    for (i, (line, (place, action, value))) in layer_lines.iter().zip(expected).enumerate() {
        assert!(
            line.trim_start().starts_with(&format!("{}.", i + 1)),
            "{line}"
        );
        assert!(line.contains(place), "{line} lacks {place}");
        assert!(line.contains(action), "{line} lacks {action}");
        assert!(line.contains(value), "{line} lacks {value}");
    }
    let last = lines.iter().rev().find(|l| !l.trim().is_empty()).unwrap();
    assert!(last.contains("final value"), "{}", out.stdout);
    assert!(last.contains("true"), "{last}");
    assert!(last.contains("config/tenant/acme.yaml:3"), "{last}");
}

#[test]
fn human_output_names_knockouts_and_inapplicable_layers() {
    let repo = TestRepo::layered();
    let out = explain(&repo, "web-eu", "server.host", &["--format", "human"]).expect_code(0);
    let line_of = |needle: &str| {
        out.stdout
            .lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle}:\n{}", out.stdout))
            .to_owned()
    };
    assert!(line_of("config/defaults.yaml:4").contains("localhost"));
    assert!(line_of("config/class/web-eu.yaml:2").contains("knocked"));
    assert!(line_of("config/tenant/{tenant}.yaml").contains("not applicable"));
    assert!(line_of("final value").contains("not set"), "{}", out.stdout);
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

#[test]
fn unknown_revision_exits_2_naming_it() {
    let repo = TestRepo::layered();
    let out = explain(&repo, "web-eu", "server.port", &["--rev", "nope-rev"]).expect_code(2);
    out.assert_stderr_has("nope-rev");
}

#[test]
fn unknown_class_exits_2_with_did_you_mean() {
    let repo = TestRepo::layered();
    let out = explain(&repo, "web-ue", "server.port", &[]).expect_code(2);
    out.assert_stderr_has("did you mean");
    out.assert_stderr_has("web-eu");
}

#[test]
fn malformed_key_path_exits_2() {
    let repo = TestRepo::layered();
    let out = explain(&repo, "web-eu", "server..port", &[]).expect_code(2);
    out.assert_stderr_has("server..port");
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
