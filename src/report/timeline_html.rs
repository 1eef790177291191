//! `rollout timeline --format html`: one self-contained page for the release
//! manager and the debrief. Every gate's evaluations as an inline SVG chart
//! (values, the threshold, breaches highlighted, a vertical line at every
//! delivery, promotion, halt and rollback), the debrief figures and the whole
//! event table.
//!
//! Self-contained on purpose: the page is attached to incident tickets and
//! opened from disk or an artifact store, often offline, so it loads nothing
//! (inline CSS and SVG, no script, no fonts, no CDN), and a Content Security
//! Policy of `default-src 'none'` makes the browser refuse any fetch anyway.
//! Every string from the journal (gate names, reasons, actors) is escaped:
//! the journal is written by whoever can run ringmaster, the page is read by
//! someone else.

use std::fmt::Write;

use serde_json::Value;

use crate::model::revision::short as short_rev;
use crate::rollout::timeline::{DETECT_GOAL_MIN, MITIGATE_GOAL_MIN};

/// One journal entry of the rollout, as the timeline command gathered it.
#[derive(Debug, Clone, Copy)]
pub struct JournalEvent<'a> {
    pub seq: u64,
    /// RFC 3339, UTC.
    pub at: &'a str,
    pub actor: &'a str,
    /// The journaled event, `kind`-tagged.
    pub event: &'a Value,
}

/// The debrief figures, computed once for every format.
#[derive(Debug, Clone, Default)]
pub struct Debrief {
    /// Impact began (or, unknown, first breaching sample) → halt, in seconds.
    pub time_to_detect_s: Option<i64>,
    /// Halt → rollback delivered, in seconds.
    pub time_to_mitigate_s: Option<i64>,
    /// What time to detect measures ("" for the first breaching sample).
    pub detect_basis: String,
}

/// Chart geometry (SVG user units; the SVG scales to the page width).
const WIDTH: f64 = 1100.0;
const HEIGHT: f64 = 250.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 24.0;
const TOP: f64 = 46.0;
const BOTTOM: f64 = 30.0;

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn kind(event: &Value) -> &str {
    event.get("kind").and_then(Value::as_str).unwrap_or("")
}

fn text<'v>(event: &'v Value, key: &str) -> &'v str {
    event.get(key).and_then(Value::as_str).unwrap_or("")
}

fn seconds(at: &str) -> Option<f64> {
    at.parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t.as_millisecond() as f64 / 1000.0)
}

/// `0.0899999` → `0.09`: four decimals read better in a debrief.
fn number(v: f64) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.to_owned() }
}

fn duration(s: Option<i64>, goal_min: i64) -> (String, &'static str) {
    match s {
        Some(s) => (
            format!("{}m {:02}s", s / 60, s % 60),
            if s <= goal_min * 60 { "within" } else { "over" },
        ),
        None => ("n/a".into(), "none"),
    }
}

/// The events drawn as vertical lines on the charts: class, label.
fn marker(kind: &str) -> Option<(&'static str, &'static str)> {
    Some(match kind {
        "delivering" => ("deliver", "delivery"),
        "promoted" => ("promote", "promoted"),
        "halted" => ("halt", "halt"),
        "rolled-back" => ("rollback", "rollback"),
        "approved" => ("approve", "approved"),
        "resumed" => ("resume", "resumed"),
        "impact" => ("impact", "impact began"),
        _ => return None,
    })
}

/// Where an event's marker stands: when the impact began for `impact`,
/// when it was journaled for the others.
fn marker_time(e: &JournalEvent<'_>) -> Option<f64> {
    if kind(e.event) == "impact" {
        return e
            .event
            .get("began")
            .and_then(Value::as_str)
            .and_then(seconds);
    }
    seconds(e.at)
}

/// An impact onset is marked on its gate's chart only.
fn drawn_on(e: &JournalEvent<'_>, s: &Series) -> bool {
    kind(e.event) != "impact" || text(e.event, "gate") == s.gate
}

/// One gate evaluation.
struct Sample {
    t: f64,
    at: String,
    value: Option<f64>,
    threshold: Option<f64>,
    verdict: String,
    /// A compare gate's baseline median and p-value.
    baseline: Option<f64>,
    p_value: Option<f64>,
}

/// The evaluations of one gate in one ring.
struct Series {
    ring: String,
    gate: String,
    enforce: bool,
    samples: Vec<Sample>,
}

