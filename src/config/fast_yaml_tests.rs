//! The fast YAML scanner (`fast_yaml.rs`) against saphyr: event by event
//! over generated documents, and the whole parse with and without it.

use proptest::prelude::*;
use saphyr_parser::{Event, Parser, Span};

use crate::config::document::{self, Limits, ParseOptions, YamlVersion};
use crate::config::fast_yaml::events;

/// An event as the builder reads it: end markers and the positions of
/// events it ignores are left out.
fn shown(event: &Event<'_>, span: &Span) -> String {
    match event {
        Event::SequenceEnd
        | Event::MappingEnd
        | Event::StreamStart
        | Event::StreamEnd
        | Event::DocumentEnd
        | Event::DocumentStart(_) => format!("{event:?}"),
        _ => format!(
            "{event:?} at {}/{}:{}",
            span.start.index(),
            span.start.line(),
            span.start.col()
        ),
    }
}

/// saphyr's events, or its error.
fn saphyr(text: &str) -> Result<Vec<String>, String> {
    let mut parser = Parser::new_from_str(text);
    let mut out = Vec::new();
    while let Some(next) = parser.next_event() {
        match next {
            Ok((event, span)) => out.push(shown(&event, &span)),
            Err(e) => return Err(format!("{e:?}")),
        }
    }
    Ok(out)
}

/// The scanner agrees with saphyr where it reads a text at all, and the
/// whole parse (tree, positions, findings) is the same with and without it.
fn agrees(text: &str) -> Result<bool, TestCaseError> {
    let Some(fast) = events(text) else {
        return Ok(false);
    };
    let fast: Vec<String> = fast.iter().map(|(e, s)| shown(e, s)).collect();
    let slow = saphyr(text);
    prop_assert_eq!(Ok(fast), slow, "events differ for {:?}", text);
    for file in ["t.yaml", "t.json"] {
        for options in [ParseOptions::default(), ParseOptions::TOOLS] {
            let limits = Limits::default();
            let with = document::parse_with(file, text.as_bytes().to_vec(), &limits, options);
            let without =
                document::parse_with_saphyr(file, text.as_bytes().to_vec(), &limits, options);
            prop_assert_eq!(
                format!("{:?}", (&with.docs, &with.diagnostics)),
                format!("{:?}", (&without.docs, &without.diagnostics)),
                "parse differs for {:?} ({}, {:?})",
                text,
                file,
                options.version == YamlVersion::V1_1
            );
        }
    }
    Ok(true)
}

/// A small deterministic generator: documents built from pieces chosen
/// to sit on the subset's edges, then damaged a little.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len())]
    }
}

const KEYS: &[&str] = &[
    "a", "b", "port", "name", "on", "yes", "1", "2.5", "/v1/x", "$ref", "a.b", "a-b", "k@x",
    "null", "~", "a b", "<<", "-k", ".k", "x=y", "_", "é", "\"q\"", "'s'", "k:", "? k", "a", "b",
    "c", "x+y", "a#b", "a # c",
];

const SCALARS: &[&str] = &[
    "1",
    "-5",
    "0.5",
    ".inf",
    "-.inf",
    ".nan",
    "yes",
    "no",
    "on",
    "off",
    "null",
    "~",
    "",
    "abc",
    "a b",
    "a#b",
    "a #c",
    "a: b",
    "a:b",
    "a:",
    "http://x:1/y",
    "\"dq\"",
    "\"d q # x\"",
    "\"a\\\"b\"",
    "\"\\u00e9\"",
    "'sq'",
    "'it''s'",
    "'a' b",
    "''",
    "\"\"",
    "[]",
    "[1, 2]",
    "[a, \"b\", 'c']",
    "[a,]",
    "[ a , b ]",
    "[a b, -1, .5]",
    "[a, [b]]",
    "[a: 1]",
    "{}",
    "{ }",
    "{a: 1}",
    "&x v",
    "*x",
    "!!str 1",
    "!unset",
    "|",
    ">-",
    "-",
    "- x",
    "-x",
    "@x",
    "`x",
    "%x",
    "0o17",
    "0x1F",
    "1e3",
    "é ü",
    "0755",
    "1_000",
    "12:30",
    "a,b",
    "+1",
    ".5",
    "\"unterminated",
    "'unterminated",
    "a  b  ",
    "#c",
    "x # y # z",
    "true",
    "False",
    "123456789012345678901234567890",
    "2001-12-14",
    "=",
    "<<",
    "?x",
    ":x",
    "a\\b",
    "\\ud83d\\udca9",
    "C:\\x",
    "[\"a\\\"\"]",
    "[é, 'ü']",
    "{}  # c",
    "[]#c",
];

