//! Loader conformance (issue 12, item 13): cases the public YAML and JSON
//! Schema test suites found, each through the real binary; and a property
//! test that feeds random bytes and mutated YAML to the loader and the merge
//! (library level): no panic, bounded time, bounded alias expansion, and
//! every finding carries a line.

use std::sync::Arc;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use serde_json::{Value, json};

use crate::support::{TestRepo, brief};

/// A repository whose one host class `web` merges `config/base.yaml` then
/// `config/over.json`, each checked against `schemas/layer.schema.json`.
fn layered(schema: &str, base: &str, over: &str) -> TestRepo {
    let repo = TestRepo::new();
    repo.file(
        "ringmaster.yaml",
        "version: 1\n\
         hierarchy:\n  - config/base.yaml\n  - config/over.json\n\
         host_classes:\n  web: {}\n\
         schemas:\n\
         \x20 - files: \"config/*.yaml\"\n    schema: schemas/layer.schema.json\n\
         \x20 - files: \"config/*.json\"\n    schema: schemas/layer.schema.json\n",
    )
    .file("schemas/layer.schema.json", schema)
    .file("config/base.yaml", base)
    .file("config/over.json", over);
    repo
}

/// The effective config of `web` as JSON.
#[track_caller]
fn render_json(repo: &TestRepo) -> Value {
    let out = repo.run(&["render", "--class", "web", "--format", "json"]);
    out.assert_code(0);
    out.json()
}

/// The effective config of `web` as YAML.
#[track_caller]
fn render_yaml(repo: &TestRepo) -> String {
    let out = repo.run(&["render", "--class", "web", "--format", "yaml"]);
    out.assert_code(0);
    out.stdout
}

