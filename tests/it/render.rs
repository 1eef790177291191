//! `ringmaster render`: one host class's effective config (SPEC §2, §3.2,
//! §4, §5), on the layered fixture of `support::LAYERED_FILES` and on the
//! bundled example repo `examples/shop`.
//!
//! Every expectation below is written by hand from the fixture's text; the
//! comments give the file:line each value comes from.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::support::{Output, TestRepo, check_leaf_line, keys, render_provenance, run_at};

fn render(repo: &TestRepo, args: &[&str]) -> Output {
    let mut all = vec!["render"];
    all.extend_from_slice(args);
    repo.run(&all)
}

/// `render --class C --format json`, which must succeed.
fn render_json(repo: &TestRepo, class: &str) -> Value {
    let out = render(repo, &["--class", class, "--format", "json"]).expect_code(0);
    out.json()
}

/// web-eu: defaults, role/web, region/eu, (no tenant fact), class/web-eu.
fn web_eu() -> Value {
    json!({
        "name": "base",
        "server": {
            "port": 80,                                  // role/web.yaml:3 replaces 8080
            "tls": { "enabled": true, "ciphers": ["chacha20"] } // web:5, eu:5 replaces the list
        },                                               // host: knocked out by class/web-eu.yaml:2
        "logging": { "level": "warn", "sinks": ["file", "stdout"] },
        "features": { "search": false, "beta": false },  // class/web-eu.yaml:4
        "ratio": 0.25
    })
}

/// web-us: defaults, role/web, (no region/us.yaml), tenant/acme, (no class file).
fn web_us() -> Value {
    json!({
        "name": "acme",
        "server": {
            "port": 80,
            "host": "localhost",
            "tls": { "enabled": true, "ciphers": ["aes128", "aes256"] }
        },
        "logging": { "level": "info", "sinks": ["file", "stdout"] },
        "features": { "search": true, "beta": true },
        "ratio": 0.25
    })
}

/// db-eu: defaults, role/db (knocks out `features`), region/eu, (no tenant/zeta.yaml), (no class file).
fn db_eu() -> Value {
    json!({
        "name": "base",
        "server": {
            "port": 5432,
            "host": "localhost",
            "tls": { "enabled": false, "ciphers": ["chacha20"] }
        },
        "logging": { "level": "warn", "sinks": ["stdout"] },
        "ratio": 0.25
    })
}

#[test]
fn json_output_is_exactly_the_merged_config_of_every_class() {
    let repo = TestRepo::layered();
    for (class, expected) in [
        ("web-eu", web_eu()),
        ("web-us", web_us()),
        ("db-eu", db_eu()),
    ] {
        let out = render(&repo, &["--class", class, "--format", "json"]).expect_code(0);
        // One JSON object and nothing else on stdout.
        let value: Value = serde_json::from_str(out.stdout.trim()).unwrap_or_else(|e| {
            panic!(
                "{class}: stdout is not one JSON value ({e}):\n{}",
                out.stdout
            )
        });
        assert!(value.is_object(), "{class}: not an object: {value}");
        assert_eq!(value, expected, "{class}");
    }
}

#[test]
fn json_keeps_the_document_order_of_keys() {
    let repo = TestRepo::layered();
    let value = render_json(&repo, "web-us");
    assert_eq!(
        keys(&value),
        ["name", "server", "logging", "features", "ratio"]
    );
    assert_eq!(keys(&value["server"]), ["port", "host", "tls"]);
}

#[test]
fn yaml_is_the_default_format_and_reads_as_the_merged_config() {
    let repo = TestRepo::layered();
    let out = render(&repo, &["--class", "web-eu"]).expect_code(0);
    assert_eq!(
        out.stdout,
        "\
name: base
server:
  port: 80
  tls:
    enabled: true
    ciphers:
      - chacha20
logging:
  level: warn
  sinks:
    - file
    - stdout
features:
  search: false
  beta: false
ratio: 0.25
"
    );
    let explicit = render(&repo, &["--class", "web-eu", "--format", "yaml"]).expect_code(0);
    assert_eq!(explicit.stdout, out.stdout);
}

