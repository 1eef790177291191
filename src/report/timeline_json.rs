//! `rollout timeline --format json`: every event and the debrief figures.

use crate::rollout::timeline::{Debrief, TimelineEvent};

pub fn render(id: &str, events: &[TimelineEvent], debrief: &Debrief) -> serde_json::Result<String> {
    Ok(format!(
        "{}\n",
        serde_json::to_string_pretty(&serde_json::json!({
            "id": id,
            "events": events,
            "time_to_detect_s": debrief.time_to_detect_s,
            "time_to_mitigate_s": debrief.time_to_mitigate_s,
            "delivery_to_halt_s": debrief.delivery_to_halt_s,
        }))?
    ))
}