/// What most config files hold.
const COMMON_SCALARS: &[&str] = &[
    "1",
    "8080",
    "0.316",
    "true",
    "abc",
    "svc-01",
    "a b c",
    "\"x@example.com\"",
    "/etc/x.crt",
    "'q'",
    "[0.1, 1.0]",
    "[]",
    "-5",
    "null",
    "0.0.0.0:6379",
];

const COMMON_KEYS: &[&str] = &["name", "port", "host", "tls", "a", "b", "enabled", "x_y"];

fn key(g: &mut Gen) -> &'static str {
    if g.below(4) == 0 {
        g.pick(KEYS)
    } else {
        g.pick(COMMON_KEYS)
    }
}

fn scalar(g: &mut Gen) -> String {
    let mut s = if g.below(3) == 0 {
        g.pick(SCALARS).to_owned()
    } else {
        g.pick(COMMON_SCALARS).to_owned()
    };
    match g.below(6) {
        0 => s.push_str("   "),
        1 => s.push_str(" # note"),
        _ => {}
    }
    s
}

fn node(g: &mut Gen, out: &mut String, indent: usize, depth: usize, dash: bool) {
    let pad = " ".repeat(indent);
    let step = [1, 2, 2, 2, 3, 4][g.below(6)];
    let as_seq = g.below(3) == 0;
    let count = 1 + g.below(4);
    for i in 0..count {
        // The first entry of a `- ` item continues the dash's line.
        let lead = if dash && i == 0 { "" } else { pad.as_str() };
        if g.below(8) == 0 {
            out.push_str(&format!("{}# comment\n", " ".repeat(g.below(indent + 3))));
        }
        if g.below(10) == 0 {
            out.push('\n');
        }
        if as_seq {
            out.push_str(lead);
            out.push('-');
            match g.below(if depth > 3 { 1 } else { 4 }) {
                0 => out.push_str(&format!(" {}\n", scalar(g))),
                1 => {
                    out.push(' ');
                    node(g, out, indent + 2, depth + 1, true);
                }
                2 => {
                    out.push_str([" # c\n", "\n", "  \n"][g.below(3)]);
                    if g.below(4) > 0 {
                        node(g, out, indent + step, depth + 1, false);
                    }
                }
                _ => {
                    out.push(' ');
                    node(g, out, indent + 2, depth + 1, true);
                }
            }
        } else {
            out.push_str(lead);
            out.push_str(key(g));
            out.push(':');
            match g.below(if depth > 3 { 1 } else { 4 }) {
                0 => out.push_str(&format!(" {}\n", scalar(g))),
                1 => {
                    out.push_str([" # c\n", "\n", "   \n"][g.below(3)]);
                    if g.below(5) > 0 {
                        node(g, out, indent + step, depth + 1, false);
                    }
                }
                2 => {
                    out.push('\n');
                    // An indentless sequence, or one indented.
                    let at = if g.below(2) == 0 {
                        indent
                    } else {
                        indent + step
                    };
                    let pad = " ".repeat(at);
                    for _ in 0..1 + g.below(3) {
                        out.push_str(&format!("{pad}- {}\n", scalar(g)));
                    }
                }
                _ => out.push('\n'),
            }
        }
    }
}

