//! A fast scanner for the block YAML most config files are written in.
//!
//! `saphyr-parser` reads every corner of YAML 1.2, and pays for it on every
//! character: on a repo of ordinary config files it was most of `check`'s
//! time. This scanner reads a strict subset (block mappings and sequences
//! with plain keys; plain, quoted and empty scalars on one line; one-line
//! flow sequences of scalars and `{}`; comments) and produces the events,
//! with the start positions, that saphyr produces for the same text. For
//! anything outside the subset, anything it is not sure of and every error,
//! it gives up (`None`) and the file goes to saphyr, so findings and their
//! wording always come from one reader.
//!
//! The builder reads only each event's start marker (end markers matter for
//! block scalars and surrogate-pair rewrites, both outside the subset); end
//! markers here are best effort. `document.rs` tests this scanner against
//! saphyr over generated documents, event by event.

use std::borrow::Cow;

use saphyr_parser::{Event, Marker, ScalarStyle, Span};

/// Past this depth the file goes to saphyr, which has its own limit (255).
const MAX_DEPTH: usize = 100;
/// saphyr refuses implicit keys longer than 1024 characters.
const MAX_KEY_CHARS: usize = 1000;

pub(crate) type Events<'t> = Vec<(Event<'t>, Span)>;

/// The events saphyr would produce for `text`, or `None` when the text is
/// outside the subset (or not valid YAML).
pub(crate) fn events(text: &str) -> Option<Events<'_>> {
    if !text.is_ascii() && !text.chars().all(plain_char) {
        return None;
    }
    if text.bytes().any(|b| (b < 0x20 && b != b'\n') || b == 0x7F) {
        return None;
    }
    let mut scanner = Scanner::new(text);
    scanner.stream()?;
    Some(scanner.out)
}

/// Characters the subset reads like any other: no control characters, no
/// line or paragraph separators, no byte-order mark, nothing YAML forbids.
fn plain_char(c: char) -> bool {
    match c {
        '\n' => true,
        '\u{0}'..='\u{1F}' | '\u{7F}'..='\u{9F}' => false,
        '\u{2028}' | '\u{2029}' | '\u{FEFF}' | '\u{FFFE}' | '\u{FFFF}' => false,
        _ => true,
    }
}

struct Line<'t> {
    text: &'t str,
    /// Char index of the line's first character.
    char_start: usize,
    /// 1-based.
    number: usize,
    indent: usize,
    ascii: bool,
}

impl Line<'_> {
    fn marker(&self, byte: usize) -> Marker {
        let col = if self.ascii {
            byte
        } else {
            self.text[..byte].chars().count()
        };
        Marker::new(self.char_start + col, self.number, col)
    }
}

struct Scanner<'t> {
    /// Lines with content (not blank, not only a comment).
    lines: Vec<Line<'t>>,
    /// The line being read.
    at: usize,
    depth: usize,
    /// Where the text ends.
    end: Marker,
    out: Events<'t>,
}

fn span(m: Marker) -> Span {
    Span::new(m, m)
}

fn is_key_start(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'/' | b'$')
}

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/' | b'$' | b'+' | b'=' | b'@')
}

/// Skips spaces from `at`.
fn skip_spaces(s: &str, at: usize) -> usize {
    at + s[at..].bytes().take_while(|b| *b == b' ').count()
}

/// After a value ends at `at`: nothing but spaces, then maybe a comment
/// (which needs a space before its `#`).
fn only_comment_after(s: &str, at: usize) -> bool {
    let rest = &s[at..];
    let trimmed = rest.trim_start_matches(' ');
    trimmed.is_empty() || (trimmed.starts_with('#') && trimmed.len() < rest.len())
}

impl<'t> Scanner<'t> {
    fn new(text: &'t str) -> Self {
        let mut lines = Vec::with_capacity(text.len() / 24 + 4);
        let mut char_start = 0;
        let mut number = 0;
        let mut last = Marker::new(0, 1, 0);
        for raw in text.split('\n') {
            number += 1;
            let ascii = raw.is_ascii();
            let chars = if ascii {
                raw.len()
            } else {
                raw.chars().count()
            };
            let indent = raw.bytes().take_while(|b| *b == b' ').count();
            let content = &raw[indent..];
            if !content.is_empty() && !content.starts_with('#') {
                lines.push(Line {
                    text: raw,
                    char_start,
                    number,
                    indent,
                    ascii,
                });
            }
            last = Marker::new(char_start + chars, number, chars);
            char_start += chars + 1;
        }
        // About two events a line: growing the list was a tenth of the scan.
        let out = Vec::with_capacity(lines.len() * 2 + 8);
        Scanner {
            lines,
            at: 0,
            depth: 0,
            end: last,
            out,
        }
    }

