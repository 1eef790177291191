//! The human format: rustc-style findings with the source line and a caret,
//! rendered by `annotate-snippets`. Colour is decided by the caller: the
//! text is written with ANSI styles and `anstream` strips them when the
//! output is not a terminal or colour is off.

use std::collections::BTreeMap;
use std::fmt::Write;

use annotate_snippets::{AnnotationKind, Group, Level, Origin, Renderer, Snippet};

use super::escape::terminal;
use crate::check::secrets;
use crate::diag::{Diagnostic, Severity, Summary};

/// How many characters of a source line a snippet shows at most, and how
/// many of them before the offending token.
const SNIPPET_CHARS: usize = 120;
const CONTEXT_BEFORE: usize = 40;
/// The part of a line (bytes either side of the token) that is masked and
/// escaped before the final cut: bounded, so a 100 MB line costs no more
/// than a short one.
const WINDOW_BYTES: usize = 4096;

/// The largest char boundary at or below `i`.
fn floor_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// What a snippet shows of `line` for a finding at character column `col`:
/// a window of at most [`SNIPPET_CHARS`] characters around the token (cut
/// ends marked `…`), with credentials masked and control characters written
/// out visibly, and the token's byte range in that text.
fn snippet_line(line: &str, col: u32) -> (String, std::ops::Range<usize>, bool) {
    // The token is looked for in a bounded prefix: a 100 MB token is shown
    // (and scanned) no further than the window reaches.
    let token_start = line
        .char_indices()
        .nth(col.saturating_sub(1) as usize)
        .map_or(line.len(), |(i, _)| i);
    let token = token_range(
        &line[..floor_boundary(line, token_start.saturating_add(WINDOW_BYTES))],
        col,
    );
    let lo = floor_boundary(line, token.start.saturating_sub(WINDOW_BYTES));
    let hi = floor_boundary(line, token.start.saturating_add(WINDOW_BYTES));
    let part = &line[lo..hi];
    let (tok_start, tok_end) = (token.start - lo, token.end.min(hi) - lo);
    // Mask, then escape, keeping a map from `part`'s byte offsets to `shown`'s.
    let mut shown = String::with_capacity(part.len() + 16);
    let mut map = vec![0usize; part.len() + 1];
    let mut redactions = secrets::redactions_in_line(part).into_iter().peekable();
    let mut i = 0;
    while i < part.len() {
        if let Some((range, masked)) = redactions.next_if(|(r, _)| r.start == i) {
            map[range.clone()].fill(shown.len());
            shown.push_str(&masked);
            i = range.end;
            continue;
        }
        let Some(c) = part[i..].chars().next() else {
            break;
        };
        map[i..i + c.len_utf8()].fill(shown.len());
        shown.push_str(&terminal(c.encode_utf8(&mut [0; 4])));
        i += c.len_utf8();
    }
    map[part.len()] = shown.len();
    let start = map[tok_start];
    let mut end = map[tok_end].max(start);
    if end == start && start < shown.len() {
        end = start + shown[start..].chars().next().map_or(0, char::len_utf8);
    }
    // The final cut, in characters.
    let offsets: Vec<usize> = shown
        .char_indices()
        .map(|(b, _)| b)
        .chain([shown.len()])
        .collect();
    let chars = offsets.len() - 1;
    let start_char = offsets.partition_point(|&b| b < start);
    let first = start_char.saturating_sub(CONTEXT_BEFORE);
    let last = (first + SNIPPET_CHARS).min(chars);
    let (from, to) = (offsets[first], offsets[last]);
    let cut_before = lo > 0 || first > 0;
    let cut_after = hi < line.len() || last < chars;
    let mut text = String::new();
    if cut_before {
        text.push('…');
    }
    let shift = text.len();
    text.push_str(&shown[from..to]);
    if cut_after {
        text.push('…');
    }
    let span_start = shift + start.clamp(from, to) - from;
    let span_end = shift + end.clamp(from, to) - from;
    // The snippet's own column count is right only when what precedes the
    // token is shown as it is in the file.
    let exact = !cut_before && shown.get(..start) == line.get(..token.start);
    (text, span_start..span_end.max(span_start), exact)
}

