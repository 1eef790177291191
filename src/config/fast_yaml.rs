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
//! markers here are best effort. `fast_yaml_tests.rs` tests this scanner against
//! saphyr over generated documents, event by event.

use std::borrow::Cow;

use saphyr_parser::{Event, Marker, ScalarStyle, Span};

/// Past this depth the file goes to saphyr, which has its own limit (255).
const MAX_DEPTH: usize = 100;
/// saphyr refuses implicit keys longer than 1024 characters.
const MAX_KEY_CHARS: usize = 1000;

pub(crate) type Events<'t> = Vec<(Event<'t>, Span)>;

/// Where the scanner's events go, in text order.
pub(crate) trait Sink<'t> {
    fn event(&mut self, event: Event<'t>, span: Span);
}

impl<'t> Sink<'t> for Events<'t> {
    fn event(&mut self, event: Event<'t>, span: Span) {
        self.push((event, span));
    }
}

/// The events saphyr would produce for `text`, or `None` when the text is
/// outside the subset (or not valid YAML).
#[cfg(test)]
pub(crate) fn events(text: &str) -> Option<Events<'_>> {
    let mut out = Vec::new();
    scan(text, &mut out)?;
    Some(out)
}

/// Gives `sink` the events saphyr would produce for `text` as they are
/// read; `None` when the text is outside the subset (or not valid YAML),
/// found at any point of the text: the sink may then have had some of
/// them, and what it made of them must be dropped.
pub(crate) fn scan<'t>(text: &'t str, sink: &mut impl Sink<'t>) -> Option<()> {
    if !text.is_ascii() && !text.chars().all(plain_char) {
        return None;
    }
    if has_control_bytes(text.as_bytes()) {
        return None;
    }
    Scanner::new(text, sink).stream()
}

/// Whether any byte is a control character other than a line feed (tabs,
/// CR, DEL…: outside the subset). Read in blocks without an early exit
/// inside one, which the compiler turns into vector code: byte by byte,
/// this pass over every file cost a twentieth of `check`.
pub(crate) fn has_control_bytes(bytes: &[u8]) -> bool {
    bytes.chunks(64).any(|block| {
        block.iter().fold(false, |bad, &b| {
            bad | ((b < 0x20) & (b != b'\n')) | (b == 0x7F)
        })
    })
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

#[derive(Clone, Copy)]
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

struct Scanner<'t, 's, S> {
    /// Lines with content (not blank, not only a comment).
    lines: Vec<Line<'t>>,
    /// The line being read.
    at: usize,
    depth: usize,
    /// Where the text ends.
    end: Marker,
    out: &'s mut S,
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

impl<'t, 's, S: Sink<'t>> Scanner<'t, 's, S> {
    fn new(text: &'t str, out: &'s mut S) -> Self {
        let mut lines = Vec::with_capacity(text.len() / 24 + 4);
        let mut char_start = 0;
        let mut number = 0;
        let mut last;
        // `split('\n')`, by hand: a `memchr` call per short line cost
        // several times the plain loop.
        let bytes = text.as_bytes();
        let mut start = 0;
        loop {
            let end = bytes[start..]
                .iter()
                .position(|b| *b == b'\n')
                .map_or(bytes.len(), |i| start + i);
            // A line feed is one byte and never inside a character.
            let raw = &text[start..end];
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
            if end == bytes.len() {
                break;
            }
            start = end + 1;
        }
        Scanner {
            lines,
            at: 0,
            depth: 0,
            end: last,
            out,
        }
    }

    fn push(&mut self, event: Event<'t>, start: Marker, end: Marker) {
        self.out.event(event, Span::new(start, end));
    }

    fn line(&self) -> Option<&Line<'t>> {
        self.lines.get(self.at)
    }

    fn stream(&mut self) -> Option<()> {
        self.out
            .event(Event::StreamStart, span(Marker::new(0, 1, 0)));
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
                    Some(next) if next.indent > indent => self.nested(next.indent, next.text)?,
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

    /// A block node on the next line, more indented than its key or dash:
    /// a sequence when the line starts with a dash, else a mapping.
    fn nested(&mut self, indent: usize, text: &str) -> Option<()> {
        if is_dash(text, indent) {
            self.sequence(indent, false)
        } else {
            self.mapping(indent, indent)
        }
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
                    Some(next) if next.indent > indent => self.nested(next.indent, next.text)?,
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
        let line = *self.line()?;
        let text = line.text;
        let start = line.marker(open);
        // Straight to the sink: a line that turns out not to be in the
        // subset fails the whole text.
        self.push(Event::SequenceStart(0, None), start, line.marker(open + 1));
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
                self.push(event, line.marker(at), line.marker(end));
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
        self.push(Event::SequenceEnd, end, line.marker(close + 1));
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
