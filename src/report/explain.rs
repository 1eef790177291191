//! `explain` as text for a person. Renders an [`Explanation`]; computes nothing.

use std::fmt::Write;

use crate::config::explain::*;
use crate::report::describe_value;

pub(crate) fn human(e: &Explanation) -> String {
    // Keys, class names, templates, file names (facts expanded) and notes
    // come from the repo: escaped so none can drive the terminal.
    use crate::report::escape::terminal;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} for host class {}\n",
        terminal(&e.key),
        terminal(&e.class)
    );
    let width = e
        .layers
        .iter()
        .map(|s| {
            terminal(s.file.as_deref().unwrap_or(&s.template))
                .chars()
                .count()
        })
        .max()
        .unwrap_or(0);
    for s in &e.layers {
        let name = terminal(s.file.as_deref().unwrap_or(&s.template));
        let place = match (s.line, s.column) {
            (Some(l), Some(c)) => format!("{name}:{l}:{c}"),
            _ => name.into_owned(),
        };
        let what = match s.action {
            Action::Set => format!(
                "set to {}",
                describe_value(s.value.as_ref().unwrap_or(&serde_json::Value::Null))
            ),
            Action::Overrode => {
                format!(
                    "overrode it with {}",
                    describe_value(s.value.as_ref().unwrap_or(&serde_json::Value::Null))
                )
            }
            Action::Merged => "merged keys into it".to_string(),
            Action::KnockedOut => "knocked it out (!unset)".to_string(),
            Action::Removed => "removed it".to_string(),
            Action::Replaced => "replaced its parent".to_string(),
            Action::Absent => "does not mention it".to_string(),
            Action::NoFile => "no such file".to_string(),
            Action::NotApplicable => "not applicable".to_string(),
        };
        let note = s
            .note
            .as_deref()
            .map(|n| format!(" ({})", terminal(n)))
            .unwrap_or_default();
        let what = terminal(&what);
        let _ = writeln!(
            out,
            "  {}. {:<width$}  {what}{note}",
            s.layer,
            place,
            width = width + 8
        );
    }
    match (&e.final_value, &e.source) {
        (Some(v), Some(src)) => {
            let _ = writeln!(
                out,
                "\nfinal value: {} (from {})",
                terminal(&describe_value(v)),
                terminal(src)
            );
        }
        _ => {
            let _ = writeln!(out, "\nfinal value: not set for this class");
        }
    }
    // Today's merge goes unsaid; any other strategy is named.
    if e.strategy != "deep" {
        let _ = writeln!(out, "merge strategy: {}", e.strategy);
    }
    out
}
