//! Hostile and broken input (issue 2, point 5): each gets a clear finding
//! with its exact rule and position, or a clear exit-2 message naming the
//! file and line. Never a panic, a crash, a hang or unbounded memory.
//!
//! Every test asserts no panic or crash (`Output::assert_code` checks stderr
//! and that no signal killed the process) and, where input is large, that the
//! run stays quick even in a debug build. The bounds are generous: they catch
//! "parsed 50 MB anyway" or "expanded the bomb", not a slow machine.

use std::time::Duration;

use serde_json::Value;

use crate::support::{TestRepo, assert_location, at, brief};

/// Far above what these inputs need when handled right (well under a second
/// here in debug builds), far below what mishandling them costs.
const QUICK: Duration = Duration::from_secs(20);

/// The single finding of a run, with the exit code checked.
#[track_caller]
fn only_finding(repo: &TestRepo, args: &[&str], code: i32) -> Value {
    let out = repo.run(args);
    out.assert_code(code);
    let findings = out.findings();
    assert_eq!(findings.len(), 1, "{}", out.stdout);
    findings[0].clone()
}

#[test]
fn non_utf8_file_is_an_encoding_error_at_the_bad_byte() {
    let repo = TestRepo::standard();
    // Latin-1 `é` (0xE9): line 2, column 10.
    repo.bytes("config/latin1.yaml", b"name: ok\nmode: caf\xe9\n");
    let f = only_finding(&repo, &["check", "--format", "json"], 1);
    assert_location(&f, ("encoding", "error", "config/latin1.yaml", 2, 10));
    let message = f["message"].as_str().unwrap();
    assert!(
        message.contains("UTF-8") && message.contains("0xE9"),
        "{message}"
    );
}

/// The finding's message holds `needle`.
fn assert_message_has(f: &serde_json::Value, needle: &str) {
    assert!(
        f["message"].as_str().unwrap().contains(needle),
        "{}",
        f["message"]
    );
}

#[test]
fn utf16_file_is_an_encoding_error() {
    let repo = TestRepo::standard();
    let mut bytes = vec![0xFF, 0xFE];
    for c in "name: x\n".encode_utf16() {
        bytes.extend(c.to_le_bytes());
    }
    repo.bytes("config/utf16.yaml", &bytes);
    let f = only_finding(&repo, &["check", "--format", "json"], 1);
    assert_eq!(f["rule"], "encoding");
    assert_eq!((&f["line"], &f["column"]), (&1.into(), &1.into()));
    assert_message_has(&f, "UTF-16");
}

#[test]
fn binary_file_with_nul_bytes_is_an_encoding_error() {
    let repo = TestRepo::standard();
    // Valid UTF-8 up to a NUL at line 2, column 5.
    repo.bytes("config/blob.yaml", b"name: x\nmode\0\0\x01\x02\x03");
    let f = only_finding(&repo, &["check", "--format", "json"], 1);
    let (rule, _, file, line, column, _) = brief(&f);
    assert_eq!(
        (rule.as_str(), file.as_str(), line, column),
        ("encoding", "config/blob.yaml", 2, 5)
    );
    assert_message_has(&f, "NUL");
}

#[test]
fn binary_file_that_is_not_even_utf8_is_an_encoding_error() {
    let repo = TestRepo::standard();
    // A PNG header: 0x89 at line 1, column 1.
    repo.bytes(
        "config/image.yaml",
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01",
    );
    let f = only_finding(&repo, &["check", "--format", "json"], 1);
    assert_eq!(
        brief(&f),
        at("encoding", "error", "config/image.yaml", 1, 1, None)
    );
}

#[test]
fn empty_and_blank_files_are_warnings_not_errors() {
    let repo = TestRepo::standard();
    repo.file("config/empty.yaml", "")
        .file("config/blank.yaml", "\n\n   \n")
        .file("config/comments.yaml", "# nothing here yet\n");
    let out = repo.run(&["check", "--format", "json"]).expect_code(0);
    assert_eq!(
        out.locations(),
        [
            ("empty-file".into(), "config/blank.yaml".into(), 1, 1),
            ("empty-file".into(), "config/comments.yaml".into(), 1, 1),
            ("empty-file".into(), "config/empty.yaml".into(), 1, 1),
        ]
    );
    assert!(out.findings().iter().all(|f| f["severity"] == "warning"));
}