#[test]
fn yaml_of_a_class_with_a_whole_mapping_knocked_out() {
    let repo = TestRepo::layered();
    let out = render(&repo, &["--class", "db-eu", "--format", "yaml"]).expect_code(0);
    assert_eq!(
        out.stdout,
        "\
name: base
server:
  port: 5432
  host: localhost
  tls:
    enabled: false
    ciphers:
      - chacha20
logging:
  level: warn
  sinks:
    - stdout
ratio: 0.25
"
    );
}

#[test]
fn provenance_yaml_ends_every_leaf_line_with_file_and_line() {
    let repo = TestRepo::layered();
    let out = render(&repo, &["--class", "web-us", "--provenance"]).expect_code(0);
    assert_eq!(
        out.stdout,
        "\
name: acme  # config/tenant/acme.yaml:1
server:
  port: 80  # config/role/web.yaml:3
  host: localhost  # config/defaults.yaml:4
  tls:
    enabled: true  # config/role/web.yaml:5
    ciphers:  # config/defaults.yaml:7
      - aes128
      - aes256
logging:
  level: info  # config/defaults.yaml:9
  sinks:  # config/role/web.yaml:7
    - file
    - stdout
features:
  search: true  # config/defaults.yaml:12
  beta: true  # config/tenant/acme.yaml:3
ratio: 0.25  # config/defaults.yaml:14
"
    );
}

/// `(path, value, file, line)` of every leaf of `render --provenance --format json`.
fn provenance(repo: &TestRepo, class: &str, extra: &[&str]) -> Vec<(String, Value, String, u64)> {
    let mut args = vec!["--class", class, "--provenance", "--format", "json"];
    args.extend_from_slice(extra);
    let out = render(repo, &args).expect_code(0);
    let json = out.json();
    assert_eq!(json["class"], class);
    json["leaves"]
        .as_object()
        .unwrap_or_else(|| panic!("no leaves object in {json}"))
        .iter()
        .map(leaf_of)
        .collect()
}

/// One `leaves` entry as `(path, value, file, line)`.
fn leaf_of((path, leaf): (&String, &Value)) -> (String, Value, String, u64) {
    let file = leaf["file"].as_str().unwrap_or_default().to_owned();
    let line = leaf["line"].as_u64().unwrap_or_default();
    (path.clone(), leaf["value"].clone(), file, line)
}

fn leaf(path: &str, value: Value, file: &str, line: u64) -> (String, Value, String, u64) {
    (path.to_owned(), value, file.to_owned(), line)
}

#[test]
fn provenance_json_names_the_file_and_line_of_every_leaf() {
    let repo = TestRepo::layered();
    // Both classes take these two from region eu.
    let from_region_eu = vec![
        leaf(
            "server.tls.ciphers",
            json!(["chacha20"]),
            "config/region/eu.yaml",
            5,
        ),
        leaf("logging.level", json!("warn"), "config/region/eu.yaml", 2),
    ];
    assert_eq!(
        provenance(&repo, "web-eu", &[]),
        [
            vec![
                leaf("name", json!("base"), "config/defaults.yaml", 1),
                leaf("server.port", json!(80), "config/role/web.yaml", 3),
                leaf("server.tls.enabled", json!(true), "config/role/web.yaml", 5),
            ],
            from_region_eu.clone(),
            vec![
                leaf(
                    "logging.sinks",
                    json!(["file", "stdout"]),
                    "config/role/web.yaml",
                    7
                ),
                leaf(
                    "features.search",
                    json!(false),
                    "config/class/web-eu.yaml",
                    4
                ),
                leaf("features.beta", json!(false), "config/defaults.yaml", 13),
                leaf("ratio", json!(0.25), "config/defaults.yaml", 14),
            ],
        ]
        .concat()
    );
    assert_eq!(
        provenance(&repo, "db-eu", &[]),
        [
            vec![
                leaf("name", json!("base"), "config/defaults.yaml", 1),
                leaf("server.port", json!(5432), "config/role/db.yaml", 2),
                leaf("server.host", json!("localhost"), "config/defaults.yaml", 4),
                leaf(
                    "server.tls.enabled",
                    json!(false),
                    "config/defaults.yaml",
                    6
                ),
            ],
            from_region_eu,
            vec![
                leaf(
                    "logging.sinks",
                    json!(["stdout"]),
                    "config/defaults.yaml",
                    10
                ),
                leaf("ratio", json!(0.25), "config/defaults.yaml", 14),
            ],
        ]
        .concat()
    );
}