/// Every finding of `check --format json` as `file:line:col rule: message`.
fn findings_text(repo: &TestRepo) -> String {
    let out = repo.run(&["check", "--format", "json"]);
    out.assert_no_panic();
    out.findings()
        .iter()
        .map(|f| {
            let (rule, _, file, line, col, _) = brief(f);
            format!(
                "{file}:{line}:{col} {rule}: {}",
                f["message"].as_str().unwrap_or("")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn an_anchor_on_a_mapping_key_can_be_aliased_as_a_value() {
    // YAML test suite 2JQS-like: `&k a: 1` anchors the key `a`.
    let repo = layered("{}", "&k a: 1\nb: *k\n&n 7: seven\nc: *n\n", "{}\n");
    let check = repo.run(&["check", "--format", "json"]);
    check.assert_code(0);
    assert_eq!(check.findings(), Vec::<Value>::new());
    assert_eq!(
        render_json(&repo),
        json!({"a": 1, "b": "a", "7": "seven", "c": 7})
    );
}

#[test]
fn the_non_specific_tag_and_a_verbatim_str_tag_make_strings_and_tags_print_as_written() {
    let repo = layered(
        "{}",
        "l:\n  - ! 12\n  - !<tag:yaml.org,2002:str> 5\n  - !!foo x\n  - !<tag:example.com,2026:y> y\n  - !bar z\n",
        "{}\n",
    );
    assert_eq!(render_json(&repo)["l"], json!(["12", "5", "x", "y", "z"]));
    insta::assert_snapshot!(findings_text(&repo), @r"
    config/base.yaml:4:5 unknown-tag: tag `!!foo` is not understood here and is ignored
    config/base.yaml:5:5 unknown-tag: tag `!<tag:example.com,2026:y>` is not understood here and is ignored
    config/base.yaml:6:5 unknown-tag: tag `!bar` is not understood here and is ignored
    ");
}

#[test]
fn an_empty_block_scalar_is_reported_on_its_own_line() {
    let schema = r#"{"properties": {"motd": {"type": "integer"}, "banner": {"type": "integer"}}}"#;
    let repo = layered(
        schema,
        "motd: >-\n\nnext: 1\nbanner: |+ # kept\n\n\n",
        "{}\n",
    );
    insta::assert_snapshot!(findings_text(&repo), @r#"
    config/base.yaml:1:7 schema: "" is not of type "integer"
    config/base.yaml:4:9 schema: "\n\n" is not of type "integer"
    "#);
}

/// The rendered JSON holds each (key, value) of `expected` at its top level.
fn assert_rendered(repo: &TestRepo, expected: &[(&str, Value)]) {
    let config = render_json(repo);
    for (key, value) in expected {
        assert_eq!(&config[key], value, "`{key}` in {config:#}");
    }
}

#[test]
fn json_surrogate_pair_escapes_decode_and_a_lone_surrogate_is_an_error_at_it() {
    // What Python's json.dump writes for "💩 and ☃": pairs for the emoji.
    let repo = layered(
        "{}",
        "plain: x\\ud83d\\udca9\nquoted: 'a\\ud83d\\udca9'\n",
        "{\"e\": \"\\ud83d\\udca9 and \\u2603\", \"\\ud83d\\ude00\": \"\\uD83D\\uDE00\"}\n",
    );
    assert_rendered(
        &repo,
        &[
            ("e", json!("💩 and ☃")),
            ("😀", json!("😀")),
            // Outside double quotes `\u` is no escape: the text stays as written.
            ("plain", json!("x\\ud83d\\udca9")),
            ("quoted", json!("a\\ud83d\\udca9")),
        ],
    );

    // A lone half: an error at the escape itself, after a pair on the same line.
    repo.file(
        "config/over.json",
        "{\"ok\": \"\\ud83d\\udca9\", \"bad\": \"ab\\udca9\"}\n",
    );
    insta::assert_snapshot!(findings_text(&repo), @r"config/over.json:1:34 yaml-syntax: `\udca9` is not a character: a UTF-16 surrogate escape must come in a pair, a high one (`\ud800`-`\udbff`) followed at once by a low one (`\udc00`-`\udfff`)");
}

#[test]
fn only_a_plain_merge_key_merges_and_never_in_a_json_file() {
    let repo = layered(
        "{}",
        "base: &b {x: 1}\nplain:\n  <<: *b\nquoted:\n  \"<<\": *b\nsingle:\n  '<<': {y: 2}\n",
        "{\"j\": {\"<<\": {\"x\": 1}, \"z\": 3}}\n",
    );
    assert_rendered(
        &repo,
        &[
            ("plain", json!({"x": 1})),
            ("quoted", json!({"<<": {"x": 1}})),
            ("single", json!({"<<": {"y": 2}})),
            ("j", json!({"<<": {"x": 1}, "z": 3})),
        ],
    );
    // Rendered YAML keeps a `<<` key a key: quoted.
    let yaml = render_yaml(&repo);
    assert!(yaml.contains("quoted:\n  \"<<\":\n    x: 1\n"), "{yaml}");
}

#[test]
fn infinities_nan_and_integers_beyond_64_bits_stay_faithful() {
    let base = "inf: .inf\nneg: -.inf\nnan: .NaN\n\
                big: 123456789012345678901234567890\n\
                u64: 18446744073709551615\n\
                hex: 0x1FFFFFFFFFFFFFFFFF\n";
    let repo = layered("{}", base, "{}\n");
    insta::assert_snapshot!(render_yaml(&repo), @r"
    inf: .inf
    neg: -.inf
    nan: .nan
    big: 123456789012345678901234567890
    u64: 18446744073709551615
    hex: 0x1FFFFFFFFFFFFFFFFF
    ");
    // JSON has no such numbers: they go out as their YAML spelling, never null.
    assert_eq!(
        render_json(&repo),
        json!({
            "inf": ".inf", "neg": "-.inf", "nan": ".nan",
            "big": "123456789012345678901234567890",
            "u64": 18446744073709551615u64,
            "hex": "0x1FFFFFFFFFFFFFFFFF"
        })
    );
}

#[test]
fn schema_checks_of_non_finite_numbers_say_so_and_never_call_them_null() {
    let schema = r#"{
      "type": "object",
      "properties": {
        "number": {"type": "number"},
        "count": {"type": "integer"},
        "max": {"type": "number", "maximum": 100},
        "min": {"type": "number", "minimum": 0},
        "name": {"type": "string"},
        "huge": {"type": "integer", "maximum": 1000}
      }
    }"#;
    let repo = layered(
        schema,
        "number: .inf\ncount: .inf\nmax: .inf\nmin: -.inf\nname: .nan\nhuge: 123456789012345678901234567890\n",
        "{\"max\": 5}\n",
    );
    repo.file("config/nan.yaml", "number: .nan\nmax: .nan\nmin: .nan\n");
    let text = findings_text(&repo);
    assert!(!text.contains("null"), "{text}");
    insta::assert_snapshot!(text, @r#"
    config/base.yaml:2:8 schema: `.inf` is not of type "integer" (it is not a finite number)
    config/base.yaml:3:6 schema: `.inf` is greater than the maximum of 100 (it is not a finite number)
    config/base.yaml:4:6 schema: `-.inf` is less than the minimum of 0 (it is not a finite number)
    config/base.yaml:5:7 schema: `.nan` is not of type "string" (it is not a finite number)
    config/base.yaml:6:7 schema: `123456789012345678901234567890` is greater than the maximum of 1000
    config/nan.yaml:2:6 schema: `.nan` is not a number that compares with any other, so it cannot meet the maximum of 100
    config/nan.yaml:3:6 schema: `.nan` is not a number that compares with any other, so it cannot meet the minimum of 0
    "#);
}

#[test]
fn idn_email_and_idn_hostname_formats_are_checked_like_email_and_hostname() {
    let schema = r#"{
      "properties": {
        "contact": {"format": "idn-email"},
        "host": {"format": "idn-hostname"}
      }
    }"#;
    let repo = layered(
        schema,
        "contact: \"not an address\"\nhost: \"-bad-.example\"\n",
        "{\"contact\": \"ops@bücher.example\", \"host\": \"bücher.example\"}\n",
    );
    insta::assert_snapshot!(findings_text(&repo), @r#"
    config/base.yaml:1:10 schema: "not an address" is not a "idn-email"
    config/base.yaml:2:7 schema: "-bad-.example" is not a "idn-hostname"
    "#);
}

#[test]
fn a_syntax_error_at_the_end_of_a_file_without_a_final_newline_is_on_its_last_line() {
    // Found by the mutation test: the scanner put it on a line after the last.
    let repo = layered("{}", "a: 1\nb", "{}\n");
    insta::assert_snapshot!(findings_text(&repo), @"config/base.yaml:2:2 yaml-syntax: simple key expected");
}

#[test]
fn a_number_flag_of_inf_or_nan_is_refused_in_ringmasters_own_files() {
    // A user schema may take `.inf` as a number; ringmaster's own files never do.
    let repo = TestRepo::new();
    repo.copy_dir(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/shop"),
        "",
    );
    repo.file(
        "flags/timeout.yaml",
        "name: timeout\nowner: team-api\ndescription: Request timeout in seconds\n\
         type: number\ndefault: .inf\nexpires: \"2027-06-30\"\nrings:\n  dogfood: .nan\n",
    );
    let out = repo.run(&["check", "--format", "json"]);
    out.assert_code(1);
    let found: Vec<String> = out
        .findings()
        .iter()
        .filter(|f| f["file"] == "flags/timeout.yaml")
        .map(|f| {
            format!(
                "{}:{} {}",
                f["line"],
                f["column"],
                f["message"].as_str().unwrap_or("")
            )
        })
        .collect();
    insta::assert_snapshot!(found.join("\n"), @r"
    5:10 `.inf` is not a finite number; ringmaster's own files take finite numbers only
    8:12 `.nan` is not a finite number; ringmaster's own files take finite numbers only
    ");
}

/// Far above what the inputs below need when handled right (a few seconds in
/// a debug build), far below what mishandling them costs (minutes, gigabytes).
const QUICK: Duration = Duration::from_secs(20);

#[test]
fn a_mapping_of_a_hundred_thousand_keys_loads_in_linear_time() {
    // Duplicate-key checks used to scan the mapping for every key: minutes.
    let repo = layered("{}", "{}\n", "{}\n");
    let mut text = String::with_capacity(1_600_000);
    for i in 0..100_000 {
        text.push_str(&format!("key{i}: >-\n\n"));
    }
    text.push_str("key7: again\n");
    repo.file("config/base.yaml", &text);
    let out = repo.run(&["check", "--format", "json"]);
    out.assert_code(1);
    assert!(out.elapsed < QUICK, "took {:?}", out.elapsed);
    let dups = out.findings_of("duplicate-key");
    assert_eq!(dups.len(), 1, "{}", out.stdout);
    assert_eq!(
        (&dups[0]["line"], &dups[0]["column"]),
        (&200_001.into(), &1.into())
    );
}

#[test]
fn nested_anchors_on_a_big_list_are_not_copied_per_level() {
    // `&a0 [&a1 [… 250 000 items]]`: each anchor used to keep its own copy of
    // the list, 120 levels deep: gigabytes from a 750 kB file, with no alias.
    let depth = 120;
    let mut text = String::from("deep: ");
    for i in 0..depth {
        text.push_str(&format!("&a{i} ["));
    }
    text.push_str(&vec!["x"; 250_000].join(","));
    text.push_str(&"]".repeat(depth));
    text.push_str("\nsmall: &s [1, 2]\nagain: *s\n");
    let repo = layered("{}", &text, "{}\n");
    // Under a 1 GB address-space limit (`ulimit -v`): a copy per level needs more.
    let started = Instant::now();
    let limited = std::process::Command::new("sh")
        .args(["-c", "ulimit -v 1000000 && exec \"$0\" \"$@\""])
        .arg(crate::support::BIN)
        .arg("--repo")
        .arg(repo.path())
        .args(["check", "--format", "json"])
        .env("NO_COLOR", "1")
        .output()
        .expect("run sh");
    let stderr = String::from_utf8_lossy(&limited.stderr);
    assert_eq!(limited.status.code(), Some(0), "{stderr}");
    assert!(started.elapsed() < QUICK, "took {:?}", started.elapsed());
    // An alias to one of them would expand past the budget: refused.
    text.push_str("bomb: *a100\n");
    repo.file("config/base.yaml", &text);
    let out = repo.run(&["check", "--format", "json"]);
    out.assert_code(1);
    let refused = out.findings_of("alias-limit");
    assert_eq!(refused.len(), 1, "{}", out.stdout);
    assert_eq!(refused[0]["line"], 4);
}

// ---------------------------------------------------------------------------
// Property test: hostile bytes and mutated YAML into the loader and the merge.

use ringmaster::config::document::{Limits, Value as Doc, parse};
use ringmaster::config::effective::{Layers, merge_class};
use ringmaster::config::manifest::Manifest;
use ringmaster::source::MemorySource;

/// Valid documents to start mutating from: the examples' real layer files
/// and a few shapes that exercise anchors, merges, tags and block scalars.
fn seeds() -> Vec<String> {
    let mut seeds: Vec<String> = [
        "examples/shop/config/defaults.yaml",
        "examples/shop/config/role/api.yaml",
        "examples/shop/config/region/eu-west.yaml",
        "examples/shop/ringmaster.yaml",
    ]
    .iter()
    .filter_map(|p| std::fs::read_to_string(p).ok())
    .collect();
    seeds.extend(
        [
            "base: &b {x: 1, y: [1, 2]}\nuse:\n  <<: *b\n  y: !unset\n&k key: v\nalias: *k\n",
            "motd: >-\n\nlist:\n  - ! 12\n  - !!str 5\n  - \"\\ud83d\\udca9\"\n  - |\n    text\n",
            "{\"a\": [1, 2.5, .inf, 123456789012345678901234567890], \"<<\": {\"b\": null}}\n",
        ]
        .map(str::to_owned),
    );
    seeds
}

/// One edit of a document's bytes.
#[derive(Debug, Clone)]
enum Mutation {
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    DuplicateLine(usize),
    DeleteLine(usize),
    Nest(usize),
    HugeScalar(usize),
    Aliases(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let token = prop::sample::select(vec![
        &b"&a "[..],
        b"*a",
        b"<<: *a\n",
        b"!unset",
        b"! ",
        b"!<tag:yaml.org,2002:str> ",
        b"\\ud83d",
        b"\\udca9",
        b"\"",
        b"'",
        b"|-\n",
        b">\n\n",
        b": ",
        b"- ",
        b"? ",
        b"[",
        b"]",
        b"{",
        b"}",
        b",",
        b"#",
        b"\n",
        b"\t",
        b"\r",
        b"\0",
        b"\xff",
        b"\xef\xbb\xbf",
        b"---\n",
        b"...\n",
        b"%YAML 1.2\n",
        b".nan",
        b"-.inf",
        b"99999999999999999999999999",
        b"0x",
    ]);
    prop_oneof![
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(at, b)| Mutation::Insert(at, b)),
        (any::<usize>(), token).prop_map(|(at, t)| Mutation::Insert(at, t.to_vec())),
        (any::<usize>(), 1usize..16).prop_map(|(at, n)| Mutation::Delete(at, n)),
        any::<usize>().prop_map(Mutation::DuplicateLine),
        any::<usize>().prop_map(Mutation::DeleteLine),
        (1usize..400).prop_map(Mutation::Nest),
        (1usize..200_000).prop_map(Mutation::HugeScalar),
        (1usize..12).prop_map(Mutation::Aliases),
    ]
}

fn apply(doc: &mut Vec<u8>, m: &Mutation) {
    let len = doc.len();
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(
            doc.iter()
                .enumerate()
                .filter(|(_, b)| **b == b'\n')
                .map(|(i, _)| i + 1),
        )
        .filter(|i| *i < len)
        .collect();
    let line = |n: usize| -> (usize, usize) {
        if line_starts.is_empty() {
            return (0, 0);
        }
        let start = line_starts[n % line_starts.len()];
        let end = doc[start..]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(len, |p| start + p + 1);
        (start, end)
    };
    match m {
        Mutation::Insert(at, bytes) => {
            let at = at % (len + 1);
            doc.splice(at..at, bytes.iter().copied());
        }
        Mutation::Delete(at, n) => {
            let at = at % (len + 1);
            let end = (at + n).min(len);
            doc.drain(at..end);
        }
        Mutation::DuplicateLine(n) => {
            let (start, end) = line(*n);
            let copy = doc[start..end].to_vec();
            doc.splice(end..end, copy);
        }
        Mutation::DeleteLine(n) => {
            let (start, end) = line(*n);
            doc.drain(start..end);
        }
        Mutation::Nest(depth) => {
            let mut nested = b"deep: ".to_vec();
            nested.extend(std::iter::repeat_n(b'[', *depth));
            nested.extend(std::iter::repeat_n(b']', *depth));
            nested.push(b'\n');
            doc.splice(0..0, nested);
        }
        Mutation::HugeScalar(n) => {
            let mut huge = b"huge: ".to_vec();
            huge.extend(std::iter::repeat_n(b'x', *n));
            huge.push(b'\n');
            doc.splice(0..0, huge);
        }
        Mutation::Aliases(levels) => {
            // A billion-laughs ladder: each level lists the previous one ten times.
            let mut bomb =
                String::from("l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
            for i in 1..=*levels {
                let refs = vec![format!("*l{}", i - 1); 10].join(", ");
                bomb.push_str(&format!("l{i}: &l{i} [{refs}]\n"));
            }
            doc.splice(0..0, bomb.into_bytes());
        }
    }
}

/// How many nodes a document holds (aliases expanded), to bound what the
/// loader built.
fn size(node: &ringmaster::config::document::Node) -> usize {
    let mut count = 0;
    let mut todo = vec![node];
    while let Some(n) = todo.pop() {
        count += 1;
        match &n.value {
            Doc::Seq(items) => todo.extend(items.iter()),
            Doc::Map(entries) => todo.extend(entries.iter().map(|e| &e.value)),
            _ => {}
        }
    }
    count
}

fn manifest() -> Manifest {
    let text = "version: 1\nhierarchy:\n  - a.yaml\n  - b.json\nhost_classes:\n  c: {}\n";
    Manifest::load(&MemorySource::new(&[("ringmaster.yaml", text)]))
        .expect("manifest loads")
        .manifest
}

/// Loads two layers and merges them: must return, quickly, with every
/// finding on a real line, and never build more than the alias budget allows.
fn load_and_merge(a: &[u8], b: &[u8]) -> Result<(), TestCaseError> {
    let limits = Limits::default();
    let started = Instant::now();
    let mut layers = Layers::new();
    for (file, bytes) in [("a.yaml", a), ("b.json", b)] {
        let parsed = parse(file, bytes, &limits);
        for d in &parsed.diagnostics {
            prop_assert!(d.pos.line >= 1 && d.pos.col >= 1, "{d:?}");
            prop_assert_eq!(d.file.as_str(), file);
        }
        let lines = bytes
            .iter()
            .filter(|b| matches!(**b, b'\n' | b'\r'))
            .count()
            + 1;
        for d in &parsed.diagnostics {
            prop_assert!(d.pos.line as usize <= lines, "line past the end: {d:?}");
        }
        let budget = bytes.len() + limits.max_alias_nodes + 1;
        for doc in &parsed.docs {
            prop_assert!(
                size(doc) <= budget,
                "{} nodes from {} bytes",
                size(doc),
                bytes.len()
            );
        }
        layers.insert(file.to_owned(), Arc::new(parsed));
    }
    let m = manifest();
    let class = &m.host_classes["c"];
    if let Ok((config, findings)) = merge_class(&m, class, &layers) {
        for d in &findings {
            prop_assert!(d.pos.line >= 1, "{d:?}");
        }
        let _ = config.to_json();
    }
    prop_assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 160,
        max_shrink_iters: 200,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_bytes_never_panic_hang_or_lose_the_line(
        a in prop::collection::vec(any::<u8>(), 0..600),
        b in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        load_and_merge(&a, &b)?;
    }

    #[test]
    fn mutated_yaml_never_panics_hangs_or_expands_unbounded(
        pick in any::<prop::sample::Index>(),
        other in any::<prop::sample::Index>(),
        edits in prop::collection::vec(mutation(), 1..6),
    ) {
        let seeds = seeds();
        let mut doc = seeds[pick.index(seeds.len())].clone().into_bytes();
        for m in &edits {
            apply(&mut doc, m);
        }
        let json = seeds[other.index(seeds.len())].clone().into_bytes();
        load_and_merge(&doc, &json)?;
    }
}

#[test]
fn seeds_are_found_and_load_cleanly() {
    // The mutation test starts from valid documents: the example files must
    // be there (the test runs from the crate root) and parse without errors.
    let seeds = seeds();
    assert!(seeds.len() >= 7, "{}", seeds.len());
    for (i, s) in seeds.iter().enumerate() {
        let parsed = parse(&format!("s{i}.yaml"), s.as_bytes(), &Limits::default());
        assert!(
            parsed
                .diagnostics
                .iter()
                .all(|d| d.severity != ringmaster::diag::Severity::Error),
            "seed {i}: {:?}",
            parsed.diagnostics
        );
    }
}
