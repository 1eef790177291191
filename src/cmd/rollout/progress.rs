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
        RunOutput {
            live: interactive.then(|| live_line(indicatif::ProgressDrawTarget::stderr())),
        }
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

/// The live status line: the message alone, redrawn in place.
fn live_line(target: indicatif::ProgressDrawTarget) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::with_draw_target(None, target);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar
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

    const WIDTH: usize = 120;

    /// A terminal screen, as a terminal draws what indicatif writes: lines
    /// of characters, a cursor, and a wrap at the right margin (indicatif
    /// pads a line to the width and relies on it).
    #[derive(Debug, Default)]
    struct Screen {
        lines: Vec<Vec<char>>,
        row: usize,
        col: usize,
    }

    impl Screen {
        fn put(&mut self, s: &str) {
            for c in s.chars() {
                match c {
                    '\r' => self.col = 0,
                    '\n' => {
                        self.row += 1;
                        self.col = 0;
                    }
                    c => {
                        if self.col >= WIDTH {
                            self.row += 1;
                            self.col = 0;
                        }
                        while self.lines.len() <= self.row {
                            self.lines.push(Vec::new());
                        }
                        let line = &mut self.lines[self.row];
                        if line.len() <= self.col {
                            line.resize(self.col + 1, ' ');
                        }
                        line[self.col] = c;
                        self.col += 1;
                    }
                }
            }
        }

        /// What a reader sees: the lines, without trailing blanks.
        fn text(&self) -> Vec<String> {
            let mut lines: Vec<String> = self
                .lines
                .iter()
                .map(|l| l.iter().collect::<String>().trim_end().to_owned())
                .collect();
            while lines.last().is_some_and(String::is_empty) {
                lines.pop();
            }
            lines
        }
    }

    /// The screen as indicatif draws on it.
    #[derive(Debug)]
    struct Tty(std::sync::Arc<std::sync::Mutex<Screen>>);

    impl Tty {
        fn with(&self, f: impl FnOnce(&mut Screen)) -> std::io::Result<()> {
            f(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()));
            Ok(())
        }
    }

    impl indicatif::TermLike for Tty {
        fn width(&self) -> u16 {
            WIDTH as u16
        }
        fn move_cursor_up(&self, n: usize) -> std::io::Result<()> {
            // A move of 0 writes nothing (console's), so keeps a pending wrap.
            self.with(|s| {
                if n > 0 {
                    s.row = s.row.saturating_sub(n);
                    s.col = s.col.min(WIDTH - 1);
                }
            })
        }
        fn move_cursor_down(&self, n: usize) -> std::io::Result<()> {
            // A move of 0 writes nothing (console's), so keeps a pending wrap.
            self.with(|s| {
                if n > 0 {
                    s.row += n;
                    s.col = s.col.min(WIDTH - 1);
                }
            })
        }
        fn move_cursor_right(&self, n: usize) -> std::io::Result<()> {
            self.with(|s| s.col = (s.col + n).min(WIDTH - 1))
        }
        fn move_cursor_left(&self, n: usize) -> std::io::Result<()> {
            self.with(|s| s.col = s.col.saturating_sub(n))
        }
        fn write_line(&self, line: &str) -> std::io::Result<()> {
            self.with(|s| s.put(&format!("{line}\n")))
        }
        fn write_str(&self, text: &str) -> std::io::Result<()> {
            self.with(|s| s.put(text))
        }
        fn clear_line(&self) -> std::io::Result<()> {
            self.with(|s| {
                if let Some(line) = s.lines.get_mut(s.row) {
                    line.clear();
                }
                s.col = 0;
            })
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// On a terminal the rounds redraw one line in place, under the state
    /// changes, which stay; the line is gone when the run ends.
    #[test]
    fn a_terminal_keeps_the_state_changes_and_redraws_one_live_line() {
        let screen = std::sync::Arc::new(std::sync::Mutex::new(Screen::default()));
        let text = || screen.lock().map(|s| s.text()).unwrap_or_default();
        let output = RunOutput {
            live: Some(live_line(indicatif::ProgressDrawTarget::term_like_with_hz(
                Box::new(Tty(screen.clone())),
                250,
            ))),
        };
        let at: jiff::Timestamp = "2026-11-22T10:00:00Z".parse().unwrap_or_default();
        let healthy = [(
            "errors".to_owned(),
            Verdict::Healthy {
                value: 0.001,
                threshold: 0.01,
            },
        )];
        let round = |healthy_rounds| SoakRound {
            ring: "dogfood",
            healthy: healthy_rounds,
            needed: 3,
            verdicts: &healthy,
        };
        output.change(
            at,
            "dogfood: delivered 0123456789 to git ref refs/rings/dogfood",
        );
        for n in 1..=3 {
            output.round(&round(n));
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        output.change(at, "dogfood: promoted after 3 healthy evaluations");
        assert_eq!(
            text(),
            [
                "2026-11-22T10:00:00Z dogfood: delivered 0123456789 to git ref refs/rings/dogfood",
                "2026-11-22T10:00:00Z dogfood: promoted after 3 healthy evaluations",
                "dogfood  soaking 3/3 healthy · errors 0.001 healthy",
            ]
        );
        output.finish();
        assert_eq!(text().len(), 2, "{:?}", text());
    }

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
