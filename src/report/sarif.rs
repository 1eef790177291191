//! `--format sarif`: SARIF 2.1.0 for GitHub code scanning. Only the subset
//! GitHub reads is written; rule ids are ringmaster's rule codes.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::PathBase;
use crate::diag::{Diagnostic, Rule, Severity};

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Notice => "note",
    }
}

/// A stable fingerprint so code scanning tracks a finding across commits even
/// when lines move: rule, file, JSON path and class, not the line number.
fn fingerprint(d: &Diagnostic) -> String {
    // FNV-1a: tiny, stable across releases and platforms (unlike std's hasher).
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let key = format!(
        "{}\0{}\0{}\0{}\0{}",
        d.rule.code(),
        d.file,
        d.path.as_deref().unwrap_or(""),
        d.class.as_deref().unwrap_or(""),
        if d.path.is_some() {
            ""
        } else {
            d.message.as_str()
        }
    );
    for b in key.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

pub fn render(diagnostics: &[Diagnostic], base: &PathBase) -> String {
    let rules: Vec<Value> = Rule::ALL
        .iter()
        .map(|r| {
            json!({
                "id": r.code(),
                "name": r.code(),
                "shortDescription": {"text": r.description()},
                "fullDescription": {"text": r.description()},
                "defaultConfiguration": {"level": level(r.default_severity())},
                "help": {"text": r.description()},
            })
        })
        .collect();
    let index: BTreeMap<Rule, usize> = Rule::ALL.iter().enumerate().map(|(i, r)| (*r, i)).collect();
    let results: Vec<Value> = diagnostics
        .iter()
        .map(|d| {
            let mut text = d.message.clone();
            if let Some(class) = &d.class {
                text.push_str(&format!(" (host class {class})"));
            }
            if let Some(help) = &d.help {
                text.push_str(&format!("\nhelp: {help}"));
            }
            let location = |file: &str, line: u32, col: u32| {
                json!({"physicalLocation": {
                    "artifactLocation": {"uri": base.apply(file), "uriBaseId": "%SRCROOT%"},
                    "region": {"startLine": line.max(1), "startColumn": col.max(1)}
                }})
            };
            let mut result = json!({
                "ruleId": d.rule.code(),
                "ruleIndex": index[&d.rule],
                "level": level(d.severity),
                "message": {"text": text},
                "locations": [location(&d.file, d.pos.line, d.pos.col)],
                "partialFingerprints": {"ringmaster/v1": fingerprint(d)},
            });
            if !d.related.is_empty() {
                result["relatedLocations"] = d
                    .related
                    .iter()
                    .enumerate()
                    .map(|(i, r)| {
                        let mut l = location(&r.file, r.line, r.column);
                        l["id"] = json!(i);
                        l["message"] = json!({"text": r.message});
                        l
                    })
                    .collect();
            }
            result
        })
        .collect();
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "ringmaster",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/ringmaster-dev/ringmaster",
                "rules": rules,
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }]
    });
    let mut out = serde_json::to_string_pretty(&log).unwrap_or_default();
    out.push('\n');
    out
}