#[test]
fn huge_file_of_50_mb_is_reported_not_parsed() {
    let repo = TestRepo::standard();
    let mut text = String::with_capacity(50 * 1024 * 1024 + 16);
    text.push_str("name: ");
    while text.len() < 50 * 1024 * 1024 {
        text.push_str("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    }
    text.push('\n');
    repo.file("config/huge.yaml", &text);
    drop(text);
    for args in [
        &["check", "--format", "json"][..],
        &["check", "--format", "json", "config/huge.yaml"][..],
    ] {
        let out = repo.run(args).expect_code(1);
        assert!(out.elapsed < QUICK, "took {:?}", out.elapsed);
        let findings = out.findings();
        assert_eq!(findings.len(), 1, "{}", out.stdout);
        assert_eq!(
            brief(&findings[0]),
            at("file-too-large", "error", "config/huge.yaml", 1, 1, None)
        );
        let message = findings[0]["message"].as_str().unwrap();
        let size = std::fs::metadata(repo.path().join("config/huge.yaml"))
            .unwrap()
            .len();
        assert!(
            message.contains(&size.to_string()),
            "names the size: {message}"
        );
    }
}

#[test]
fn flow_sequences_nested_10000_deep_are_nesting_too_deep() {
    let repo = TestRepo::standard();
    let text = format!("{}{}\n", "[".repeat(10_000), "]".repeat(10_000));
    repo.file("config/deep.yaml", &text);
    let out = repo.run(&["check", "--format", "json"]).expect_code(1);
    assert!(out.elapsed < QUICK, "took {:?}", out.elapsed);
    let findings = out.findings();
    assert_eq!(findings.len(), 1, "{}", out.stdout);
    // The limit is 255 levels: the 256th `[` (column 256) is the offender.
    assert_eq!(
        brief(&findings[0]),
        at(
            "nesting-too-deep",
            "error",
            "config/deep.yaml",
            1,
            256,
            None
        )
    );
}

#[test]
fn flow_mappings_nested_10000_deep_are_nesting_too_deep() {
    let repo = TestRepo::standard();
    let text = format!("{}1{}\n", "{a: ".repeat(10_000), "}".repeat(10_000));
    repo.file("config/deep.yaml", &text);
    let out = repo.run(&["check", "--format", "json"]).expect_code(1);
    let findings = out.findings();
    assert_eq!(findings.len(), 1, "{}", out.stdout);
    assert_eq!(findings[0]["rule"], "nesting-too-deep");
    assert_eq!(findings[0]["line"], 1);
}

/// Block style nests as deep as flow style: `- - - … x` is 10 000 nested
/// block sequences in 20 kB, far under the size limit.
#[test]
fn block_sequences_nested_10000_deep_are_nesting_too_deep() {
    let repo = TestRepo::standard();
    let text = format!("{}x\n", "- ".repeat(10_000));
    repo.file("config/deep.yaml", &text);
    let out = repo.run(&["check", "--format", "json"]).expect_code(1);
    assert!(out.elapsed < QUICK, "took {:?}", out.elapsed);
    let findings = out.findings();
    assert_eq!(findings.len(), 1, "{}", out.stdout);
    assert_eq!(findings[0]["rule"], "nesting-too-deep", "{}", out.stdout);
    assert_eq!(findings[0]["file"], "config/deep.yaml");
    assert_eq!(findings[0]["line"], 1);
}

/// The 255-level limit holds for block style too, not only for flow style:
/// a 300-deep block mapping (90 kB) is as deep as 300 nested `[`.
#[test]
fn block_mappings_past_the_depth_limit_are_nesting_too_deep() {
    let repo = TestRepo::standard();
    let mut text = String::new();
    for depth in 0..300 {
        text.push_str(&"  ".repeat(depth));
        text.push_str("a:\n");
    }
    text.push_str(&"  ".repeat(300));
    text.push_str("a: 1\n");
    repo.file("config/deep.yaml", &text);
    let out = repo
        .run(&["check", "--format", "json", "config/deep.yaml"])
        .expect_code(1);
    let found = out.findings_of("nesting-too-deep");
    assert_eq!(found.len(), 1, "{}", out.stdout);
    assert_eq!(found[0]["file"], "config/deep.yaml");
}

/// A block mapping nested 10 000 deep needs 50 MB even with one-space
/// indentation: over the default size limit, so it is never parsed.
#[test]
fn block_mappings_nested_10000_deep_hit_a_limit() {
    let repo = TestRepo::standard();
    repo.file("config/deep.yaml", &one_space_block_mapping(10_000));
    let out = repo.run(&["check", "--format", "json"]).expect_code(1);
    assert!(out.elapsed < QUICK, "took {:?}", out.elapsed);
    let findings = out.findings();
    assert_eq!(findings.len(), 1, "{}", out.stdout);
    let rule = findings[0]["rule"].as_str().unwrap();
    assert!(
        rule == "file-too-large" || rule == "nesting-too-deep",
        "{}",
        out.stdout
    );
    assert_eq!(findings[0]["file"], "config/deep.yaml");
}

/// The same 50 MB file with the size limit raised in the manifest: now it is
/// parsed, and the depth limit must stop it.
#[test]
fn block_mappings_nested_10000_deep_with_a_raised_size_limit_are_nesting_too_deep() {
    let repo = TestRepo::standard();
    repo.file(
        "ringmaster.yaml",
        "\
version: 1
limits:
  max_file_bytes: 100000000
schemas:
  - files: \"config/**/*.yaml\"
    schema: schemas/layer.schema.json
",
    );
    repo.file("config/deep.yaml", &one_space_block_mapping(10_000));
    let out = repo.run(&["check", "--format", "json"]).expect_code(1);
    assert!(out.elapsed < QUICK, "took {:?}", out.elapsed);
    let found = out.findings_of("nesting-too-deep");
    assert_eq!(found.len(), 1, "{}", out.stdout);
    assert_eq!(found[0]["file"], "config/deep.yaml");
}

fn one_space_block_mapping(depth: usize) -> String {
    let mut text = String::with_capacity(depth * depth / 2 + depth * 4);
    for d in 0..depth {
        text.push_str(&" ".repeat(d));
        text.push_str("a:\n");
    }
    text.push_str(&" ".repeat(depth));
    text.push_str("a: 1\n");
    text
}

/// `head`, then ten levels of ten aliases each: line k (counting from 0
/// after `head`) is `{key}k: &ak [*a(k-1) ×10]`, the first a list of ten `x`.
fn alias_bomb(head: &str, key: &str) -> String {
    let mut text = format!("{head}{key}0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..10 {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        text.push_str(&format!("{key}{i}: &a{i} [{refs}]\n"));
    }
    text
}

/// "Billion laughs": ten levels of ten aliases each would expand to 10^10
/// nodes. The budget (100 000 nodes) stops it at the alias that crosses it.
#[test]
fn alias_bomb_is_rejected_quickly_at_the_alias_that_crosses_the_budget() {
    let repo = TestRepo::standard();
    repo.file("config/bomb.yaml", &alias_bomb("", "a"));
    let out = repo.run(&["check", "--format", "json"]).expect_code(1);
    assert!(out.elapsed < QUICK, "took {:?}", out.elapsed);
    let findings = out.findings();
    assert_eq!(findings.len(), 1, "{}", out.stdout);
    // a_k holds 1 + 10 + … + 10^(k+1) nodes (a0: 11, a1: 111, …). Lines 2-4
    // expand 10×11 + 10×111 + 10×1111 = 12 330 nodes; on line 5 each `*a3`
    // adds 11 111, so the 8th crosses 100 000. It starts at column 45
    // (`a4: &a4 [` is 9 characters, then 5 per `*a3, `).
    assert_eq!(
        brief(&findings[0]),
        at("alias-limit", "error", "config/bomb.yaml", 5, 45, None)
    );
}

#[test]
fn schema_that_is_not_json_is_schema_invalid_at_the_syntax_error() {
    let repo = TestRepo::standard();
    // The outer `}` is missing: the parser gives up at the end, line 3.
    repo.file(
        "schemas/layer.schema.json",
        "{\"type\": \"object\",\n  \"properties\": {\"a\": 1,}\n",
    );
    repo.file("config/a.yaml", "port: eighty\n");
    let out = repo.run(&["check", "--format", "json"]).expect_code(1);
    let invalid = out.findings_of("schema-invalid");
    assert_eq!(invalid.len(), 1, "{}", out.stdout);
    assert_eq!(invalid[0]["file"], "schemas/layer.schema.json");
    assert_eq!(invalid[0]["line"], 3, "{}", invalid[0]);
    // The schema file is also linted as a file of the repo, so a
    // `yaml-syntax` finding at the same place may accompany it; nothing else.
    for f in out.findings() {
        assert_eq!(f["file"], "schemas/layer.schema.json", "{f}");
        assert_eq!(f["line"], 3, "{f}");
    }
}

#[test]
fn schema_with_a_dangling_ref_is_schema_invalid_at_the_ref() {
    let repo = TestRepo::standard();
    repo.file(
        "schemas/layer.schema.json",
        "{\n  \"type\": \"object\",\n  \"properties\": {\n    \"port\": { \"$ref\": \"other.json#/x\" }\n  }\n}\n",
    );
    repo.file("config/a.yaml", "port: eighty\n");
    let f = only_finding(&repo, &["check", "--format", "json"], 1);
    assert_eq!(f["rule"], "schema-invalid");
    assert_eq!(f["file"], "schemas/layer.schema.json");
    let message = f["message"].as_str().unwrap();
    assert!(message.contains("other.json"), "{message}");
    // The `$ref` value `"other.json#/x"` starts at line 4, column 23.
    assert_eq!(
        (&f["line"], &f["column"]),
        (&4.into(), &23.into()),
        "at the $ref: {f}"
    );
}

#[test]
fn schema_with_a_remote_ref_is_never_fetched() {
    let repo = TestRepo::standard();
    repo.file(
        "schemas/layer.schema.json",
        "{\n  \"type\": \"object\",\n  \"properties\": {\n    \"port\": { \"$ref\": \"https://schemas.invalid/port.json\" }\n  }\n}\n",
    );
    repo.file("config/a.yaml", "port: eighty\n");
    let out = repo.run(&["check", "--format", "json"]).expect_code(1);
    assert!(out.elapsed < QUICK, "took {:?}", out.elapsed);
    let findings = out.findings();
    assert_eq!(findings.len(), 1, "{}", out.stdout);
    assert_eq!(findings[0]["rule"], "schema-invalid");
    assert_eq!(findings[0]["file"], "schemas/layer.schema.json");
    let message = findings[0]["message"].as_str().unwrap();
    assert!(message.contains("network"), "says why: {message}");
}

#[test]
fn manifest_pointing_at_missing_files_gets_a_finding_for_each() {
    let repo = TestRepo::new();
    repo.file(
        "ringmaster.yaml",
        "\
version: 1
schemas:
  - files: \"config/**/*.yaml\"
    schema: schemas/layer.schema.json
effective:
  schema: schemas/service.schema.json
flags: flags/
rings: rings/
",
    );
    repo.file("config/a.yaml", "name: x\n");
    let out = repo.run(&["check", "--format", "json"]).expect_code(1);
    let found = out.findings();
    assert_eq!(found.len(), 4, "{found:#?}");
    // Each at the value that names the missing file or directory.
    let expect = [
        (4, 13, "schemas/layer.schema.json"),
        (6, 11, "schemas/service.schema.json"),
        (7, 8, "flags"),
        (8, 8, "rings"),
    ];
    for (finding, (line, column, name)) in found.iter().zip(expect) {
        let message = finding["message"].as_str().unwrap_or_default();
        assert_location(
            finding,
            ("manifest", "error", "ringmaster.yaml", line, column),
        );
        assert!(message.contains(name), "{message} names {name}");
    }
}

/// `check --format json` exits 2 and its first finding is a `rule` error in
/// the manifest at `line`:`column`.
fn assert_manifest_refused_at(repo: &TestRepo, rule: &str, line: u64, column: u64) {
    let out = repo.run(&["check", "--format", "json"]).expect_code(2);
    assert_eq!(
        brief(&out.findings()[0]),
        at(rule, "error", "ringmaster.yaml", line, column, None)
    );
}

#[test]
fn manifest_that_is_not_utf8_exits_2_naming_the_file_and_line() {
    let repo = TestRepo::new();
    // 0xE9 at line 2, column 11.
    repo.bytes("ringmaster.yaml", b"version: 1\nrings: caf\xe9/\n");
    let out = repo.run(&["check"]).expect_code(2);
    let all = out.all_output();
    assert!(all.contains("ringmaster.yaml:2:11"), "{all}");
    assert!(all.contains("encoding"), "{all}");
    assert_manifest_refused_at(&repo, "encoding", 2, 11);
}

#[test]
fn empty_manifest_exits_2_saying_what_it_needs() {
    let repo = TestRepo::new();
    repo.file("ringmaster.yaml", "# to do\n");
    let out = repo.run(&["check"]).expect_code(2);
    let all = out.all_output();
    assert!(all.contains("ringmaster.yaml"), "{all}");
    assert!(all.contains("version: 1"), "{all}");
}

#[test]
fn manifest_with_a_syntax_error_exits_2_at_the_error() {
    let repo = TestRepo::new();
    // The second `:` on line 2, column 13.
    repo.file("ringmaster.yaml", "version: 1\nrings: rings: x\n");
    assert_manifest_refused_at(&repo, "yaml-syntax", 2, 13);
}

#[test]
fn manifest_alias_bomb_exits_2() {
    let repo = TestRepo::new();
    repo.file("ringmaster.yaml", &alias_bomb("version: 1\n", "x"));
    let out = repo.run(&["check", "--format", "json"]).expect_code(2);
    assert!(out.elapsed < QUICK, "took {:?}", out.elapsed);
    let found = out.findings();
    assert_eq!(found[0]["rule"], "alias-limit", "{}", out.stdout);
    assert_eq!(found[0]["file"], "ringmaster.yaml");
}

/// Everything at once, in one whole-repo run: one finding per bad file, in
/// file order, and the run stays quick.
#[test]
fn all_bad_inputs_together_in_one_run() {
    let repo = TestRepo::standard();
    repo.bytes("config/a-latin1.yaml", b"name: caf\xe9\n")
        .bytes("config/b-binary.yaml", b"\0\x01\x02\x03")
        .file("config/c-empty.yaml", "")
        .file(
            "config/d-deep.yaml",
            &format!("{}{}\n", "[".repeat(10_000), "]".repeat(10_000)),
        )
        .file("config/e-bad.yaml", "name: [x\n")
        .file("config/f-good.yaml", "name: fine\n");
    let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..10 {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        bomb.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
    }
    repo.file("config/g-bomb.yaml", &bomb);
    let out = repo.run(&["check", "--format", "json"]).expect_code(1);
    assert!(out.elapsed < QUICK, "took {:?}", out.elapsed);
    let rules: Vec<(String, String)> = out
        .locations()
        .into_iter()
        .map(|(rule, file, _, _)| (file, rule))
        .collect();
    let expect: Vec<(String, String)> = [
        ("config/a-latin1.yaml", "encoding"),
        ("config/b-binary.yaml", "encoding"),
        ("config/c-empty.yaml", "empty-file"),
        ("config/d-deep.yaml", "nesting-too-deep"),
        ("config/e-bad.yaml", "yaml-syntax"),
        ("config/g-bomb.yaml", "alias-limit"),
    ]
    .iter()
    .map(|(f, r)| (f.to_string(), r.to_string()))
    .collect();
    assert_eq!(rules, expect);
}