#[test]
fn provenance_json_leaves_carry_value_file_line_column_and_layer() {
    let repo = TestRepo::layered();
    let out = render(
        &repo,
        &["--class", "web-us", "--provenance", "--format", "json"],
    )
    .expect_code(0);
    let json = out.json();
    assert_eq!(keys(&json), ["class", "leaves"]);
    let beta = &json["leaves"]["features.beta"];
    assert_eq!(beta["value"], json!(true));
    assert_eq!(beta["file"], "config/tenant/acme.yaml");
    assert_eq!(beta["line"], 3);
    // `  beta: true`: the value starts in column 9, the key in column 3.
    assert!(
        beta["column"] == 9 || beta["column"] == 3,
        "column {} is neither the key's nor the value's",
        beta["column"]
    );
    assert!(beta["layer"].is_u64(), "layer: {}", beta["layer"]);
}

/// A list written in block style: the key is on one line, the value starts on
/// the next. The leaf is the key `rate_limits`, set on the key's line, and
/// that is what `explain` names too.
#[test]
fn provenance_of_a_block_list_names_the_line_of_its_key() {
    let repo = TestRepo::new();
    repo.file(
        "ringmaster.yaml",
        "version: 1\nhierarchy:\n  - base.yaml\n  - top.yaml\nhost_classes:\n  c: {}\n",
    )
    .file("base.yaml", "limits:\n  - a\n")
    .file("top.yaml", "# top\nlimits:\n  - b\n  - c\n")
    .commit("block lists");
    assert_eq!(
        provenance(&repo, "c", &[]),
        vec![leaf("limits", json!(["b", "c"]), "top.yaml", 2)]
    );
    let yaml = render(&repo, &["--class", "c", "--provenance"]).expect_code(0);
    assert_eq!(yaml.stdout, "limits:  # top.yaml:2\n  - b\n  - c\n");
    let explain = repo
        .run(&["explain", "--class", "c", "limits", "--format", "json"])
        .expect_code(0);
    assert_eq!(explain.json()["source"], "top.yaml:2");
}

