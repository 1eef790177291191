//! A rollout's timeline as markdown (the pull-request comment, the
//! debrief): one row per journal entry, then the debrief figures against
//! their goals.

use std::fmt::Write;

use crate::rollout::timeline::{
    DETECT_GOAL_MIN, Debrief, Fold, MITIGATE_GOAL_MIN, Row, TimelineEvent, fold_rows,
};

/// `1.9999999999999982` → `2`: four decimals read better in a debrief.
fn short_number(v: &serde_json::Value) -> String {
    match v.as_f64() {
        Some(f) => {
            let s = format!("{f:.4}");
            s.trim_end_matches('0').trim_end_matches('.').to_owned()
        }
        None => "–".into(),
    }
}

/// A revision's first ten characters; empty when it is missing or shorter.
fn revision_prefix(revision: &serde_json::Value) -> &str {
    revision.as_str().unwrap_or("").get(..10).unwrap_or("")
}

/// A compare gate's baseline and p-value: `, baseline 0.01, p = 0.0021`.
fn compare_detail(event: &serde_json::Value) -> String {
    match event["p_value"].as_f64() {
        Some(p) => format!(
            ", baseline {}, p = {}",
            short_number(&event["baseline"]),
            crate::rollout::compare::p_text(p)
        ),
        None => String::new(),
    }
}

pub fn render(id: &str, events: &[TimelineEvent], debrief: &Debrief) -> String {
    // Actors, gate names and reasons come from the journal and ring
    // files: escaped, so `<!--` cannot hide the rest of the debrief.
    use crate::report::escape::{
        markdown_code as md_code, markdown_text as md_text, markdown_with_code as md_spans,
    };
    let mut out = format!(
        "## Rollout {}\n\n| # | time (UTC) | actor | ring | event | detail |\n|---|---|---|---|---|---|\n",
        md_text(id)
    );
    let rows = fold_rows(events, |e| {
        (e.seq, e.at.as_str(), e.actor.as_str(), &e.event)
    });
    for row in rows {
        let e = match row {
            Row::Entry(e) => e,
            Row::Fold(f) => {
                let _ = writeln!(out, "{}", folded_row(&f));
                continue;
            }
        };
        let ring = e.event.get("ring").and_then(|r| r.as_str()).unwrap_or("");
        let detail = match e.kind() {
            "started" => format!(
                "revision {}",
                md_code(revision_prefix(&e.event["revision"]))
            ),
            "delivering" => format!(
                "{} → {}",
                md_code(
                    e.event["previous"]
                        .as_str()
                        .map_or("nothing", |p| p.get(..10).unwrap_or(p))
                ),
                md_code(revision_prefix(&e.event["revision"]))
            ),
            "evaluated" if e.event["verdict"] == "idle" => format!(
                "{} idle: traffic {} below the floor {}, not judged (value {})",
                md_text(e.event["gate"].as_str().unwrap_or("")),
                short_number(&e.event["traffic"]),
                short_number(&e.event["floor"]),
                short_number(&e.event["value"]),
            ),
            "converging" | "converged" => format!(
                "{} of the ring's hosts on the revision (floor {}){}",
                match e.event["value"].as_f64() {
                    Some(_) => short_number(&e.event["value"]),
                    None => "no number for the share".to_owned(),
                },
                short_number(&e.event["min"]),
                match e.event["reason"].as_str() {
                    Some(reason) => format!(": {}", md_spans(reason)),
                    None if e.kind() == "converged" => ": the soak clock starts".to_owned(),
                    None => String::new(),
                }
            ),
            "evaluated" => match e.event["reason"].as_str() {
                // An inconclusive evaluation has no number: say why.
                Some(reason) => format!(
                    "{} {}: {}",
                    md_text(e.event["gate"].as_str().unwrap_or("")),
                    md_text(e.event["verdict"].as_str().unwrap_or("")),
                    md_spans(reason),
                ),
                None => format!(
                    "{} {} (value {}, threshold {}{})",
                    md_text(e.event["gate"].as_str().unwrap_or("")),
                    md_text(e.event["verdict"].as_str().unwrap_or("")),
                    short_number(&e.event["value"]),
                    short_number(&e.event["threshold"]),
                    compare_detail(&e.event)
                ),
            },
            "halted" => md_spans(e.event["halt"]["reason"].as_str().unwrap_or("")),
            "approved" => format!("by {}", md_text(e.event["by"].as_str().unwrap_or(""))),
            "frozen" => md_spans(e.event["reason"].as_str().unwrap_or("")),
            "notified" => md_text(&crate::notify::notified_detail(&e.event)),
            "impact" => impact_detail(&e.event),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            e.seq,
            md_text(&e.at),
            md_text(&e.actor),
            md_text(ring),
            md_text(e.kind()),
            detail
        );
    }
    let fmt = |s: Option<i64>, goal: i64| match s {
        Some(s) => format!(
            "{}m {:02}s ({} the {}-minute goal)",
            s / 60,
            s % 60,
            if s <= goal * 60 { "within" } else { "over" },
            goal
        ),
        None => "n/a".into(),
    };
    let _ = writeln!(
        out,
        "\n{}**Time to detect** ({}): {}{}  ",
        impact_line(debrief),
        md_spans(&debrief.detect_basis()),
        fmt(debrief.time_to_detect_s, DETECT_GOAL_MIN),
        debrief
            .delivery_to_halt_s
            .map_or_else(String::new, |s| format!(
                "; the ring's delivery → halt: {}m {:02}s",
                s / 60,
                s % 60
            ))
    );
    let _ = writeln!(
        out,
        "**Time to mitigate** (halt → rollback delivered): {}",
        fmt(debrief.time_to_mitigate_s, MITIGATE_GOAL_MIN)
    );
    out
}

