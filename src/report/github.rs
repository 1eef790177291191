//! `--format github`: workflow commands that GitHub Actions turns into
//! annotations. Unlike SARIF code scanning, these show even on lines the pull
//! request did not change, which matters for effective-config findings caused
//! by an untouched base file.

use std::fmt::Write;

use super::PathBase;
use crate::diag::{Diagnostic, Severity, Summary};

/// GitHub's own escaping for workflow commands, so a newline never starts a
/// forged command; other control characters (ESC would colour or hide text
/// in the log) are written out visibly.
fn escape_data(s: &str) -> String {
    let s = s
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A");
    super::escape::terminal(&s).into_owned()
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

pub fn render(diagnostics: &[Diagnostic], summary: Summary, base: &PathBase) -> String {
    let mut out = String::new();
    for d in diagnostics {
        let command = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Notice => "notice",
        };
        let mut message = d.message.clone();
        if let Some(class) = &d.class {
            let _ = write!(message, " (host class {class})");
        }
        if let Some(help) = &d.help {
            let _ = write!(message, "\nhelp: {help}");
        }
        let _ = writeln!(
            out,
            "::{command} file={},line={},col={},title={}::{}",
            escape_property(&base.apply(&d.file)),
            d.pos.line,
            d.pos.col,
            escape_property(&format!("ringmaster {}", d.rule.code())),
            escape_data(&message)
        );
    }
    let _ = writeln!(
        out,
        "ringmaster: {} errors, {} warnings, {} notices in {} files",
        summary.errors, summary.warnings, summary.notices, summary.files
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::{Pos, Rule};

    #[test]
    fn properties_and_data_are_escaped() {
        let d = Diagnostic::new(Rule::Schema, "a,b.yaml", Pos::new(3, 4), "50% bad\nvalue");
        let out = render(
            &[d],
            Summary::default(),
            &PathBase {
                prefix: "cfg".into(),
            },
        );
        assert!(
            out.starts_with("::error file=cfg/a%2Cb.yaml,line=3,col=4,title=ringmaster schema::50%25 bad%0Avalue\n"),
            "{out}"
        );
    }
}