/// A generated document, with a few random edits.
fn document(seed: u64) -> String {
    let mut g = Gen(seed | 1);
    let mut out = String::new();
    if g.below(8) == 0 {
        out.push_str("---\n");
    }
    if g.below(4) == 0 {
        out.push_str("# header\n");
    }
    let indent = if g.below(10) == 0 { 2 } else { 0 };
    node(&mut g, &mut out, indent, 0, false);
    for _ in 0..g.below(3).saturating_sub(1) {
        let lines: Vec<&str> = out.split('\n').collect();
        let at = g.below(lines.len());
        let mut lines: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
        match g.below(5) {
            0 => lines[at].insert_str(0, [" ", "  ", "\t"][g.below(3)]),
            1 => {
                let trimmed = lines[at].trim_start().to_owned();
                lines[at] = trimmed;
            }
            2 => {
                lines.remove(at);
            }
            3 => {
                let copy = lines[at].clone();
                lines.insert(at, copy);
            }
            _ => {
                let line = &mut lines[at];
                let mut pos = g.below(line.len() + 1);
                while !line.is_char_boundary(pos) {
                    pos -= 1;
                }
                let piece = [
                    " ", ":", "-", "#", "\"", "'", "[", "]", "{", "\r", "é", "\\", ",", "---",
                    "...",
                ][g.below(15)];
                line.insert_str(pos, piece);
            }
        }
        out = lines.join("\n");
    }
    if g.below(6) == 0 {
        out.pop();
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn the_fast_scanner_reads_what_saphyr_reads(seed in any::<u64>()) {
        agrees(&document(seed))?;
    }
}

#[test]
fn the_generator_reaches_the_fast_path_and_past_it() {
    let (mut fast, mut slow) = (0, 0);
    for seed in 1..3000u64 {
        let text = document(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        match agrees(&text) {
            Ok(true) => fast += 1,
            Ok(false) => slow += 1,
            Err(e) => panic!("{e}"),
        }
    }
    // Both sides of the fallback are exercised, each substantially.
    assert!(fast > 600 && slow > 600, "fast {fast}, slow {slow}");
}

#[test]
fn typical_config_files_take_the_fast_path_with_saphyrs_positions() {
    for text in [
        "# c\nsvc:\n  name: abc  # x\n  empty:\n  q: \"a b\"\n  s: 'it''s'\n  list:\n  - a\n  -   b\n  - k: 1\n    j:\n  -\n  - [1, \"x\", y z]\n  e: []\n  f: {}\n  g:\n    - 1\nroot2: -5\nlast:\n",
        "a:\n- k: 1\nb:\n-\n  - x\nc:\n-   \nd:  # c\ne:   \nf:\n- # c\n  - y\ng:\n-\nh:\n- [a]\n- x\n",
        "---\n- a\n- b: é\n  c: [é, 'ü']\n",
        "routes:\n  /v1/x:\n    $ref: a\n",
    ] {
        assert_eq!(agrees(text).map_err(|e| e.to_string()), Ok(true), "{text}");
    }
}

#[test]
fn duplicate_keys_name_the_latest_earlier_one_and_the_last_value_stays_in_mappings_of_any_size() {
    use crate::config::document::Value;
    for size in [4, 40] {
        let mut text = String::new();
        for i in 0..size {
            text.push_str(&format!("k{i}: {i}\n"));
            if i == 1 || i == size - 2 {
                text.push_str(&format!("dup: {i}\n"));
            }
        }
        text.push_str("dup: last\n");
        let parsed = document::parse("t.yaml", text.as_bytes(), &Limits::default());
        let lines: Vec<String> = parsed
            .diagnostics
            .iter()
            .map(|d| format!("{}:{} {}", d.pos.line, d.pos.col, d.message))
            .collect();
        let second = size as u32 + 1;
        assert_eq!(
            lines,
            [
                format!("{second}:1 duplicate key `dup`: it is already defined at line 3"),
                format!(
                    "{}:1 duplicate key `dup`: it is already defined at line {second}",
                    size + 3
                ),
            ]
        );
        let root = parsed.docs[0].value.as_map().expect("a mapping");
        assert_eq!(root.len(), size + 1);
        assert_eq!(root.last().map(|e| e.key.as_str()), Some("dup"));
        assert_eq!(
            root.last().map(|e| &e.value.value),
            Some(&Value::Str("last".into()))
        );
    }
}

#[test]
fn plain_scalars_read_as_strings_whatever_the_parse_path_or_yaml_version() {
    // The builder takes scalars starting with most letters as strings
    // without trying the number parsers: what those parsers would say.
    let tails = [
        "", "es", "ff", "n", "ull", "rue", "1", "0", "x1F", "o17", ":30", "_000", ".5", "e3",
        ".inf", "an", "1:30", " b", "-1",
    ];
    for head in ('a'..='z').chain('A'..='Z') {
        for tail in tails {
            let text = format!("{head}{tail}");
            let full = document::resolve_plain(&text);
            let word = !"tTfFnNyYoO".contains(head);
            if word {
                assert_eq!(full, document::Value::Str(text.clone()), "{text}");
                assert!(!document::differs_in_yaml11(&text), "{text}");
            }
            let parsed = document::parse(
                "t.yaml",
                format!("k: {text}\n").as_bytes(),
                &Limits::default(),
            );
            let root = parsed.docs[0].get("k").expect("the key");
            assert_eq!(root.value.value, full, "{text}");
        }
    }
}

#[test]
fn what_the_subset_leaves_out_goes_to_saphyr() {
    for text in [
        "a: |\n  x\n",
        "a: &x 1\nb: *x\n",
        "a: !unset\n",
        "\"a\": 1\n",
        "a: 1\n  b\n",
        "a:\n- # c\n  y\n",
        "a: \"\\u00e9\"\n",
        "a:\n\tb: 1\n",
        "a: 1\r\n",
        "{a: 1}\n",
        "plain\n",
        "a: 1\n---\nb: 2\n",
        "a: [1,\n  2]\n",
        "<<: {}\n",
        "",
        "# only a comment\n",
    ] {
        assert!(events(text).is_none(), "{text:?}");
    }
}

/// The scanner feeds the builder as it reads, and may give up on the last
/// line: findings and nodes built from the lines before must not survive
/// into saphyr's parse. Also when the builder stopped at a limit first.
#[test]
fn a_text_the_scanner_gives_up_on_late_parses_as_saphyr_alone_parses_it() {
    let shallow = Limits {
        max_depth: 3,
        ..Limits::default()
    };
    for (text, gives_up) in [
        // A duplicate key and a YAML 1.1 disagreement, then an anchor.
        ("a: 1\na: 2\nb: yes\nc:\n  d: [x, y]\ne: &x 1\n", true),
        ("a: 1\nb: off\nc: \"unterminated\n", true),
        // Deeper than the limit, then outside the subset, then inside.
        (
            "a:\n  b:\n    c:\n      d:\n        e: 1\nf: |\n  x\n",
            true,
        ),
        ("a:\n  b:\n    c:\n      d:\n        e: 1\nf: 2\n", false),
        ("- a: 1\n  a: 2\n- [1, 2]\n- !!str x\n", true),
    ] {
        assert_eq!(events(text).is_none(), gives_up, "{text:?}");
        for limits in [Limits::default(), shallow.clone()] {
            for options in [ParseOptions::default(), ParseOptions::TOOLS] {
                let with = document::parse_with("t.yaml", text.into(), &limits, options);
                let without = document::parse_with_saphyr("t.yaml", text.into(), &limits, options);
                assert_eq!(
                    format!("{:?}", (&with.docs, &with.diagnostics)),
                    format!("{:?}", (&without.docs, &without.diagnostics)),
                    "{text:?} (max depth {})",
                    limits.max_depth
                );
            }
        }
    }
}

proptest! {
    /// The block-wise control-byte test answers as the byte-by-byte one.
    #[test]
    fn control_bytes_are_found_wherever_they_sit(
        bytes in proptest::collection::vec(
            prop_oneof![4 => 0x20u8..0x7F, 1 => Just(b'\n'), 1 => any::<u8>()],
            0..300,
        ),
    ) {
        let byte_by_byte = bytes.iter().any(|&b| (b < 0x20 && b != b'\n') || b == 0x7F);
        prop_assert_eq!(crate::config::fast_yaml::has_control_bytes(&bytes), byte_by_byte);
    }
}
