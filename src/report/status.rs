//! `rollout status`: a rollout's state replayed from the journal, with what
//! each ring holds now and, when a ring waits for approval, what approving
//! it changes. Rendering only: the state and the diff come computed.

use std::fmt::Write;

use crate::model::revision::short;
use crate::report::escape::terminal;
use crate::rollout::state::{RingPhase, RolloutState};

pub use crate::report::approval::Approval;

/// SPEC §5's status JSON.
pub fn json(state: &RolloutState, approval: Option<&Approval>) -> serde_json::Result<String> {
    let mut json = serde_json::to_value(state)?;
    // A rolled-back ring's `revision` is what it was restored to (null when
    // withdrawn), not the revision that was rolled back, which stays the
    // rollout's own top-level `revision`.
    for (i, ring) in state.rings.iter().enumerate() {
        if ring.state == RingPhase::RolledBack {
            json["rings"][i]["revision"] = serde_json::json!(ring.previous);
        }
    }
    if let Some(Approval { ring, diff, .. }) = approval {
        json["approval"] = serde_json::json!({"ring": ring, "diff": diff});
    }
    Ok(format!("{}\n", serde_json::to_string_pretty(&json)?))
}

/// One line for the rollout, one per ring (and its halt), then what
/// approving the waiting ring delivers: summarised, or every value (`full`).
pub fn human(state: &RolloutState, approval: Option<&Approval>, full: bool) -> String {
    let mut out = format!(
        "{} {:?}: revision {} by {}\n",
        terminal(&state.id),
        state.state,
        terminal(short(&state.revision)),
        terminal(&state.author)
    )
    .to_lowercase();
    for ring in &state.rings {
        let phase = serde_json::to_value(ring.state).unwrap_or_default();
        // The revision the ring holds now; the rollout's own when it differs
        // (a rolled-back ring).
        let holds = ring.current.as_deref().or(ring.revision.as_deref());
        let differs = match (ring.revision.as_deref(), holds) {
            (Some(rollout), Some(now)) if rollout != now => {
                format!(" (this rollout's: {})", short(rollout))
            }
            (Some(rollout), None) => format!(" (nothing; this rollout's: {})", short(rollout)),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "  {:<16} {:<18} {}{differs}",
            terminal(&ring.name),
            phase.as_str().unwrap_or_default(),
            holds.map_or("", short)
        );
        if let Some(halt) = &ring.halt {
            let _ = writeln!(
                out,
                "    halted at {}: {}",
                terminal(&halt.at),
                terminal(&halt.reason)
            );
        }
        for line in ring.soak_clock.iter().flat_map(|c| c.lines()) {
            let _ = writeln!(out, "    {}", terminal(&line));
        }
    }
    if let Some(approval) = approval {
        out.push_str(&crate::report::approval::human(approval, &state.id, full));
    }
    out
}

/// The debrief of a halted rollout, for `status`: when the impact began
/// (from the metric's history) and the two figures against their goals.
/// Empty when nothing halted on a gate.
pub fn debrief_human(debrief: &crate::rollout::timeline::Debrief) -> String {
    use crate::rollout::timeline::{DETECT_GOAL_MIN, MITIGATE_GOAL_MIN};
    if debrief.time_to_detect_s.is_none() && debrief.impact.is_none() {
        return String::new();
    }
    let figure = |s: Option<i64>, goal: i64| match s {
        Some(s) => format!(
            "{}m {:02}s, {} the {goal}-minute goal",
            s / 60,
            s % 60,
            if s <= goal * 60 { "within" } else { "over" }
        ),
        None => "n/a".into(),
    };
    let mut out = String::from("debrief:\n");
    if let Some(impact) = &debrief.impact {
        let _ = match (&impact.began, &impact.unknown) {
            (Some(began), _) => writeln!(
                out,
                "  impact began {}{} (gate `{}`, from the metric's history)",
                if impact.before_range {
                    "at or before "
                } else {
                    ""
                },
                terminal(began),
                terminal(&impact.gate)
            ),
            (None, why) => writeln!(
                out,
                "  impact onset unknown ({})",
                terminal(why.as_deref().unwrap_or(""))
            ),
        };
    }
    let _ = writeln!(
        out,
        "  time to detect   {} ({})",
        figure(debrief.time_to_detect_s, DETECT_GOAL_MIN),
        terminal(&debrief.detect_basis())
    );
    let _ = writeln!(
        out,
        "  time to mitigate {} (halt → rollback delivered)",
        figure(debrief.time_to_mitigate_s, MITIGATE_GOAL_MIN)
    );
    out
}

/// The debrief as the status JSON's `debrief` member (`null` when nothing
/// halted on a gate).
pub fn debrief_json(debrief: &crate::rollout::timeline::Debrief) -> serde_json::Value {
    use crate::rollout::timeline::{DETECT_GOAL_MIN, MITIGATE_GOAL_MIN};
    if debrief.time_to_detect_s.is_none() && debrief.impact.is_none() {
        return serde_json::Value::Null;
    }
    serde_json::json!({
        "impact_began": debrief.impact.as_ref().and_then(|i| i.began.clone()),
        "impact_before_range": debrief.impact.as_ref().is_some_and(|i| i.before_range),
        "impact_unknown": debrief.impact.as_ref().and_then(|i| i.unknown.clone()),
        "time_to_detect_s": debrief.time_to_detect_s,
        "time_to_detect_from": debrief.detect_basis(),
        "detect_goal_met": debrief.time_to_detect_s.map(|s| s <= DETECT_GOAL_MIN * 60),
        "time_to_mitigate_s": debrief.time_to_mitigate_s,
        "mitigate_goal_met": debrief.time_to_mitigate_s.map(|s| s <= MITIGATE_GOAL_MIN * 60),
    })
}

/// The latest evaluation of each compare gate: the ring's value, the
/// baseline's, the p-value (or why there is none yet).
pub fn comparisons_human(latest: &[crate::rollout::compare::Latest]) -> String {
    use crate::model::number::short as num;
    let mut out = String::new();
    if latest.is_empty() {
        return out;
    }
    out.push_str("\ncompare gates (latest evaluation):\n");
    for l in latest {
        let detail = match (l.value, l.baseline, l.p_value) {
            (Some(v), Some(b), Some(p)) => format!(
                "ring {} vs baseline {}, p = {}",
                num(v),
                num(b),
                crate::rollout::compare::p_text(p)
            ),
            _ => l.reason.clone().unwrap_or_default(),
        };
        let _ = writeln!(
            out,
            "  {:<16} {:<20} {:<13} {} at {}",
            terminal(&l.ring),
            terminal(&l.gate),
            l.verdict,
            terminal(&detail),
            terminal(&l.at)
        );
    }
    out
}