    fn push(&mut self, event: Event<'t>, start: Marker, end: Marker) {
        self.out.push((event, Span::new(start, end)));
    }

    fn line(&self) -> Option<&Line<'t>> {
        self.lines.get(self.at)
    }

    fn stream(&mut self) -> Option<()> {
        self.out
            .push((Event::StreamStart, span(Marker::new(0, 1, 0))));
        let first = self.lines.first()?;
        let mut explicit = false;
        if first.indent == 0 && first.text.starts_with("---") {
            if first.text.trim_end_matches(' ') != "---" {
                return None;
            }
            explicit = true;
            self.at = 1;
        }
        // Directives, document markers and a root that is not a collection
        // are saphyr's.
        for line in &self.lines[self.at..] {
            let t = line.text;
            if line.indent == 0
                && (t.starts_with('%') || t.starts_with("---") || t.starts_with("..."))
            {
                return None;
            }
        }
        let root = self.line()?;
        let start = root.marker(root.indent);
        let (indent, text) = (root.indent, root.text);
        self.push(Event::DocumentStart(explicit), start, start);
        if is_dash(text, indent) {
            self.sequence(indent, false)?;
        } else {
            self.mapping(indent, indent)?;
        }
        if self.at != self.lines.len() {
            return None;
        }
        let end = self.end;
        self.push(Event::DocumentEnd, end, end);
        self.push(Event::StreamEnd, end, end);
        Some(())
    }

    fn enter(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= MAX_DEPTH).then_some(())
    }

    /// A block mapping whose first key is at byte `from` of the current line,
    /// in column `indent` (the line's own indentation, or after a `- `).
    fn mapping(&mut self, indent: usize, from: usize) -> Option<()> {
        self.enter()?;
        let mut from = from;
        let line = self.line()?;
        let start = line.marker(from);
        self.push(Event::MappingStart(0, None), start, start);
        loop {
            let line = self.line()?;
            let text = line.text;
            let colon = key_end(text, from)?;
            let key_start = line.marker(from);
            let colon_mark = line.marker(colon);
            self.push(
                Event::Scalar(
                    Cow::Borrowed(&text[from..colon]),
                    ScalarStyle::Plain,
                    0,
                    None,
                ),
                key_start,
                colon_mark,
            );
            let value_at = skip_spaces(text, colon + 1);
            if value_at == text.len() || text.as_bytes()[value_at] == b'#' {
                if value_at < text.len() && value_at == colon + 1 {
                    return None;
                }
                self.at += 1;
                match self.line() {
                    Some(next) if next.indent > indent => {
                        let (i, t) = (next.indent, next.text);
                        if is_dash(t, i) {
                            self.sequence(i, false)?;
                        } else {
                            self.mapping(i, i)?;
                        }
                    }
                    Some(next) if next.indent == indent && is_dash(next.text, indent) => {
                        self.sequence(indent, true)?;
                    }
                    _ => self.push(
                        Event::Scalar(Cow::Borrowed(""), ScalarStyle::Plain, 0, None),
                        colon_mark,
                        colon_mark,
                    ),
                }
            } else {
                self.inline_value(value_at)?;
                self.at += 1;
                if self.line().is_some_and(|next| next.indent > indent) {
                    return None;
                }
            }
            match self.line() {
                Some(next) if next.indent == indent => {
                    if is_dash(next.text, indent) {
                        return None;
                    }
                    from = indent;
                }
                Some(next) if next.indent > indent => return None,
                _ => break,
            }
        }
        let end = self.here();
        self.push(Event::MappingEnd, end, end);
        self.depth -= 1;
        Some(())
    }

    /// A block sequence whose dashes are in column `indent`; `indentless`
    /// when it is a mapping value at the mapping's own indentation.
    fn sequence(&mut self, indent: usize, indentless: bool) -> Option<()> {
        self.enter()?;
        let line = self.line()?;
        let start = if indentless {
            line.marker(after_dash(line.text, indent))
        } else {
            line.marker(indent)
        };
        self.push(Event::SequenceStart(0, None), start, start);
        loop {
            let line = self.line()?;
            let text = line.text;
            let item = skip_spaces(text, indent + 1);
            if item == text.len() || text.as_bytes()[item] == b'#' {
                if item < text.len() && item == indent + 1 {
                    return None;
                }
                let empty = line.marker(after_dash(text, indent));
                self.at += 1;
                match self.line() {
                    Some(next) if next.indent > indent => {
                        let (i, t) = (next.indent, next.text);
                        if is_dash(t, i) {
                            self.sequence(i, false)?;
                        } else {
                            self.mapping(i, i)?;
                        }
                    }
                    _ => self.push(
                        Event::Scalar(Cow::Borrowed(""), ScalarStyle::Plain, 0, None),
                        empty,
                        empty,
                    ),
                }
            } else if is_dash(text, item) {
                return None;
            } else if key_end(text, item).is_some() {
                self.mapping(item, item)?;
            } else {
                self.inline_value(item)?;
                self.at += 1;
                if self.line().is_some_and(|next| next.indent > indent) {
                    return None;
                }
            }
            match self.line() {
                Some(next) if next.indent == indent && is_dash(next.text, indent) => {}
                Some(next) if next.indent > indent => return None,
                Some(next) if next.indent == indent && !indentless => return None,
                _ => break,
            }
        }
        let end = self.here();
        self.push(Event::SequenceEnd, end, end);
        self.depth -= 1;
        Some(())
    }

    /// Where the next content line starts, or the end of the text.
    fn here(&self) -> Marker {
        self.line()
            .map_or(self.end, |line| line.marker(line.indent))
    }

    /// A value on the rest of the current line, from byte `at`.
    fn inline_value(&mut self, at: usize) -> Option<()> {
        let line = self.line()?;
        let text = line.text;
        let (event, end) = match text.as_bytes()[at] {
            b'"' | b'\'' => {
                let (value, style, end) = quoted(text, at)?;
                (Event::Scalar(value, style, 0, None), end)
            }
            b'[' => return self.flow_sequence(at),
            b'{' => {
                if !text[at..].starts_with("{}") || !only_comment_after(text, at + 2) {
                    return None;
                }
                let (start, end) = (line.marker(at), line.marker(at + 1));
                let close = line.marker(at + 2);
                self.depth_check()?;
                self.push(Event::MappingStart(0, None), start, end);
                self.push(Event::MappingEnd, end, close);
                return Some(());
            }
            _ => {
                let end = plain_block(text, at)?;
                (
                    Event::Scalar(Cow::Borrowed(&text[at..end]), ScalarStyle::Plain, 0, None),
                    end,
                )
            }
        };
        if !only_comment_after(text, end) {
            return None;
        }
        let (start, end) = (line.marker(at), line.marker(end));
        self.push(event, start, end);
        Some(())
    }

    fn depth_check(&self) -> Option<()> {
        (self.depth < MAX_DEPTH).then_some(())
    }

    /// `[a, "b", 'c']` on one line: scalars only.
    fn flow_sequence(&mut self, open: usize) -> Option<()> {
        self.depth_check()?;
        let line = self.line()?;
        let text = line.text;
        let mut events = Vec::new();
        let start = line.marker(open);
        events.push((
            Event::SequenceStart(0, None),
            Span::new(start, line.marker(open + 1)),
        ));
        let mut at = skip_spaces(text, open + 1);
        let bytes = text.as_bytes();
        let close;
        if bytes.get(at) == Some(&b']') {
            close = at;
        } else {
            loop {
                let (event, end) = match *bytes.get(at)? {
                    b'"' | b'\'' => {
                        let (value, style, end) = quoted(text, at)?;
                        (Event::Scalar(value, style, 0, None), end)
                    }
                    _ => {
                        let end = plain_flow(text, at)?;
                        (
                            Event::Scalar(
                                Cow::Borrowed(&text[at..end]),
                                ScalarStyle::Plain,
                                0,
                                None,
                            ),
                            end,
                        )
                    }
                };
                events.push((event, Span::new(line.marker(at), line.marker(end))));
                at = skip_spaces(text, end);
                match *bytes.get(at)? {
                    b',' => {
                        at = skip_spaces(text, at + 1);
                        if matches!(bytes.get(at), None | Some(b']' | b',')) {
                            return None;
                        }
                    }
                    b']' => {
                        close = at;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        if !only_comment_after(text, close + 1) {
            return None;
        }
        let end = line.marker(close);
        events.push((Event::SequenceEnd, Span::new(end, line.marker(close + 1))));
        self.out.extend(events);
        Some(())
    }
}

/// Whether a `-` entry indicator is at byte `at`.
fn is_dash(text: &str, at: usize) -> bool {
    let rest = &text.as_bytes()[at.min(text.len())..];
    rest.first() == Some(&b'-') && matches!(rest.get(1), None | Some(b' '))
}

/// Where the scanner stands after a `-` at `at`: past spaces and a comment.
fn after_dash(text: &str, at: usize) -> usize {
    let next = skip_spaces(text, at + 1);
    if text.as_bytes().get(next) == Some(&b'#') && next > at + 1 {
        text.len()
    } else {
        next
    }
}

/// The byte of the `:` ending a plain key that starts at `from`: the key
/// is `[A-Za-z0-9_/$][A-Za-z0-9_./$+=@-]*`, and its `:` is followed by a space or
/// the end of the line.
fn key_end(text: &str, from: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    if !is_key_start(*bytes.get(from)?) {
        return None;
    }
    let len = bytes[from..]
        .iter()
        .take_while(|b| is_key_byte(**b))
        .count();
    let colon = from + len;
    (len <= MAX_KEY_CHARS
        && bytes.get(colon) == Some(&b':')
        && matches!(bytes.get(colon + 1), None | Some(b' ')))
    .then_some(colon)
}

/// A quoted scalar starting at `at`, closed on the same line: its value,
/// style and the byte after the closing quote. Double-quoted scalars with
/// escapes are saphyr's.
fn quoted(text: &str, at: usize) -> Option<(Cow<'_, str>, ScalarStyle, usize)> {
    let bytes = text.as_bytes();
    if bytes[at] == b'"' {
        let len = bytes[at + 1..].iter().position(|b| *b == b'"')?;
        let body = &text[at + 1..at + 1 + len];
        if body.contains('\\') {
            return None;
        }
        return Some((Cow::Borrowed(body), ScalarStyle::DoubleQuoted, at + len + 2));
    }
    let mut i = at + 1;
    let mut escaped = false;
    loop {
        let quote = i + bytes[i..].iter().position(|b| *b == b'\'')?;
        if bytes.get(quote + 1) == Some(&b'\'') {
            escaped = true;
            i = quote + 2;
            continue;
        }
        let body = &text[at + 1..quote];
        let value = if escaped {
            Cow::Owned(body.replace("''", "'"))
        } else {
            Cow::Borrowed(body)
        };
        return Some((value, ScalarStyle::SingleQuoted, quote + 1));
    }
}

/// Whether a plain scalar may start with this byte (and the next).
fn plain_start(first: u8, second: Option<u8>) -> bool {
    match first {
        b'-' | b'.' | b'+' => second.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'.'),
        b'?' | b':' | b',' | b'[' | b']' | b'{' | b'}' | b'#' | b'&' | b'*' | b'!' | b'|'
        | b'>' | b'\'' | b'"' | b'%' | b'@' | b'`' | b' ' => false,
        _ => true,
    }
}

/// The end (exclusive, trailing spaces trimmed) of a one-line plain scalar
/// in block context starting at `at`.
fn plain_block(text: &str, at: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    if !plain_start(bytes[at], bytes.get(at + 1).copied()) {
        return None;
    }
    let mut end = text.len();
    let mut i = at;
    while i < bytes.len() {
        match bytes[i] {
            b':' if matches!(bytes.get(i + 1), None | Some(b' ')) => return None,
            b'#' if bytes[i - 1] == b' ' => {
                end = i;
                break;
            }
            _ => {}
        }
        i += 1;
    }
    let trimmed = text[at..end].trim_end_matches(' ').len();
    (trimmed > 0).then_some(at + trimmed)
}

/// The end of a plain scalar inside `[...]`: no flow indicators, `:` or `#`.
fn plain_flow(text: &str, at: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    if !plain_start(bytes[at], bytes.get(at + 1).copied()) {
        return None;
    }
    let len = bytes[at..].iter().position(|b| matches!(b, b',' | b']'))?;
    let item = &text[at..at + len];
    if item.contains([':', '#', '[', '{', '}', '"', '\'']) {
        return None;
    }
    let trimmed = item.trim_end_matches(' ').len();
    (trimmed > 0).then_some(at + trimmed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::document::{self, Limits, ParseOptions, YamlVersion};
    use proptest::prelude::*;
    use saphyr_parser::Parser;

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
        "null", "~", "a b", "<<", "-k", ".k", "x=y", "_", "é", "\"q\"", "'s'", "k:", "? k", "a",
        "b", "c", "x+y", "a#b", "a # c",
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
    fn duplicate_keys_name_the_latest_earlier_one_and_the_last_value_stays_in_mappings_of_any_size()
    {
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
}
