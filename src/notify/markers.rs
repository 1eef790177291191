//! Deploy markers for Grafana: after a delivery, promotion, halt, rollback
//! or completion, the ring's state is PUT to a Prometheus Pushgateway.
//!
//! One group per ring, `job=ringmaster, ring=<ring>`: a PUT replaces only
//! that ring's group, so pushes for one ring never wipe another's markers,
//! and the group holds only the ring's *current* revision, so a previous
//! revision's `ringmaster_ring_revision_info` stops being current at once.
//! The group holds, for the rollout that last touched the ring, the time of
//! the latest event of each kind: Prometheus keeps the history as it
//! scrapes, which is what an annotation query reads.
//!
//! ```text
//! ringmaster_ring_revision_info{job="ringmaster",ring="dogfood",revision="<sha>"} 1
//! ringmaster_rollout_event_timestamp_seconds{job="ringmaster",ring="dogfood",rollout="r-…",revision="<sha>",event="delivered"} 1.7e9
//! ```

use std::fmt::Write as _;

use base64::Engine as _;

use crate::net::http::{HttpClient, HttpOptions};
use crate::rollout::event::Event;
use crate::rollout::journal::Entry;

/// The events that get a marker, as the `event` label names them.
fn marker_name(event: &Event) -> Option<&'static str> {
    Some(match event {
        Event::Delivered { .. } => "delivered",
        Event::Promoted { .. } => "promoted",
        Event::Halted { .. } => "halted",
        Event::RolledBack { .. } => "rolled-back",
        Event::Completed => "complete",
        _ => return None,
    })
}

/// The ring whose markers `event` changes: its own, or, for a completion,
/// the last ring (`None` stands for it).
pub(super) fn ring_marked(event: &Event) -> Option<Option<&str>> {
    marker_name(event)?;
    Some(match event {
        Event::Delivered { ring }
        | Event::Promoted { ring }
        | Event::Halted { ring, .. }
        | Event::RolledBack { ring } => Some(ring.as_str()),
        _ => None,
    })
}

/// One ring's group, ready to PUT.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Push {
    pub ring: String,
    pub body: String,
}

impl Push {
    /// The group of `ring` (or the rollout's last ring) after the journal's
    /// `entries` of `rollout`.
    pub(super) fn of(entries: &[Entry], rollout: &str, ring: Option<&str>) -> Option<Push> {
        let state = crate::rollout::state::replay(entries, rollout).ok()?;
        let ring = match ring {
            Some(ring) => ring.to_owned(),
            None => state.rings.last()?.name.clone(),
        };
        let last = state.rings.last().map(|r| r.name.as_str()) == Some(ring.as_str());
        let current = state
            .rings
            .iter()
            .find(|r| r.name == ring)
            .and_then(|r| r.current.clone());
        // The latest time of each kind, in the order the kinds first happened.
        let mut times: Vec<(&'static str, i64)> = Vec::new();
        for entry in entries.iter().filter(|e| e.body.rollout == rollout) {
            let Ok(event) = serde_json::from_value::<Event>(entry.body.event.clone()) else {
                continue;
            };
            let Some(name) = marker_name(&event) else {
                continue;
            };
            let ours = match ring_marked(&event) {
                Some(Some(r)) => r == ring,
                Some(None) => last,
                None => false,
            };
            let Ok(at) = entry.body.at.parse::<jiff::Timestamp>() else {
                continue;
            };
            if !ours {
                continue;
            }
            match times.iter_mut().find(|(n, _)| *n == name) {
                Some(slot) => slot.1 = at.as_second(),
                None => times.push((name, at.as_second())),
            }
        }
        let mut body = String::new();
        body.push_str("# HELP ringmaster_ring_revision_info The revision a ring holds now (1).\n# TYPE ringmaster_ring_revision_info gauge\n");
        if let Some(revision) = &current {
            let _ = writeln!(
                body,
                "ringmaster_ring_revision_info{{revision=\"{}\"}} 1",
                label(revision)
            );
        }
        body.push_str("# HELP ringmaster_rollout_event_timestamp_seconds When a rollout event happened to the ring (Unix seconds).\n# TYPE ringmaster_rollout_event_timestamp_seconds gauge\n");
        for (name, at) in times {
            let _ = writeln!(
                body,
                "ringmaster_rollout_event_timestamp_seconds{{rollout=\"{}\",revision=\"{}\",event=\"{name}\"}} {at}",
                label(rollout),
                label(&state.revision)
            );
        }
        Some(Push { ring, body })
    }
}

/// A label value in the text format: `\`, `"` and newlines escaped.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The group's path: `/metrics/job/ringmaster/ring/<ring>`, the ring in
/// base64 (`ring@base64/…`) when it is not plain URL text.
pub(super) fn group_path(ring: &str) -> String {
    let plain = !ring.is_empty()
        && ring
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if plain {
        format!("metrics/job/ringmaster/ring/{ring}")
    } else {
        format!(
            "metrics/job/ringmaster/ring@base64/{}",
            base64::engine::general_purpose::URL_SAFE.encode(ring)
        )
    }
}

pub(super) struct Gateway {
    base: String,
    client: Result<HttpClient, String>,
}

impl Gateway {
    pub(super) fn new(base: &str) -> Gateway {
        Gateway {
            base: base.to_owned(),
            client: HttpClient::new(HttpOptions {
                timeout: std::time::Duration::from_secs(5),
                attempts: 1,
                ..HttpOptions::default()
            })
            .map_err(|e| format!("{e:#}")),
        }
    }

    /// PUTs the group, twice at most; says why it did not take.
    pub(super) fn push(&self, push: &Push) -> Result<(), String> {
        let shown = crate::net::http::redact_url(&self.base);
        let client = self.client.as_ref().map_err(Clone::clone)?;
        let url = crate::net::http::api_url(&self.base, &group_path(&push.ring))
            .map_err(|why| format!("the Pushgateway URL {why}"))?;
        let mut last = String::new();
        for attempt in 0..2 {
            if attempt > 0 {
                std::thread::sleep(std::time::Duration::from_millis(500));
            }
            match client.block_on(client.send_once(
                reqwest::Method::PUT,
                url.as_str(),
                "text/plain; version=0.0.4",
                push.body.clone().into_bytes(),
                &[],
            )) {
                Ok(status) if (200..300).contains(&status) => return Ok(()),
                Ok(status) => last = format!("answered {status}"),
                Err(e) => last = e,
            }
        }
        Err(format!(
            "ring {}: the Pushgateway {shown} {last}",
            push.ring
        ))
    }
}
