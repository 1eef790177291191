//! `--format json` for `check`, exactly as SPEC §5, plus `help` and `related`
//! when a finding has them.

use serde::Serialize;

use crate::diag::{Diagnostic, Related, Severity, Summary};

#[derive(Serialize)]
struct Finding<'a> {
    rule: &'a str,
    severity: Severity,
    file: &'a str,
    line: u32,
    column: u32,
    message: &'a str,
    path: Option<&'a str>,
    class: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    help: Option<&'a str>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    related: &'a [Related],
}

#[derive(Serialize)]
struct Output<'a> {
    findings: Vec<Finding<'a>>,
    summary: Summary,
}

pub fn render(diagnostics: &[Diagnostic], summary: Summary) -> String {
    let findings = diagnostics
        .iter()
        .map(|d| Finding {
            rule: d.rule.code(),
            severity: d.severity,
            file: &d.file,
            line: d.pos.line,
            column: d.pos.col,
            message: &d.message,
            path: d.path.as_deref(),
            class: d.class.as_deref(),
            help: d.help.as_deref(),
            related: &d.related,
        })
        .collect();
    let mut out = serde_json::to_string_pretty(&Output { findings, summary }).unwrap_or_default();
    out.push('\n');
    out
}