/// Renders the page.
pub fn render(id: &str, events: &[JournalEvent<'_>], debrief: Debrief) -> String {
    let mine: Vec<&JournalEvent<'_>> = events.iter().collect();
    let started = mine.iter().find(|e| kind(e.event) == "started");
    let rings: Vec<String> = started
        .and_then(|e| e.event.get("rings"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|r| r.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let state = mine
        .iter()
        .rev()
        .find_map(|e| match kind(e.event) {
            "completed" => Some("complete"),
            "abandoned" => Some("abandoned"),
            "halted" => Some("halted"),
            "started" | "resumed" | "delivering" | "promoted" => Some("running"),
            _ => None,
        })
        .unwrap_or("running");

    let series = gather_series(&mine, &rings);
    let breaches = mine
        .iter()
        .filter(|e| kind(e.event) == "evaluated" && text(e.event, "verdict") == "breach")
        .count();
    let promoted = mine.iter().filter(|e| kind(e.event) == "promoted").count();

    let mut out = String::with_capacity(32 * 1024);
    let title = format!("Rollout {id}");
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
<meta name=\"generator\" content=\"ringmaster {}\">\n<title>{} · ringmaster</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        env!("CARGO_PKG_VERSION"),
        escape(&title)
    );
    let _ = write!(
        out,
        "<header>\n<h1>{} <span class=\"state state-{state}\">{state}</span></h1>\n",
        escape(&title)
    );
    if let Some(s) = started {
        let _ = writeln!(
            out,
            "<p class=\"meta\">Revision <code>{}</code> by {} · started {} by {} · rings {}</p>",
            escape(short_rev(text(s.event, "revision"))),
            escape(text(s.event, "author")),
            escape(s.at),
            escape(s.actor),
            escape(&rings.join(" → "))
        );
    }
    out.push_str("</header>\n");

    // Where each ring ended up, in ring order.
    if !rings.is_empty() {
        out.push_str("<ol class=\"rings\" aria-label=\"Rings\">\n");
        for ring in &rings {
            let phase = ring_phase(&mine, ring);
            let _ = writeln!(
                out,
                "<li class=\"ring-state phase-{}\"><span class=\"ring-name\">{}</span> <span class=\"phase\">{}</span></li>",
                css_ident(phase),
                escape(ring),
                phase
            );
        }
        out.push_str("</ol>\n");
    }

    // The debrief figures.
    let (detect, detect_goal) = duration(debrief.time_to_detect_s, DETECT_GOAL_MIN);
    let (mitigate, mitigate_goal) = duration(debrief.time_to_mitigate_s, MITIGATE_GOAL_MIN);
    let _ = write!(
        out,
        "<section class=\"debrief\" aria-label=\"Debrief\">\n\
<div class=\"figure goal-{detect_goal}\" id=\"time-to-detect\"><span class=\"label\">Time to detect</span><span class=\"value\">{detect}</span><span class=\"note\">{} · goal {DETECT_GOAL_MIN} min</span></div>\n\
<div class=\"figure goal-{mitigate_goal}\" id=\"time-to-mitigate\"><span class=\"label\">Time to mitigate</span><span class=\"value\">{mitigate}</span><span class=\"note\">halt → rollback delivered · goal {MITIGATE_GOAL_MIN} min</span></div>\n\
<div class=\"figure\"><span class=\"label\">Breaching samples</span><span class=\"value\">{breaches}</span><span class=\"note\">enforced and shadow gates</span></div>\n\
<div class=\"figure\"><span class=\"label\">Rings promoted</span><span class=\"value\">{promoted} / {}</span><span class=\"note\">{}</span></div>\n\
</section>\n",
        escape(if debrief.detect_basis.is_empty() {
            "first breaching sample → halt"
        } else {
            &debrief.detect_basis
        }),
        rings.len(),
        escape(&rings.join(" → "))
    );

    // One chart per gate per ring.
    out.push_str("<section class=\"charts\">\n<h2>Gates</h2>\n");
    if series.is_empty() {
        out.push_str("<p class=\"empty\">No gate was evaluated in this rollout.</p>\n");
    }
    for (n, s) in series.iter().enumerate() {
        let ring_events: Vec<&JournalEvent<'_>> = mine
            .iter()
            .copied()
            .filter(|e| text(e.event, "ring") == s.ring)
            .collect();
        chart(&mut out, n, s, &ring_events);
    }
    out.push_str("</section>\n");

    // The event table.
    out.push_str(
        "<section>\n<h2>Events</h2>\n<table class=\"events\">\n<thead><tr><th>#</th><th>time (UTC)</th><th>actor</th><th>ring</th><th>event</th><th>detail</th></tr></thead>\n<tbody>\n",
    );
    let rows = crate::rollout::timeline::fold_rows(&mine, |e| (e.seq, e.at, e.actor, e.event));
    for row in rows {
        let e = match row {
            crate::rollout::timeline::Row::Entry(e) => e,
            crate::rollout::timeline::Row::Fold(f) => {
                let _ = writeln!(out, "{}", folded_row(&f));
                continue;
            }
        };
        let k = kind(e.event);
        let verdict = text(e.event, "verdict");
        let class = if k == "evaluated" {
            format!("ev ev-evaluated verdict-{}", css_ident(verdict))
        } else {
            format!("ev ev-{}", css_ident(k))
        };
        let _ = writeln!(
            out,
            "<tr class=\"{class}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            e.seq,
            escape(e.at),
            escape(e.actor),
            escape(text(e.event, "ring")),
            escape(k),
            detail(e.event)
        );
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
    let _ = write!(
        out,
        "<footer>Generated by ringmaster {} from the rollout journal; <code>ringmaster audit verify</code> checks its hash chain.</footer>\n</body>\n</html>\n",
        env!("CARGO_PKG_VERSION")
    );
    out
}

/// A ring's phase after the rollout's events, for the ring strip.
fn ring_phase(events: &[&JournalEvent<'_>], ring: &str) -> &'static str {
    events
        .iter()
        .filter(|e| text(e.event, "ring") == ring)
        .fold("pending", |phase, e| match kind(e.event) {
            "awaiting-approval" => "awaiting approval",
            "approved" => "approved",
            "delivering" => "delivering",
            "delivered" => "soaking",
            "promoted" => "promoted",
            "halted" => "halted",
            "rolling-back" => "rolling back",
            "rolled-back" => "rolled back",
            "resumed" => "pending",
            _ => phase,
        })
}

/// A class name from journal text: only `[a-z0-9-]` survive.
fn css_ident(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// The table's detail cell (already escaped).
fn detail(event: &Value) -> String {
    match kind(event) {
        "started" => format!(
            "revision <code>{}</code>",
            escape(short_rev(text(event, "revision")))
        ),
        "delivering" => format!(
            "<code>{}</code> → <code>{}</code>",
            escape(
                event
                    .get("previous")
                    .and_then(Value::as_str)
                    .map_or("nothing", short_rev)
            ),
            escape(short_rev(text(event, "revision")))
        ),
        "evaluated" if text(event, "verdict") == "idle" => format!(
            "{} <span class=\"verdict\">idle</span>: traffic {} below the floor {}, not judged (value {})",
            escape(text(event, "gate")),
            event
                .get("traffic")
                .and_then(Value::as_f64)
                .map_or_else(|| "–".into(), number),
            event
                .get("floor")
                .and_then(Value::as_f64)
                .map_or_else(|| "–".into(), number),
            event
                .get("value")
                .and_then(Value::as_f64)
                .map_or_else(|| "–".into(), number),
        ),
        "converging" | "converged" => format!(
            "{} of the ring's hosts on the revision (floor {}){}",
            event
                .get("value")
                .and_then(Value::as_f64)
                .map_or_else(|| "no number for the share".into(), number),
            event
                .get("min")
                .and_then(Value::as_f64)
                .map_or_else(|| "–".into(), number),
            match event.get("reason").and_then(Value::as_str) {
                Some(reason) => format!(": {}", escape(reason)),
                None if kind(event) == "converged" => ": the soak clock starts".to_owned(),
                None => String::new(),
            }
        ),
        "evaluated" => {
            let value = event.get("value").and_then(Value::as_f64);
            let threshold = event.get("threshold").and_then(Value::as_f64);
            format!(
                "{} <span class=\"verdict\">{}</span>{} (value {}, threshold {}{})",
                escape(text(event, "gate")),
                escape(text(event, "verdict")),
                if event.get("enforce").and_then(Value::as_bool) == Some(false) {
                    " <span class=\"shadow\">shadow</span>"
                } else {
                    ""
                },
                value.map_or_else(|| "–".into(), number),
                threshold.map_or_else(|| "–".into(), number),
                escape(&compare_text(
                    event.get("baseline").and_then(Value::as_f64),
                    event.get("p_value").and_then(Value::as_f64)
                ))
            )
        }
        "halted" => escape(
            event
                .get("halt")
                .and_then(|h| h.get("reason"))
                .and_then(Value::as_str)
                .unwrap_or(""),
        ),
        "approved" => format!("by {}", escape(text(event, "by"))),
        "frozen" | "abandoned" => escape(text(event, "reason")),
        "notified" => escape(&crate::notify::notified_detail(event)),
        "impact" => match (
            event.get("began").and_then(Value::as_str),
            event.get("unknown").and_then(Value::as_str),
        ) {
            (Some(began), _) => format!(
                "{}: impact began {}{} (its history at {} s steps)",
                escape(text(event, "gate")),
                if event.get("before_range").and_then(Value::as_bool) == Some(true) {
                    "at or before "
                } else {
                    ""
                },
                escape(began),
                event.get("step_s").and_then(Value::as_u64).unwrap_or(0)
            ),
            (None, why) => format!(
                "{}: impact onset unknown ({})",
                escape(text(event, "gate")),
                escape(why.unwrap_or(""))
            ),
        },
        _ => String::new(),
    }
}

/// The chart of a ring's convergence checks (not a gate's name: those are
/// the ring file's, and this one has a space no YAML key list would hold).
const CONVERGENCE_SERIES: &str = "converged (hosts on the revision)";

/// A run of healthy evaluations as one table row (the chart keeps every one).
fn folded_row(f: &crate::rollout::timeline::Fold) -> String {
    let values = if f.min == f.max {
        format!("value {}", number(f.min))
    } else {
        format!("value {}–{}", number(f.min), number(f.max))
    };
    format!(
        "<tr class=\"ev ev-evaluated verdict-healthy folded\"><td>{}–{}</td><td>{} – {}</td><td>{}</td><td>{}</td><td>evaluated ×{}</td><td>{} <span class=\"verdict\">healthy</span>{} ×{}, rounds {}–{} ({values}, threshold {})</td></tr>",
        f.first_seq,
        f.last_seq,
        escape(&f.first_at),
        escape(&f.last_at),
        escape(f.actor.as_deref().unwrap_or("(several)")),
        escape(&f.ring),
        f.count,
        escape(&f.gate),
        if f.enforce {
            ""
        } else {
            " <span class=\"shadow\">shadow</span>"
        },
        f.count,
        f.first_round,
        f.last_round,
        f.threshold.map_or_else(|| "–".into(), number)
    )
}

/// Groups the `evaluated` events by ring (in ring order) and gate (in order
/// of first evaluation).
fn gather_series(events: &[&JournalEvent<'_>], rings: &[String]) -> Vec<Series> {
    let mut series: Vec<Series> = Vec::new();
    for e in events {
        // The convergence checks after a delivery are a series of their own:
        // the fraction of the ring's hosts on the revision against its floor.
        let convergence = matches!(kind(e.event), "converging" | "converged");
        if kind(e.event) != "evaluated" && !convergence {
            continue;
        }
        let Some(t) = seconds(e.at) else { continue };
        let ring = text(e.event, "ring");
        let gate = if convergence {
            CONVERGENCE_SERIES
        } else {
            text(e.event, "gate")
        };
        let sample = Sample {
            t,
            at: e.at.to_owned(),
            value: e
                .event
                .get("value")
                .and_then(Value::as_f64)
                .filter(|v| v.is_finite()),
            threshold: e
                .event
                .get(if convergence { "min" } else { "threshold" })
                .and_then(Value::as_f64)
                .filter(|v| v.is_finite()),
            verdict: if convergence {
                kind(e.event).to_owned()
            } else {
                text(e.event, "verdict").to_owned()
            },
            baseline: e
                .event
                .get("baseline")
                .and_then(Value::as_f64)
                .filter(|v| v.is_finite()),
            p_value: e.event.get("p_value").and_then(Value::as_f64),
        };
        match series.iter_mut().find(|s| s.ring == ring && s.gate == gate) {
            Some(s) => s.samples.push(sample),
            None => series.push(Series {
                ring: ring.to_owned(),
                gate: gate.to_owned(),
                enforce: e.event.get("enforce").and_then(Value::as_bool) != Some(false),
                samples: vec![sample],
            }),
        }
    }
    let order = |ring: &str| rings.iter().position(|r| r == ring).unwrap_or(usize::MAX);
    // A stable sort keeps gates in order of first evaluation within a ring.
    series.sort_by_key(|s| order(&s.ring));
    series
}

/// Round tick values covering `[lo, hi]`.
fn ticks(lo: f64, hi: f64, want: usize) -> Vec<f64> {
    let span = hi - lo;
    if !(span.is_finite() && span > 0.0) {
        return vec![lo];
    }
    let raw = span / want.max(1) as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    let mut out = Vec::new();
    // Multiples of the step, not a running sum: no drift.
    let first = (lo / step).ceil();
    for k in 0..20 {
        let v = (first + f64::from(k)) * step;
        if v > hi + step * 1e-9 {
            break;
        }
        out.push(if v.abs() < step * 1e-9 { 0.0 } else { v });
    }
    out
}

fn clock(at: &str) -> &str {
    // `2026-11-22T03:51:22Z` → `03:51:22`
    at.get(11..19).unwrap_or(at)
}

/// One gate's chart: values over the ring's time span, the threshold as a
/// dashed step line, breaches in red, a labelled vertical line per delivery,
/// promotion, halt and rollback of the ring.
fn chart(out: &mut String, n: usize, s: &Series, ring_events: &[&JournalEvent<'_>]) {
    let times = ring_events
        .iter()
        .filter(|e| drawn_on(e, s))
        .filter_map(|e| marker_time(e))
        .chain(s.samples.iter().map(|p| p.t));
    let (mut t0, mut t1) = times.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), t| {
        (lo.min(t), hi.max(t))
    });
    if !t0.is_finite() {
        (t0, t1) = (0.0, 1.0);
    }
    // Breathing room on both sides, so a marker at the edge stays visible.
    let pad = ((t1 - t0) * 0.04).max(5.0);
    t0 -= pad;
    t1 += pad;

    let ys = s
        .samples
        .iter()
        .flat_map(|p| [p.value, p.threshold, p.baseline])
        .flatten();
    let (mut y0, mut y1) = ys.fold((0.0f64, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !y1.is_finite() || y1 <= y0 {
        y1 = y0 + 1.0;
    }
    y1 += (y1 - y0) * 0.15;
    if y0 < 0.0 {
        y0 -= (y1 - y0) * 0.05;
    }
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x = |t: f64| LEFT + (t - t0) / (t1 - t0) * plot_w;
    let y = |v: f64| TOP + plot_h - (v - y0) / (y1 - y0) * plot_h;

    let breaches = s.samples.iter().filter(|p| p.verdict == "breach").count();
    let threshold = s.samples.iter().rev().find_map(|p| p.threshold);
    let _ = write!(
        out,
        "<figure class=\"chart{}\" id=\"gate-{n}\">\n<figcaption><span class=\"ring\">{}</span> <strong>{}</strong>{} · {} samples{} · threshold {}</figcaption>\n",
        if breaches > 0 { " breached" } else { "" },
        escape(&s.ring),
        escape(&s.gate),
        if s.enforce {
            ""
        } else {
            " <span class=\"shadow\">shadow</span>"
        },
        s.samples.len(),
        if breaches > 0 {
            format!(" · <span class=\"bad\">{breaches} breaching</span>")
        } else {
            String::new()
        },
        threshold.map_or_else(|| "–".into(), number)
    );
    let _ = writeln!(
        out,
        "<svg class=\"gate-chart\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-label=\"{} in ring {}: values over time against the threshold\">",
        escape(&s.gate),
        escape(&s.ring)
    );
    // Axes and grid.
    for v in ticks(y0, y1, 4) {
        let yy = y(v);
        let _ = writeln!(
            out,
            "<line class=\"grid\" x1=\"{LEFT}\" y1=\"{yy:.1}\" x2=\"{:.1}\" y2=\"{yy:.1}\"/><text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            WIDTH - RIGHT,
            LEFT - 6.0,
            yy + 4.0,
            number(v)
        );
    }
    let _ = writeln!(
        out,
        "<line class=\"axis\" x1=\"{LEFT}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\"/>",
        TOP + plot_h,
        WIDTH - RIGHT,
        TOP + plot_h
    );
    // Time ticks: five evenly spaced clock times.
    for i in 0..=4 {
        let t = t0 + (t1 - t0) * f64::from(i) / 4.0;
        let label = jiff::Timestamp::from_millisecond((t * 1000.0) as i64)
            .map(|ts| clock(&ts.to_string()).to_owned())
            .unwrap_or_default();
        let anchor = match i {
            0 => "start",
            4 => "end",
            _ => "middle",
        };
        let _ = writeln!(
            out,
            "<text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\">{}</text>",
            x(t),
            HEIGHT - 10.0,
            escape(&label)
        );
    }
    // Idle rounds: a band each, behind everything else.
    for p in s.samples.iter().filter(|p| p.verdict == "idle") {
        let _ = writeln!(
            out,
            "<rect class=\"idle-band\" x=\"{:.1}\" y=\"{TOP}\" width=\"12\" height=\"{plot_h:.1}\"><title>idle at {}: traffic below the floor, not judged</title></rect>",
            x(p.t) - 6.0,
            clock(&p.at)
        );
    }
    // Breach bands behind everything else.
    for p in s.samples.iter().filter(|p| p.verdict == "breach") {
        let _ = writeln!(
            out,
            "<rect class=\"breach-band\" x=\"{:.1}\" y=\"{TOP}\" width=\"12\" height=\"{plot_h:.1}\"/>",
            x(p.t) - 6.0
        );
    }
    // The threshold: a dashed step line through each sample's threshold.
    let steps: Vec<(f64, f64)> = s
        .samples
        .iter()
        .filter_map(|p| p.threshold.map(|th| (p.t, th)))
        .collect();
    if let (Some(first), Some(last)) = (steps.first(), steps.last()) {
        let mut d = format!("M{:.1},{:.1}", LEFT, y(first.1));
        for (t, th) in &steps {
            let _ = write!(d, " H{:.1} V{:.1}", x(*t), y(*th));
        }
        let _ = write!(d, " H{:.1}", WIDTH - RIGHT);
        let _ = writeln!(
            out,
            "<path class=\"threshold\" d=\"{d}\"/><text class=\"threshold-label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">threshold {}</text>",
            WIDTH - RIGHT - 4.0,
            y(last.1) - 5.0,
            number(last.1)
        );
    }
    baseline_line(out, s, &x, &y);
    // The values.
    let line: Vec<String> = s
        .samples
        .iter()
        .filter_map(|p| p.value.map(|v| format!("{:.1},{:.1}", x(p.t), y(v))))
        .collect();
    if line.len() > 1 {
        let _ = writeln!(
            out,
            "<polyline class=\"values\" points=\"{}\"/>",
            line.join(" ")
        );
    }
    // Vertical markers, labels staggered over three rows so that events at
    // the same moment (a halt and its rollback) stay readable.
    let mut rows: [f64; 3] = [f64::NEG_INFINITY; 3];
    for e in ring_events {
        let Some((class, label)) = marker(kind(e.event)) else {
            continue;
        };
        if !drawn_on(e, s) {
            continue;
        }
        let Some(t) = marker_time(e) else { continue };
        let xx = x(t);
        let row = (0..3).find(|r| xx - rows[*r] > 74.0).unwrap_or(2);
        rows[row] = xx;
        // Near the right edge the label goes left of its line.
        let (label_x, anchor) = if xx > WIDTH - RIGHT - 70.0 {
            (xx - 3.0, "end")
        } else {
            (xx + 3.0, "start")
        };
        let _ = writeln!(
            out,
            "<g class=\"marker marker-{class}\"><title>{} {} at {} by {}</title><line x1=\"{xx:.1}\" y1=\"{:.1}\" x2=\"{xx:.1}\" y2=\"{:.1}\"/><text x=\"{label_x:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\">{label}</text></g>",
            escape(label),
            escape(text(e.event, "ring")),
            escape(if kind(e.event) == "impact" {
                text(e.event, "began")
            } else {
                e.at
            }),
            escape(e.actor),
            TOP - 36.0 + 12.0 * row as f64 - 2.0,
            TOP + plot_h,
            TOP - 36.0 + 12.0 * row as f64 + 7.0
        );
    }
    // The samples, each with a tooltip.
    for p in &s.samples {
        let mut tip = format!(
            "{} · {} {} · value {} · threshold {}",
            clock(&p.at),
            s.gate,
            p.verdict,
            p.value.map_or_else(|| "no data".into(), number),
            p.threshold.map_or_else(|| "–".into(), number)
        );
        tip.push_str(&compare_text(p.baseline, p.p_value));
        match p.value {
            Some(v) => {
                let _ = writeln!(
                    out,
                    "<circle class=\"sample verdict-{}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"{}\"><title>{}</title></circle>",
                    css_ident(&p.verdict),
                    x(p.t),
                    y(v),
                    if p.verdict == "breach" { 6 } else { 4 },
                    escape(&tip)
                );
            }
            // No data (inconclusive): a hollow mark on the axis.
            None => {
                let _ = writeln!(
                    out,
                    "<circle class=\"sample no-data\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\"><title>{}</title></circle>",
                    x(p.t),
                    TOP + plot_h,
                    escape(&tip)
                );
            }
        }
    }
    out.push_str("</svg>\n</figure>\n");
}

/// A compare gate's baseline and p-value, for a detail or a tooltip.
fn compare_text(baseline: Option<f64>, p_value: Option<f64>) -> String {
    match (baseline, p_value) {
        (Some(b), Some(p)) => format!(
            ", baseline {}, p = {}",
            number(b),
            crate::rollout::compare::p_text(p)
        ),
        _ => String::new(),
    }
}

/// A compare gate's baseline: a second line beside the ring's values.
fn baseline_line(out: &mut String, s: &Series, x: &dyn Fn(f64) -> f64, y: &dyn Fn(f64) -> f64) {
    let points: Vec<(f64, f64)> = s
        .samples
        .iter()
        .filter_map(|p| p.baseline.map(|b| (x(p.t), y(b))))
        .collect();
    let Some(last) = points.last() else {
        return;
    };
    let line: Vec<String> = points
        .iter()
        .map(|(px, py)| format!("{px:.1},{py:.1}"))
        .collect();
    let _ = writeln!(
        out,
        "<polyline class=\"baseline\" points=\"{}\"/><text class=\"baseline-label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">baseline</text>",
        line.join(" "),
        last.0 - 4.0,
        last.1 + 14.0
    );
}

const CSS: &str = "
:root{--fg:#1d2433;--muted:#5b6475;--line:#d9dee7;--bg:#fff;--panel:#f6f8fb;--bad:#c62828;--ok:#2e7d32;--blue:#1f5fbf;--violet:#6a3fb5;--amber:#b26a00}
*{box-sizing:border-box}
body{margin:0 auto;max-width:1180px;padding:24px 28px 40px;font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:var(--fg);background:var(--bg)}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 10px;border-bottom:1px solid var(--line);padding-bottom:4px}
.meta{color:var(--muted);margin:0}
code{font:12.5px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:var(--panel);padding:1px 4px;border-radius:3px}
.state{font-size:13px;vertical-align:middle;padding:2px 8px;border-radius:10px;background:var(--panel);border:1px solid var(--line)}
.state-halted,.state-abandoned{color:#fff;background:var(--bad);border-color:var(--bad)}
.state-complete{color:#fff;background:var(--ok);border-color:var(--ok)}
.rings{list-style:none;display:flex;gap:8px;padding:0;margin:14px 0 0;flex-wrap:wrap}
.ring-state{border:1px solid var(--line);border-radius:14px;padding:2px 10px 2px 4px;background:var(--panel)}
.ring-state .ring-name{font-weight:600;padding:0 6px;border-radius:10px;background:#fff}
.ring-state .phase{color:var(--muted)}
.phase-promoted{border-color:#9ccc9f}.phase-promoted .phase{color:var(--ok);font-weight:600}
.phase-halted,.phase-rolled_back,.phase-rolling_back{border-color:#e8a5a5}
.phase-halted .phase,.phase-rolled_back .phase,.phase-rolling_back .phase{color:var(--bad);font-weight:600}
.debrief{display:grid;grid-template-columns:repeat(4,1fr);gap:12px;margin-top:18px}
.figure{background:var(--panel);border:1px solid var(--line);border-radius:6px;padding:10px 12px;display:flex;flex-direction:column}
.figure .label{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.figure .value{font-size:24px;font-weight:600}
.figure .note{color:var(--muted);font-size:12px}
.goal-within{border-left:4px solid var(--ok)}.goal-over{border-left:4px solid var(--bad)}
figure.chart{margin:0 0 18px;border:1px solid var(--line);border-radius:6px;padding:8px 10px 4px}
figure.chart.breached{border-color:#e8a5a5;box-shadow:inset 4px 0 0 var(--bad)}
figcaption{font-size:13px;color:var(--muted)}figcaption strong{color:var(--fg);font-size:14px}
.ring{display:inline-block;padding:0 6px;border-radius:3px;background:#e8eefb;color:var(--blue);font-weight:600}
.bad{color:var(--bad);font-weight:600}
.shadow{font-size:11px;padding:0 5px;border-radius:3px;background:#fff3e0;color:var(--amber)}
svg.gate-chart{width:100%;height:auto;display:block}
.grid{stroke:var(--line);stroke-width:1}.axis{stroke:#9aa3b2;stroke-width:1}
.tick{font-size:11px;fill:var(--muted)}
.threshold{fill:none;stroke:var(--bad);stroke-width:1.5;stroke-dasharray:6 4}
.threshold-label{font-size:11px;fill:var(--bad)}
.values{fill:none;stroke:var(--blue);stroke-width:2}
.baseline{fill:none;stroke:var(--amber);stroke-width:2;stroke-dasharray:2 3}.baseline-label{font-size:11px;fill:var(--amber)}
.sample{fill:var(--blue);stroke:#fff;stroke-width:1.5}
.sample.verdict-breach{fill:var(--bad)}
.sample.verdict-idle{fill:#fff;stroke:var(--amber);stroke-width:2}
.idle-band{fill:var(--amber);opacity:.12}
.sample.verdict-converging{fill:var(--violet)}.sample.verdict-converged{fill:var(--ok)}
tr.verdict-idle td{background:#fff7e6}
.sample.verdict-inconclusive,.sample.no-data{fill:#fff;stroke:#8a93a3;stroke-width:1.5}
.breach-band{fill:var(--bad);opacity:.12}
.marker line{stroke-width:1.5;stroke-dasharray:3 3}
.marker text{font-size:11px;font-weight:600}
.marker-deliver line{stroke:var(--blue)}.marker-deliver text{fill:var(--blue)}
.marker-promote line{stroke:var(--ok)}.marker-promote text{fill:var(--ok)}
.marker-halt line{stroke:var(--bad)}.marker-halt text{fill:var(--bad)}
.marker-rollback line{stroke:var(--violet)}.marker-rollback text{fill:var(--violet)}
.marker-impact line{stroke:var(--amber)}.marker-impact text{fill:var(--amber)}
.marker-approve line,.marker-resume line{stroke:#8a93a3}.marker-approve text,.marker-resume text{fill:var(--muted)}
table.events{border-collapse:collapse;width:100%;font-size:13px}
.events th{text-align:left;color:var(--muted);font-weight:600;border-bottom:2px solid var(--line);padding:5px 8px}
.events td{border-bottom:1px solid var(--line);padding:4px 8px;vertical-align:top}
.events td:first-child{color:var(--muted);text-align:right}
tr.verdict-breach td,tr.ev-halted td{background:#fdecea}
tr.verdict-breach .verdict,tr.ev-halted td:nth-child(5){color:var(--bad);font-weight:600}
tr.ev-rolled-back td{background:#f1ebfa}
tr.ev-promoted td:nth-child(5),tr.ev-completed td:nth-child(5){color:var(--ok);font-weight:600}
.empty{color:var(--muted)}
footer{margin-top:28px;color:var(--muted);font-size:12px}
@media print{body{max-width:none}figure.chart{break-inside:avoid}}
";

/// The page for a rollout's timeline events, as `rollout timeline` gathers them.
pub fn render_timeline(
    id: &str,
    events: &[crate::rollout::timeline::TimelineEvent],
    debrief: &crate::rollout::timeline::Debrief,
) -> String {
    let rows: Vec<JournalEvent<'_>> = events
        .iter()
        .map(|e| JournalEvent {
            seq: e.seq,
            at: &e.at,
            actor: &e.actor,
            event: &e.event,
        })
        .collect();
    let figures = Debrief {
        time_to_detect_s: debrief.time_to_detect_s,
        time_to_mitigate_s: debrief.time_to_mitigate_s,
        detect_basis: debrief.detect_basis(),
    };
    render(id, &rows, figures)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The events as consecutive journal entries by one actor.
    fn journal_rows<'a>(events: &'a [serde_json::Value], actor: &'a str) -> Vec<JournalEvent<'a>> {
        events
            .iter()
            .enumerate()
            .map(|(i, e)| JournalEvent {
                seq: i as u64,
                at: "2026-11-22T03:51:22Z",
                actor,
                event: e,
            })
            .collect()
    }

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape("<img src=x onerror='a'>&\""),
            "&lt;img src=x onerror=&#39;a&#39;&gt;&amp;&quot;"
        );
    }

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        let labels = |lo, hi| ticks(lo, hi, 4).into_iter().map(number).collect::<Vec<_>>();
        assert_eq!(labels(0.0, 0.1), ["0", "0.025", "0.05", "0.075", "0.1"]);
        assert_eq!(labels(0.0, 16.0), ["0", "5", "10", "15"]);
        assert_eq!(labels(-1.0, 1.0), ["-1", "-0.5", "0", "0.5", "1"]);
        assert_eq!(labels(3.0, 3.0), ["3"]);
    }

    #[test]
    fn the_ring_strip_shows_where_each_ring_ended() {
        let events = [
            serde_json::json!({"kind": "started", "revision": "abc", "author": "a", "rings": ["one", "two", "three"]}),
            serde_json::json!({"kind": "delivering", "ring": "one", "revision": "abc"}),
            serde_json::json!({"kind": "delivered", "ring": "one"}),
            serde_json::json!({"kind": "promoted", "ring": "one"}),
            serde_json::json!({"kind": "delivering", "ring": "two", "revision": "abc"}),
            serde_json::json!({"kind": "halted", "ring": "two", "halt": {"reason": "r", "at": "x", "rollback": true}}),
            serde_json::json!({"kind": "rolled-back", "ring": "two"}),
        ];
        let rows = journal_rows(&events, "a");
        let refs: Vec<&JournalEvent<'_>> = rows.iter().collect();
        assert_eq!(
            ["one", "two", "three"].map(|r| ring_phase(&refs, r)),
            ["promoted", "rolled back", "pending"]
        );
        let html = render("r-1", &rows, Debrief::default());
        assert!(html.contains(
            "<li class=\"ring-state phase-rolled_back\"><span class=\"ring-name\">two</span>"
        ));
        assert!(html.contains("state-halted"), "the rollout is halted");
    }

    #[test]
    fn a_hostile_gate_name_is_text_not_markup() {
        let events = [
            serde_json::json!({"kind": "started", "revision": "abc", "author": "<b>a</b>", "rings": ["r1"]}),
            serde_json::json!({"kind": "evaluated", "ring": "r1", "gate": "<script>alert(1)</script>", "round": 1, "verdict": "breach", "value": 2.0, "threshold": 1.0, "enforce": true}),
            serde_json::json!({"kind": "halted", "ring": "r1", "halt": {"reason": "</td><img src=//evil>", "at": "x"}}),
        ];
        let rows = journal_rows(&events, "\"><svg onload=x>");
        let html = render("r-1", &rows, Debrief::default());
        for bad in ["<script", "<img", "<b>", "<svg onload"] {
            assert!(!html.contains(bad), "{bad} got through");
        }
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert_eq!(html.matches("<svg class=\"gate-chart\"").count(), 1);
    }

    #[test]
    fn idle_rounds_are_marked_and_the_convergence_checks_are_a_chart() {
        let events = [
            serde_json::json!({"kind": "started", "revision": "abc", "author": "a", "rings": ["r1"]}),
            serde_json::json!({"kind": "converging", "ring": "r1", "min": 0.9, "reason": "no data"}),
            serde_json::json!({"kind": "converging", "ring": "r1", "value": 0.5, "min": 0.9}),
            serde_json::json!({"kind": "converged", "ring": "r1", "value": 1.0, "min": 0.9}),
            serde_json::json!({"kind": "evaluated", "ring": "r1", "gate": "errors", "round": 1, "verdict": "idle", "value": 0.5, "threshold": 0.01, "enforce": true, "traffic": 0.2, "floor": 1.0}),
            serde_json::json!({"kind": "evaluated", "ring": "r1", "gate": "errors", "round": 2, "verdict": "healthy", "value": 0.001, "threshold": 0.01, "enforce": true}),
        ];
        let html = render("r-1", &journal_rows(&events, "ci"), Debrief::default());
        // Two charts: the convergence curve, then the gate's.
        assert_eq!(html.matches("<svg class=\"gate-chart\"").count(), 2);
        assert!(html.contains("<strong>converged (hosts on the revision)</strong>"));
        assert!(html.contains("sample verdict-converged"));
        assert_eq!(html.matches("sample verdict-converging").count(), 1);
        assert_eq!(html.matches("<rect class=\"idle-band\"").count(), 1);
        assert!(html.contains("traffic 0.2 below the floor 1, not judged"));
        assert!(html.contains("no number for the share of the ring's hosts"));
    }
}
