//! The human format: rustc-style findings with the source line and a caret,
//! rendered by `annotate-snippets`. Colour is decided by the caller: the
//! text is written with ANSI styles and `anstream` strips them when the
//! output is not a terminal or colour is off.

use std::collections::BTreeMap;
use std::fmt::Write;

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};

use crate::diag::{Diagnostic, Severity, Summary};

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
        let title = format!("{} [{}]", d.message, d.rule.code());
        let line_text = texts
            .get(&d.file)
            .and_then(|t| t.lines().nth(d.pos.line.saturating_sub(1) as usize));
        let mut group: Group<'_> = match line_text {
            Some(line) => level(d.severity).primary_title(title.as_str()).element(
                Snippet::source(line)
                    .line_start(d.pos.line as usize)
                    .path(d.file.as_str())
                    .annotation(AnnotationKind::Primary.span(token_range(line, d.pos.col))),
            ),
            None => level(d.severity).primary_title(title.as_str()).element(
                Snippet::<annotate_snippets::Annotation<'_>>::source("")
                    .path(format!("{}:{}:{}", d.file, d.pos.line, d.pos.col))
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
            group = group.element(Level::NOTE.message(note.as_str()));
        }
        if let Some(help) = &d.help {
            group = group.element(Level::HELP.message(help.as_str()));
        }
        out.push_str(&renderer.render(&[group]));
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