#[test]
fn rev_reads_the_committed_revision_not_the_working_tree() {
    let repo = TestRepo::layered();
    let first = repo.rev_parse("HEAD");
    // A second commit: web's port 80 → 81.
    let web = repo
        .read("config/role/web.yaml")
        .replace("port: 80", "port: 81");
    repo.file("config/role/web.yaml", &web).commit("port 81");
    // The working tree moves on: a comment shifts every line, the port is 82,
    // acme's tenant file is gone and web-us gets a class file.
    repo.file(
        "config/role/web.yaml",
        "# web front ends\n# (moved)\nserver:\n  port: 82\n  tls:\n    enabled: true\nlogging:\n  sinks: [file, stdout]\n",
    )
    .remove("config/tenant/acme.yaml")
    .file("config/class/web-us.yaml", "ratio: 0.5\n");

    let port = |args: &[&str]| {
        let mut all = vec!["--class", "web-us", "--format", "json"];
        all.extend_from_slice(args);
        let out = render(&repo, &all).expect_code(0);
        let v = out.json();
        (
            v["server"]["port"].clone(),
            v["name"].clone(),
            v["ratio"].clone(),
        )
    };
    assert_eq!(port(&[]), (json!(82), json!("base"), json!(0.5)));
    assert_eq!(
        port(&["--rev", "HEAD"]),
        (json!(81), json!("acme"), json!(0.25))
    );
    assert_eq!(
        port(&["--rev", "HEAD~1"]),
        (json!(80), json!("acme"), json!(0.25))
    );
    assert_eq!(
        port(&["--rev", &first]),
        (json!(80), json!("acme"), json!(0.25))
    );
    assert_eq!(
        port(&["--rev", "main"]),
        (json!(81), json!("acme"), json!(0.25))
    );

    // Provenance at a revision names that revision's lines.
    let at_head = provenance(&repo, "web-us", &["--rev", "HEAD"]);
    assert!(
        at_head.contains(&leaf("server.port", json!(81), "config/role/web.yaml", 3)),
        "{at_head:?}"
    );
    let now = provenance(&repo, "web-us", &[]);
    assert!(
        now.contains(&leaf("server.port", json!(82), "config/role/web.yaml", 4)),
        "{now:?}"
    );

    // YAML at a revision too.
    let yaml = render(&repo, &["--class", "web-us", "--rev", "HEAD~1"]).expect_code(0);
    yaml.assert_stdout_has("  port: 80\n");
    assert!(yaml.stdout.starts_with("name: acme\n"), "{}", yaml.stdout);
    // And nothing in the working tree changed.
    assert!(repo.read("config/role/web.yaml").contains("port: 82"));
    assert!(!repo.path().join("config/tenant/acme.yaml").exists());
}

#[test]
fn rev_that_does_not_exist_exits_2_naming_it() {
    let repo = TestRepo::layered();
    let out = render(&repo, &["--class", "web-eu", "--rev", "no-such-rev"]).expect_code(2);
    out.assert_stderr_has("no-such-rev");
    assert!(out.stdout.is_empty(), "{}", out.stdout);
}

#[test]
fn unknown_class_exits_2_with_did_you_mean() {
    let repo = TestRepo::layered();
    let out = render(&repo, &["--class", "web-uss"]).expect_code(2);
    out.assert_stderr_has("web-uss");
    out.assert_stderr_has("did you mean");
    out.assert_stderr_has("web-us");
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    // At a revision as well, where the class is looked up in that revision's manifest.
    let at_rev = render(
        &repo,
        &["--class", "db-ue", "--rev", "HEAD", "--format", "json"],
    )
    .expect_code(2);
    at_rev.assert_stderr_has("did you mean");
    at_rev.assert_stderr_has("db-eu");
}

#[test]
fn layer_that_fails_to_parse_exits_2_naming_file_and_line() {
    let repo = TestRepo::layered();
    // Line 3 has a second `:` where a value belongs.
    repo.file(
        "config/region/eu.yaml",
        "logging:\n  level: warn\nserver: tls: x\n",
    );
    for class in ["web-eu", "db-eu"] {
        for format in ["yaml", "json"] {
            let out = render(&repo, &["--class", class, "--format", format]).expect_code(2);
            assert!(
                out.stderr.contains("config/region/eu.yaml:3"),
                "{class} {format}: {}",
                out.stderr
            );
            assert!(out.stdout.is_empty(), "{}", out.stdout);
        }
    }
    // web-us does not use region/eu.yaml: it still renders.
    assert_eq!(render_json(&repo, "web-us"), web_us());
    // The committed revision is still fine.
    let at_head = render(
        &repo,
        &["--class", "web-eu", "--rev", "HEAD", "--format", "json"],
    )
    .expect_code(0);
    assert_eq!(at_head.json(), web_eu());
}

#[test]
fn layer_with_a_duplicate_key_exits_2_naming_file_and_line() {
    let repo = TestRepo::layered();
    repo.file(
        "config/tenant/acme.yaml",
        "name: acme\nfeatures:\n  beta: true\nname: acme2\n",
    )
    .commit("duplicate key");
    let out = render(&repo, &["--class", "web-us", "--rev", "HEAD"]).expect_code(2);
    out.assert_stderr_has("config/tenant/acme.yaml:4");
}

