//! `rollout timeline --format json`: every event and the debrief figures.

use crate::rollout::timeline::{DETECT_GOAL_MIN, Debrief, MITIGATE_GOAL_MIN, TimelineEvent};

pub fn render(id: &str, events: &[TimelineEvent], debrief: &Debrief) -> serde_json::Result<String> {
    Ok(format!(
        "{}\n",
        serde_json::to_string_pretty(&serde_json::json!({
            "id": id,
            "events": events,
            "time_to_detect_s": debrief.time_to_detect_s,
            "time_to_mitigate_s": debrief.time_to_mitigate_s,
            "delivery_to_halt_s": debrief.delivery_to_halt_s,
            "impact": debrief.impact.as_ref().map(|i| serde_json::json!({
                "gate": i.gate,
                "began": i.began,
                "before_range": i.before_range,
                "unknown": i.unknown,
            })),
            "time_to_detect_from": debrief.detect_basis(),
            "detect_goal_met": debrief.time_to_detect_s.map(|s| s <= DETECT_GOAL_MIN * 60),
            "mitigate_goal_met": debrief.time_to_mitigate_s.map(|s| s <= MITIGATE_GOAL_MIN * 60),
        }))?
    ))
}