/// The `impact` row's detail: when the impact began, or why that is unknown.
fn impact_detail(event: &serde_json::Value) -> String {
    use crate::report::escape::{markdown_text as md_text, markdown_with_code as md_spans};
    let gate = md_text(event["gate"].as_str().unwrap_or(""));
    match (event["began"].as_str(), event["unknown"].as_str()) {
        (Some(began), _) => format!(
            "{gate}: impact began {}{} (its history at {} s steps)",
            if event["before_range"] == true {
                "at or before "
            } else {
                ""
            },
            md_text(began),
            event["step_s"].as_u64().unwrap_or(0)
        ),
        (None, why) => format!(
            "{gate}: impact onset unknown ({})",
            md_spans(why.unwrap_or(""))
        ),
    }
}

/// "**Impact began** …" above the figures, when the journal says.
fn impact_line(debrief: &Debrief) -> String {
    use crate::report::escape::markdown_text as md_text;
    match debrief
        .impact
        .as_ref()
        .and_then(|i| Some((i, i.began.as_deref()?)))
    {
        Some((impact, began)) => format!(
            "**Impact began** {}{} (gate {}, from the metric's history)  \n",
            if impact.before_range {
                "at or before "
            } else {
                ""
            },
            md_text(began),
            md_text(&impact.gate)
        ),
        None => String::new(),
    }
}

/// A run of healthy evaluations as one row: the entries' numbers and times,
/// how many, over which rounds, and the values' range.
fn folded_row(f: &Fold) -> String {
    use crate::report::escape::markdown_text as md_text;
    let number = |v: f64| short_number(&serde_json::json!(v));
    let values = if f.min == f.max {
        format!("value {}", number(f.min))
    } else {
        format!("value {}–{}", number(f.min), number(f.max))
    };
    format!(
        "| {}–{} | {} – {} | {} | {} | evaluated ×{} | {} healthy{} ×{}, rounds {}–{} ({values}, threshold {}) |",
        f.first_seq,
        f.last_seq,
        md_text(&f.first_at),
        md_text(&f.last_at),
        md_text(f.actor.as_deref().unwrap_or("(several)")),
        md_text(&f.ring),
        f.count,
        md_text(&f.gate),
        if f.enforce { "" } else { " (shadow)" },
        f.count,
        f.first_round,
        f.last_round,
        f.threshold.map_or_else(|| "–".into(), number),
    )
}
