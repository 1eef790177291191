//! Text from the config repo (keys, file names, fact values, actors, gate
//! names, reasons) is untrusted: a pull request can put an ESC sequence in a
//! key or `<!--` in a gate name. Every renderer passes such text through one
//! of these helpers at the point it is written, so no format can forget it.
//!
//! What this does not do: quote for a shell, or escape text that a format
//! already encodes (JSON, SARIF and YAML strings are escaped by their
//! serialisers).

use std::borrow::Cow;

/// Characters that a terminal, a log viewer or an editor would act on rather
/// than show: C0 and C1 controls (ESC starts colour and OSC sequences, CR
/// overwrites a line, a newline starts a forged one), DEL, the Unicode line
/// separators and the bidirectional overrides that reorder what is shown
/// ("Trojan Source"). A tab is shown as a tab.
fn is_hostile(c: char) -> bool {
    (c.is_control() && c != '\t')
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}')
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// The visible form of a hostile character: `\n`, `\r`, `\x1b`, `\u{202e}`.
fn visible(c: char, out: &mut String) {
    use std::fmt::Write;
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        c if (c as u32) < 0x80 => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
}

/// `s` with every control character written out visibly, for human output
/// on a terminal or in a CI log. Borrowed when there is nothing to escape.
pub(crate) fn terminal(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_hostile) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_hostile(c) {
            visible(c, &mut out);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Multi-line text (an error on stderr, a plain report): control characters escaped like
/// [`terminal`], but the message's own line breaks kept; a line that would
/// start with `::` (a GitHub workflow command, read from stderr too, after
/// leading blanks) is prefixed with `> ` so that it cannot.
pub fn terminal_lines(message: &str) -> String {
    message
        .split('\n')
        .map(|line| {
            let line = terminal(line);
            if line.trim_start().starts_with("::") {
                format!("> {line}")
            } else {
                line.into_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `s` inside a markdown code span, safe in a table cell: a backtick would
/// close the span (it becomes `'`), a `|` would end the cell (`\|`, which
/// GitHub's tables read as a literal bar, even in code), and a newline would
/// end the table. Inside the span HTML (`<!--`, `<img>`) is shown, not run.
/// Empty text gives an empty cell.
pub(crate) fn markdown_code(s: &str) -> String {
    if s.is_empty() {
        return String::new();
    }
    let text = terminal(s);
    format!("`{}`", text.replace('|', "\\|").replace('`', "'"))
}

/// `s` as plain markdown text (a list item, a table cell, a heading): every
/// character markdown or HTML would act on is escaped, so an actor named
/// `<!--` or `**x**` shows as written and hides nothing after it.
pub(crate) fn markdown_text(s: &str) -> String {
    let text = terminal(s);
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// `s` as markdown text that may hold code spans of its own (a halt reason
/// says "gate `errors` breached"): paired backticks stay code spans, shown
/// literally with `|` escaped; everything between them is escaped as
/// [`markdown_text`]; an unpaired backtick is escaped. Whatever the pairing
/// of hostile backticks, no HTML or markup outside a span survives.
pub(crate) fn markdown_with_code(s: &str) -> String {
    let parts: Vec<&str> = s.split('`').collect();
    let unpaired = parts.len().is_multiple_of(2);
    let mut out = String::with_capacity(s.len() + 8);
    for (i, part) in parts.iter().enumerate() {
        if i % 2 == 1 && !(unpaired && i + 1 == parts.len()) {
            out.push('`');
            out.push_str(&terminal(part).replace('|', "\\|"));
            out.push('`');
        } else {
            if i % 2 == 1 {
                out.push_str("\\`");
            }
            out.push_str(&markdown_text(part));
        }
    }
    out
}

/// `s` inside an HTML element (GitHub's `<summary>`), where markdown
/// escapes are not read: only `<`, `>` and `&` are replaced.
pub(crate) fn html_text(s: &str) -> String {
    terminal(s)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_shows_controls_and_keeps_the_rest() {
        assert_eq!(terminal("plain ünïcode\tkey"), "plain ünïcode\tkey");
        assert!(matches!(terminal("plain"), Cow::Borrowed(_)));
        assert_eq!(
            terminal("a\u{1b}]8;;x\u{7}b\r\n::error::c\u{202e}"),
            "a\\x1b]8;;x\\x07b\\r\\n::error::c\\u{202e}"
        );
        assert_eq!(terminal("\u{9b}31m\u{7f}"), "\\u{9b}31m\\x7f");
    }

    #[test]
    fn terminal_lines_keep_their_lines_but_start_no_command() {
        assert_eq!(
            terminal_lines("unknown class `a\n::error::x\u{1b}[2J`\n  did you mean b?"),
            "unknown class `a\n> ::error::x\\x1b[2J`\n  did you mean b?"
        );
    }

    #[test]
    fn markdown_code_never_leaves_its_span_or_cell() {
        assert_eq!(markdown_code(""), "");
        assert_eq!(markdown_code("a`b|c\nd"), "`a'b\\|c\\nd`");
        assert_eq!(markdown_code("<!--"), "`<!--`");
    }

    #[test]
    fn markdown_with_code_keeps_spans_and_escapes_the_rest() {
        assert_eq!(
            markdown_with_code("gate `errors` breached"),
            "gate `errors` breached"
        );
        assert_eq!(
            markdown_with_code("gate `a` <!-- `b|c` x"),
            "gate `a` &lt;!-- `b\\|c` x"
        );
        assert_eq!(markdown_with_code("a ` <b>"), "a \\` &lt;b&gt;");
    }

    #[test]
    fn markdown_text_escapes_html_and_emphasis() {
        assert_eq!(markdown_text("<!-- x"), "&lt;!-- x");
        assert_eq!(markdown_text("**a**|b"), "\\*\\*a\\*\\*\\|b");
        assert_eq!(markdown_text("alice@example.com"), "alice@example.com");
        assert_eq!(markdown_text("x\ny"), "x\\\\ny");
    }
}
