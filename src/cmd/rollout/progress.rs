//! What `rollout run` prints on stderr while it drives. A CI log or a pipe
//! gets one line per state change (delivered, soaking, promoted, halted,
//! rolled back, awaiting approval, complete), stamped with the driver's
//! clock, and nothing per round: a one-hour soak at 30 s is not 120 lines.
//! A terminal gets the same lines plus one live status line, redrawn in
//! place each round: the ring, its healthy rounds of those needed, and the
//! last round's verdict per gate.

use std::fmt::Write;

use crate::controller::{SoakRound, rfc3339};
use crate::report::escape::terminal;

pub(super) struct RunOutput {
    /// The live status line, on a terminal only.
    live: Option<indicatif::ProgressBar>,
}

impl RunOutput {
    /// `interactive`: stderr is a terminal (and no CI says otherwise).
    pub(super) fn new(interactive: bool) -> RunOutput {
        let live = interactive.then(|| {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_style(
                indicatif::ProgressStyle::with_template("{msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            bar
        });
        RunOutput { live }
    }

    /// Whether rounds are shown (a terminal's live line).
    pub(super) fn shows_rounds(&self) -> bool {
        self.live.is_some()
    }

    /// A state change, at the driver's clock `at`: above the live line on a
    /// terminal, a plain line otherwise.
    pub(super) fn change(&self, at: jiff::Timestamp, line: &str) {
        let line = format!("{} {}", rfc3339(at), terminal(line));
        match &self.live {
            Some(bar) => bar.println(line),
            None => {
                let _ = std::io::Write::write_all(
                    &mut std::io::stderr(),
                    format!("{line}\n").as_bytes(),
                );
            }
        }
    }

    /// A soak round: redraws the live line (nothing without a terminal).
    pub(super) fn round(&self, round: &SoakRound<'_>) {
        if let Some(bar) = &self.live {
            bar.set_message(status_line(round));
        }
    }

    /// Clears the live line before the run's last word goes to stdout.
    pub(super) fn finish(&self) {
        if let Some(bar) = &self.live {
            bar.finish_and_clear();
        }
    }
}

/// `dogfood  soaking 3/20 healthy · errors 0.0012 healthy, p99 no data`.
pub(super) fn status_line(round: &SoakRound<'_>) -> String {
    let mut out = format!(
        "{}  soaking {}/{} healthy",
        terminal(round.ring),
        round.healthy,
        round.needed
    );
    for (i, (gate, verdict)) in round.verdicts.iter().enumerate() {
        out.push_str(if i == 0 { " · " } else { ", " });
        let _ = write!(out, "{} ", terminal(gate));
        match verdict.parts() {
            (Some(value), _, _) => {
                let _ = write!(out, "{} {}", number(value), verdict.as_str());
            }
            _ => out.push_str(verdict.as_str()),
        }
    }
    out
}

/// Four significant digits at most: a status line, not a report.
fn number(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return v.to_string();
    }
    let digits = (3 - v.abs().log10().floor() as i32).clamp(0, 12) as usize;
    let text = format!("{v:.digits$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollout::gates::Verdict;

    #[test]
    fn the_live_line_names_the_ring_its_count_and_each_gates_last_verdict() {
        let verdicts = [
            (
                "errors".to_owned(),
                Verdict::Healthy {
                    value: 0.001_234_4,
                    threshold: 0.01,
                },
            ),
            (
                "p99".to_owned(),
                Verdict::Inconclusive {
                    reason: "no data".into(),
                },
            ),
            (
                "rps".to_owned(),
                Verdict::Breach {
                    value: 12_345.678,
                    threshold: 100.0,
                },
            ),
        ];
        let line = status_line(&SoakRound {
            ring: "dogfood",
            healthy: 3,
            needed: 20,
            verdicts: &verdicts,
        });
        assert_eq!(
            line,
            "dogfood  soaking 3/20 healthy · errors 0.001234 healthy, p99 inconclusive, rps 12346 breach"
        );
    }
}