#[test]
fn class_without_any_layer_file_renders_an_empty_config() {
    let repo = TestRepo::new();
    repo.file(
        "ringmaster.yaml",
        "version: 1\nhierarchy:\n  - config/{role}.yaml\nhost_classes:\n  lonely: { region: x }\n",
    );
    let out = render(&repo, &["--class", "lonely", "--format", "json"]).expect_code(0);
    assert_eq!(out.json(), json!({}));
}

// ---------------------------------------------------------------------------
// The bundled example repo.

pub(crate) fn shop() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/shop")
}

/// The host classes of `examples/shop/ringmaster.yaml`, read from its text.
pub(crate) fn shop_classes() -> Vec<String> {
    let text = std::fs::read_to_string(shop().join("ringmaster.yaml")).expect("read the manifest");
    let mut classes = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        if line.starts_with("host_classes:") {
            inside = true;
            continue;
        }
        if inside {
            if line.starts_with("  ") && line.contains(':') && !line.trim_start().starts_with('#') {
                classes.push(line.trim().split(':').next().unwrap().trim().to_owned());
            } else if !line.trim().is_empty() && !line.starts_with(' ') && !line.starts_with('#') {
                break;
            }
        }
    }
    assert!(
        classes.len() >= 5,
        "host classes of the example: {classes:?}"
    );
    classes
}

/// `ringmaster --repo examples/shop ARGS…`.
pub(crate) fn in_shop(args: &[&str]) -> Output {
    let root = shop();
    let mut all: Vec<&str> = vec!["--repo", root.to_str().unwrap()];
    all.extend_from_slice(args);
    run_at(&root, &all)
}

/// The leaves of `render --provenance --format json` for a class of the
/// example, without the `flags` key (flag values come from flag files, not
/// from layer lines).
pub(crate) fn shop_leaves(class: &str) -> Vec<(String, Value, String, u64)> {
    let out = in_shop(&render_provenance(class)).expect_code(0);
    let json = out.json();
    json["leaves"]
        .as_object()
        .unwrap_or_else(|| panic!("{class}: no leaves in {json}"))
        .iter()
        .filter(|(path, _)| !path.starts_with("flags."))
        .map(leaf_of)
        .collect()
}

/// The independent line check used on the example repo: it accepts the
/// right line and refuses a wrong key, a wrong parent, a wrong value and a
/// list's first item line.
#[test]
fn leaf_line_check_accepts_only_the_line_that_sets_the_value() {
    let text = "\
a:
  b: 1 # one
  c:
    d: \"x\"
list:
  - k: v
    n: 2
  - k: w
flow: [p, 0.5]
";
    assert_eq!(check_leaf_line(text, 2, "a.b", &json!(1)), Ok(()));
    assert_eq!(check_leaf_line(text, 4, "a.c.d", &json!("x")), Ok(()));
    assert_eq!(
        check_leaf_line(text, 5, "list", &json!([{"k": "v", "n": 2}, {"k": "w"}])),
        Ok(())
    );
    assert_eq!(check_leaf_line(text, 9, "flow", &json!(["p", 0.5])), Ok(()));
    assert!(check_leaf_line(text, 2, "a.b", &json!(2)).is_err());
    assert!(check_leaf_line(text, 2, "a.x", &json!(1)).is_err());
    assert!(check_leaf_line(text, 2, "z.b", &json!(1)).is_err());
    assert!(check_leaf_line(text, 4, "a.d", &json!("x")).is_err());
    assert!(check_leaf_line(text, 6, "list", &json!([{"k": "v", "n": 2}, {"k": "w"}])).is_err());
    assert!(check_leaf_line(text, 5, "list", &json!([{"k": "v"}, {"k": "w"}])).is_err());
    assert!(check_leaf_line(text, 10, "flow", &json!(["p", 0.5])).is_err());
}