/// Drops the ` ::: ` line that annotate-snippets draws before a snippet
/// without a path (ours follow an [`Origin`] that carries the location).
fn without_secondary_marker(rendered: String) -> String {
    let visible = |line: &str| {
        let mut out = String::new();
        let mut chars = line.chars();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' {
                // Styles are `ESC [ … m`; our own text never holds an ESC.
                for c in chars.by_ref() {
                    if c == 'm' {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    };
    rendered
        .split_inclusive('\n')
        .filter(|line| visible(line).trim() != ":::")
        .collect()
}

fn level(severity: Severity) -> Level<'static> {
    match severity {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
        Severity::Notice => Level::NOTE,
    }
}

/// The byte range of the token that starts at character column `col` (1-based).
fn token_range(line: &str, col: u32) -> std::ops::Range<usize> {
    let start = line
        .char_indices()
        .nth(col.saturating_sub(1) as usize)
        .map_or(line.len(), |(i, _)| i);
    let rest = &line[start..];
    let len = match rest.chars().next() {
        Some(q @ ('"' | '\'')) => rest[1..].find(q).map_or(rest.len(), |i| i + 2),
        Some(_) => {
            // Braces inside a token (`{role}` in a template) belong to it;
            // an unmatched closing one ends a flow collection.
            let mut depth = 0usize;
            rest.char_indices()
                .find(|&(i, c)| match c {
                    '{' => {
                        depth += 1;
                        false
                    }
                    '}' if depth > 0 => {
                        depth -= 1;
                        false
                    }
                    _ => c.is_whitespace() || matches!(c, ',' | ']' | '}') || (c == ':' && i > 0),
                })
                .map_or(rest.len(), |(i, _)| i)
        }
        None => 0,
    };
    start..start + len.max(usize::from(!rest.is_empty()))
}

/// Renders findings; `texts` holds the files' texts for snippets.
pub fn render(
    diagnostics: &[Diagnostic],
    texts: &BTreeMap<String, String>,
    summary: Summary,
    quiet: bool,
) -> String {
    let renderer = Renderer::styled();
    let mut out = String::new();
    for d in diagnostics {
        if quiet && d.severity != Severity::Error {
            continue;
        }
        // Every string below comes from the repo (keys, file names, values):
        // masked and escaped here, so no finding can forge terminal output.
        let title = format!(
            "{} [{}]",
            terminal(&secrets::redact_text(&d.message)),
            d.rule.code()
        );
        let file = terminal(&d.file);
        let line_text = texts
            .get(&d.file)
            .and_then(|t| t.lines().nth(d.pos.line.saturating_sub(1) as usize));
        let origin = Origin::path(file.as_ref())
            .line(d.pos.line as usize)
            .char_column(d.pos.col as usize);
        let mut group: Group<'_> = match line_text {
            Some(line) => {
                let (shown, span, exact) = snippet_line(line, d.pos.col);
                let snippet = Snippet::source(shown)
                    .line_start(d.pos.line as usize)
                    .annotation(AnnotationKind::Primary.span(span));
                let group = level(d.severity).primary_title(title.clone());
                if exact {
                    group.element(snippet.path(file.as_ref()))
                } else {
                    // Cut, masked or escaped before the token: the location
                    // comes from the finding, not from the text shown.
                    group.element(origin).element(snippet)
                }
            }
            None => level(d.severity).primary_title(title.clone()).element(
                Snippet::<annotate_snippets::Annotation<'_>>::source("")
                    .path(format!("{file}:{}:{}", d.pos.line, d.pos.col))
                    .fold(true),
            ),
        };
        let mut notes: Vec<String> = Vec::new();
        if let Some(class) = &d.class {
            notes.push(format!("in the effective config of host class `{class}`"));
        }
        if let Some(path) = d.path.as_deref().filter(|p| !p.is_empty()) {
            notes.push(format!("at {path}"));
        }
        for r in &d.related {
            notes.push(format!("{}: {}:{}:{}", r.message, r.file, r.line, r.column));
        }
        for note in &notes {
            let note = terminal(&secrets::redact_text(note)).into_owned();
            group = group.element(Level::NOTE.message(note));
        }
        if let Some(help) = &d.help {
            let help = terminal(&secrets::redact_text(help)).into_owned();
            group = group.element(Level::HELP.message(help));
        }
        out.push_str(&without_secondary_marker(renderer.render(&[group])));
        out.push_str("\n\n");
    }
    if !quiet || summary.errors > 0 {
        let _ = writeln!(out, "{}", summary_line(summary));
    }
    out
}

pub fn summary_line(s: Summary) -> String {
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let scope = if s.classes > 0 {
        format!(
            "{} and {}",
            plural(s.files, "file"),
            plural(s.classes, "host class").replace("classs", "classes")
        )
    } else {
        plural(s.files, "file")
    };
    if s.errors + s.warnings + s.notices == 0 {
        format!("ringmaster: checked {scope}: no findings")
    } else {
        format!(
            "ringmaster: checked {scope}: {}, {}, {}",
            plural(s.errors, "error"),
            plural(s.warnings, "warning"),
            plural(s.notices, "notice")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_ranges_cover_the_offending_token() {
        let line = "  port: \"eighty\" # comment";
        assert_eq!(&line[token_range(line, 9)], "\"eighty\"");
        assert_eq!(&line[token_range(line, 3)], "port");
        let line = "  tags: [a, bb]";
        assert_eq!(&line[token_range(line, 13)], "bb");
        assert_eq!(token_range("", 1), 0..0);
        let line = "  - config/role/{role}.yaml";
        assert_eq!(&line[token_range(line, 5)], "config/role/{role}.yaml");
        let line = "a: {b: 1}";
        assert_eq!(&line[token_range(line, 8)], "1");
    }
}