#[test]
fn example_repo_provenance_points_at_the_line_that_sets_every_leaf() {
    let mut problems = Vec::new();
    let mut checked = 0;
    for class in shop_classes() {
        let leaves = shop_leaves(&class);
        assert!(leaves.len() >= 23, "{class}: only {} leaves", leaves.len());
        for (path, value, file, line) in leaves {
            let text = std::fs::read_to_string(shop().join(&file))
                .unwrap_or_else(|e| panic!("{class} {path}: cannot read {file}: {e}"));
            if let Err(why) = check_leaf_line(&text, line as usize, &path, &value) {
                problems.push(format!("{class} {path} → {file}:{line}: {why}"));
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
fn example_repo_provenance_yaml_comments_match_the_json_leaves() {
    for class in shop_classes() {
        let out = in_shop(&["render", "--class", &class, "--provenance"]).expect_code(0);
        let comments: Vec<String> = out
            .stdout
            .lines()
            .filter_map(|l| l.rsplit_once("  # ").map(|(_, c)| c.to_owned()))
            // Flag values point into flag files; `shop_leaves` leaves them out.
            .filter(|c| !c.starts_with("flags/"))
            .collect();
        let expected: Vec<String> = shop_leaves(&class)
            .into_iter()
            .map(|(_, _, file, line)| format!("{file}:{line}"))
            .collect();
        assert_eq!(comments, expected, "{class}:\n{}", out.stdout);
        let plain = in_shop(&["render", "--class", &class]).expect_code(0);
        assert!(!plain.stdout.contains(" # "), "{}", plain.stdout);
    }
}

/// The example repo as `ops/shop` inside a git repository: `--rev` reads
/// the config repo's subdirectory of that revision.
#[test]
fn rev_in_a_config_repo_that_is_a_subdirectory() {
    let repo = TestRepo::new();
    repo.copy_dir(&shop(), "ops/shop").commit("shop");
    let api = repo
        .read("ops/shop/config/role/api.yaml")
        .replace("max_connections: 1024", "max_connections: 4096");
    repo.file("ops/shop/config/role/api.yaml", &api);
    let root = repo.path().join("ops/shop");
    let max = |extra: &[&str]| {
        let mut args = vec![
            "--repo",
            root.to_str().unwrap(),
            "render",
            "--class",
            "api-dogfood",
            "--format",
            "json",
        ];
        args.extend_from_slice(extra);
        let out = run_at(repo.path(), &args).expect_code(0);
        out.json()["server"]["max_connections"].clone()
    };
    assert_eq!(max(&[]), json!(4096));
    assert_eq!(max(&["--rev", "HEAD"]), json!(1024));
    // Discovered from the cwd, without --repo.
    let out = repo
        .run_in(
            "ops/shop/config",
            &["render", "--class", "api-dogfood", "--rev", "HEAD"],
        )
        .expect_code(0);
    out.assert_stdout_has("  max_connections: 1024\n");
}

#[test]
fn example_repo_api_acme_knocks_out_the_trace_endpoint() {
    let out = in_shop(&["render", "--class", "api-acme", "--format", "json"]).expect_code(0);
    let config = out.json();
    // class/api-acme.yaml:8-9: tracing off, endpoint knocked out.
    assert_eq!(config["tracing"]["enabled"], json!(false));
    assert_eq!(config["tracing"]["sample_rate"], json!(0.01));
    assert!(config["tracing"].get("endpoint").is_none(), "{config}");
    // class/api-acme.yaml:3 beats region/eu-west.yaml:4 and defaults.yaml:14.
    assert_eq!(config["database"]["host"], "db-acme.eu-west.shop.internal");
    // role/api.yaml:4 and :6.
    assert_eq!(config["server"]["max_connections"], 1024);
    assert_eq!(config["database"]["pool_size"], 40);
    // The whole list from class/api-acme.yaml:12-18.
    assert_eq!(
        config["rate_limits"],
        json!([
            {"route": "/api/checkout", "per_second": 200, "burst": 400},
            {"route": "/api/search", "per_second": 200, "burst": 400}
        ])
    );
}
