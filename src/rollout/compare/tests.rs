use super::*;
use crate::config::document::parse_fixture;
use crate::diag::{Pos, Rule};
use crate::model::stats::*;
use crate::rollout::baseline::{DEFAULT_ALPHA, DEFAULT_MIN_SAMPLES, findings};
use crate::rollout::rings::{no_baseline_findings, resolve_baselines as resolve};

fn close(a: f64, b: f64, tol: f64) {
    assert!((a - b).abs() <= tol, "{a} is not {b} (±{tol})");
}

/// scipy.stats.mannwhitneyu's documented example (Mann & Whitney's 1947
/// paper): U1 = 17; exact two-sided p = 0.1111 (one-sided: 7 of the 126
/// arrangements), asymptotic two-sided p = 0.11134688653314041.
#[test]
fn the_scipy_example_gives_scipy_s_u_and_p_values() {
    let males = [19.0, 22.0, 16.0, 29.0, 24.0];
    let females = [20.0, 11.0, 17.0, 12.0];
    assert_eq!(mann_whitney_u(&males, &females), 17.0);
    close(p_greater(&males, &females), 7.0 / 126.0, 1e-12);
    close(
        p_greater_normal(17.0, 5, 4, 0.0),
        0.111_346_886_533_140_41 / 2.0,
        1e-7,
    );
    // The other way round: U2 = 20 - 17 = 3, P(U ≥ 3) = 1 - P(U ≤ 2) = 1 - 4/126.
    close(p_greater(&females, &males), 1.0 - 4.0 / 126.0, 1e-12);
}

/// Ties: midranks, and the variance shrunk by Σ(t³ − t) / (n(n − 1)).
/// Expected values from the textbook formula evaluated independently
/// (Python, `math.erfc`): U = 42.5, p = 0.1278115537732063.
#[test]
fn ties_take_midranks_and_shrink_the_variance() {
    let x = [1.0, 2.0, 2.0, 3.0, 3.0, 4.0, 5.0, 5.0, 6.0];
    let y = [1.0, 1.0, 2.0, 3.0, 3.0, 3.0, 4.0];
    assert_eq!(mann_whitney_u(&x, &y), 42.5);
    close(p_greater(&x, &y), 0.127_811_553_773_206_3, 1e-6);
    // Constant series, one above the other (a deterministic exporter):
    // U = 144, p = 9.55917385577255e-07.
    let (hi, lo) = ([0.02; 12], [0.01; 12]);
    close(p_greater(&hi, &lo), 9.559_173_855_772_55e-7, 1e-9);
    close(p_greater(&lo, &hi), 0.999_999_314_366_023_1, 1e-6);
    // Every value equal: no evidence at all.
    assert_eq!(p_greater(&[1.0; 8], &[1.0; 8]), 1.0);
    assert_eq!(p_greater(&[], &[1.0]), 1.0);
}

#[test]
fn the_normal_tail_matches_known_quantiles() {
    close(normal_sf(0.0), 0.5, 1e-7);
    close(normal_sf(1.644_853_626_951_472_2), 0.05, 1e-7);
    close(normal_sf(-1.959_963_984_540_054), 0.975, 1e-7);
    close(normal_sf(3.090_232_306_167_813_5), 0.001, 1e-8);
}

#[test]
fn medians_of_odd_and_even_counts() {
    assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
    assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    assert!(median(&[]).is_nan());
}

/// A seeded xorshift: the simulations are the same on every run.
struct Rng(u64);

impl Rng {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    /// A right-skewed, latency-like sample (exponential).
    fn skewed(&mut self) -> f64 {
        -(1.0 - self.uniform()).ln()
    }
}

/// How often p < alpha when ring and baseline come from one distribution.
fn false_positive_rate(trials: u32, n: usize, draw: &mut dyn FnMut() -> f64) -> f64 {
    let mut hits = 0;
    for _ in 0..trials {
        let x: Vec<f64> = (0..n).map(|_| draw()).collect();
        let y: Vec<f64> = (0..n).map(|_| draw()).collect();
        if p_greater(&x, &y) < DEFAULT_ALPHA {
            hits += 1;
        }
    }
    f64::from(hits) / f64::from(trials)
}

/// The test's size under the null hypothesis, as the notes report it: at or
/// below alpha (0.05) for the exact small-sample path, the normal path and
/// heavily tied discrete samples; the whole gate (effect AND significance)
/// breaches still less often.
#[test]
fn identical_distributions_breach_at_most_about_alpha() {
    let mut rng = Rng(0x5eed_1234_abcd_0042);
    let trials = 4000;
    let exact = false_positive_rate(trials, 10, &mut || rng.skewed());
    let normal = false_positive_rate(trials, 60, &mut || rng.skewed());
    let tied = false_positive_rate(trials, 30, &mut || (rng.uniform() * 4.0).floor());
    // Measured with this seed: exact 0.041, normal 0.04625, tied 0.05125.
    for rate in [exact, normal, tied] {
        assert!(rate <= 0.06, "false-positive rate {rate}");
        assert!(rate >= 0.02, "the test never fires: {rate}");
    }
    // The gate itself, with a 10 % margin on the medians.
    let gate = compare("q{ring}", 0.1, Worse::Higher, 10);
    let mut breaches = 0;
    for _ in 0..trials {
        let x: Vec<f64> = (0..30).map(|_| rng.skewed()).collect();
        let y: Vec<f64> = (0..30).map(|_| rng.skewed()).collect();
        if judge(&gate, &x, &y).0.as_str() == "breach" {
            breaches += 1;
        }
    }
    let rate = f64::from(breaches) / f64::from(trials);
    // Measured with this seed: 0.04675.
    assert!(rate <= 0.05, "{rate}");
}

/// And it finds a real difference: a doubled error ratio under noise.
#[test]
fn a_doubled_metric_is_found_with_a_few_samples() {
    let mut rng = Rng(7);
    let gate = compare("q{ring}", 0.2, Worse::Higher, 5);
    let ring: Vec<f64> = (0..8).map(|_| 0.02 * (0.9 + 0.2 * rng.uniform())).collect();
    let base: Vec<f64> = (0..8).map(|_| 0.01 * (0.9 + 0.2 * rng.uniform())).collect();
    let (verdict, evidence) = judge(&gate, &ring, &base);
    assert_eq!(verdict.as_str(), "breach");
    let e = evidence.expect("evidence");
    assert!(e.p_value < 0.001, "{e:?}");
    close(e.baseline, 0.01, 0.001);
}

fn compare(query: &str, margin: f64, worse: Worse, min_samples: u32) -> Compare {
    Compare {
        query: query.into(),
        label: "ring".into(),
        selector: None,
        margin,
        worse,
        alpha: DEFAULT_ALPHA,
        min_samples,
        pos: Pos::START,
        ring: "canary".into(),
        later: vec!["beta".into(), "prod".into()],
        looks: 1,
    }
}

#[test]
fn the_decision_needs_samples_an_effect_beyond_the_margin_and_significance() {
    let gate = compare("q", 0.5, Worse::Higher, 5);
    // Too few samples: pending, whatever they say.
    let (v, e) = judge(&gate, &[9.0; 4], &[1.0; 10]);
    assert!(matches!(v, Verdict::Pending { .. }), "{v:?}");
    assert_eq!(e, None);
    // Twice the baseline, significant: breach; the threshold is the
    // baseline's median plus the margin.
    let ring = [2.0, 2.1, 1.9, 2.05, 2.2];
    let base = [1.0, 1.1, 0.9, 1.02, 1.05];
    let (v, e) = judge(&gate, &ring, &base);
    assert_eq!(
        v,
        Verdict::Breach {
            value: 2.05,
            threshold: 1.53
        }
    );
    let e = e.expect("evidence");
    assert_eq!(e.baseline, 1.02);
    // Exact: the ring's five all above the baseline's five, 1 of C(10, 5).
    close(e.p_value, 1.0 / 252.0, 1e-12);
    // Significantly worse but within the margin: healthy.
    let within = [1.2, 1.3, 1.25, 1.31, 1.22];
    assert_eq!(judge(&gate, &within, &base).0.as_str(), "healthy");
    // Beyond the margin but not significant (the samples overlap): healthy.
    let noisy = [0.5, 3.0, 0.8, 2.0, 1.8];
    assert_eq!(judge(&gate, &noisy, &base).0.as_str(), "healthy");
    // Better than the baseline: healthy, p near 1.
    let (v, e) = judge(&gate, &[0.5; 5], &base);
    assert_eq!(v.as_str(), "healthy");
    assert!(e.expect("evidence").p_value > 0.9);
}

#[test]
fn lower_is_worse_tests_the_other_tail() {
    let gate = compare("q", 0.1, Worse::Lower, 5);
    let base = [100.0, 101.0, 99.0, 100.0, 102.0];
    let (v, _) = judge(&gate, &[50.0, 51.0, 49.0, 50.0, 52.0], &base);
    assert_eq!(
        v,
        Verdict::Breach {
            value: 50.0,
            threshold: 90.0
        }
    );
    assert_eq!(
        judge(&gate, &[150.0, 151.0, 149.0, 150.0, 152.0], &base)
            .0
            .as_str(),
        "healthy"
    );
}

#[test]
fn the_template_selects_the_ring_and_the_later_rings() {
    let mut gate = compare(
        r#"sum(rate(e{ring=~"{ring}"}[5s])) / sum(rate(t{{selector}}[5s]))"#,
        0.1,
        Worse::Higher,
        5,
    );
    assert_eq!(
        gate.ring_query(),
        r#"sum(rate(e{ring=~"canary"}[5s])) / sum(rate(t{ring=~"canary"}[5s]))"#
    );
    assert_eq!(
        gate.baseline_query().as_deref(),
        Some(r#"sum(rate(e{ring=~"beta|prod"}[5s])) / sum(rate(t{ring=~"beta|prod"}[5s]))"#)
    );
    gate.later.clear();
    assert_eq!(gate.baseline_query(), None);
    gate.query = "t{{selector}}".into();
    gate.selector = Some(r#"zone="eu", tier="stable""#.into());
    assert_eq!(
        gate.baseline_query().as_deref(),
        Some(r#"t{zone="eu", tier="stable"}"#)
    );
    gate.label = "class_ring".into();
    assert_eq!(gate.ring_query(), r#"t{class_ring=~"canary"}"#);
}

const RING: &str = "name: canary\norder: 1\nsoak: 1m\ngates:\n  - name: vs\n    compare:\n      query: 'e{ring=~\"{ring}\"}'\n      margin: 0.25\n      direction: lower-is-worse\n      alpha: 0.01\n      min_samples: 4\n";

#[test]
fn a_compare_gate_parses_with_its_defaults_and_resolves_its_baseline() {
    let gates = crate::rollout::gates::parse_gates(&parse_fixture(RING));
    let GateKind::Compare(c) = &gates[0].kind else {
        panic!("{gates:?}");
    };
    assert_eq!(
        (c.margin, c.worse, c.alpha, c.min_samples, c.label.as_str()),
        (0.25, Worse::Lower, 0.01, 4, "ring")
    );
    let bare =
        parse_fixture("gates:\n  - name: vs\n    compare: {query: 'e{{selector}}', margin: 0}\n");
    let gates = crate::rollout::gates::parse_gates(&bare);
    let GateKind::Compare(c) = &gates[0].kind else {
        panic!("{gates:?}");
    };
    assert_eq!(
        (c.worse, c.alpha, c.min_samples),
        (Worse::Higher, DEFAULT_ALPHA, DEFAULT_MIN_SAMPLES)
    );
    assert!(findings("rings/x.yaml", &bare).is_empty());
}

#[test]
fn bad_compare_values_are_findings_at_their_line() {
    let ring = parse_fixture(
        "gates:\n  - name: vs\n    compare:\n      query: 'e'\n      margin: -1\n      alpha: 1.5\n      min_samples: 1\n  - name: sel\n    compare:\n      query: 'e{ring=~\"{ring}\"}'\n      baseline: 'zone=\"eu\"'\n      margin: .nan\n",
    );
    let found: Vec<(u32, String)> = findings("rings/x.yaml", &ring)
        .into_iter()
        .map(|d| (d.pos.line, d.path.unwrap_or_default()))
        .collect();
    assert_eq!(
        found,
        [
            (5, "/gates/0/compare/margin".to_owned()),
            (6, "/gates/0/compare/alpha".to_owned()),
            (7, "/gates/0/compare/min_samples".to_owned()),
            (4, "/gates/0/compare/query".to_owned()),
            (12, "/gates/1/compare/margin".to_owned()),
            (10, "/gates/1/compare/query".to_owned()),
        ]
    );
}

fn ring_with(name: &str, order: i64, gates: Vec<Gate>) -> Ring {
    Ring {
        name: name.into(),
        file: format!("rings/{name}.yaml"),
        name_pos: Pos::START,
        order,
        soak: Duration::from_secs(60),
        interval: Duration::from_secs(10),
        approval_required: false,
        approvers: vec![],
        inconclusive_limit: 3,
        soak_clock: Default::default(),
        rollback_on_breach: true,
        gates,
    }
}

fn compare_gate(c: Compare) -> Gate {
    Gate {
        name: "vs".into(),
        kind: GateKind::Compare(Box::new(c)),
        shadow: false,
        min_traffic: None,
    }
}

#[test]
fn the_last_ring_s_compare_gate_without_a_selector_is_a_finding() {
    let mut rings = vec![
        ring_with(
            "canary",
            1,
            vec![compare_gate(compare("q{ring}", 0.1, Worse::Higher, 5))],
        ),
        ring_with("beta", 2, vec![]),
        ring_with(
            "prod",
            3,
            vec![compare_gate(compare("q{ring}", 0.1, Worse::Higher, 5))],
        ),
    ];
    resolve(&mut rings);
    let GateKind::Compare(c) = &rings[0].gates[0].kind else {
        panic!()
    };
    assert_eq!(
        (c.ring.as_str(), c.later.clone(), c.looks),
        ("canary", vec!["beta".to_owned(), "prod".to_owned()], 6)
    );
    let found = no_baseline_findings(&rings);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].file, "rings/prod.yaml");
    assert_eq!(found[0].rule, Rule::RingNoBaseline);
    // At run time: inconclusive, with the reason.
    let GateKind::Compare(last) = &rings[2].gates[0].kind else {
        panic!()
    };
    let (v, _) = judge_series(last, &Ok(BTreeMap::new()), None, 0, 0, 1000);
    assert_eq!(
        v,
        Verdict::Inconclusive {
            reason: "no baseline: ring `prod` is the last ring, and the gate sets no `baseline` selector".into()
        }
    );
}

/// A source answering `q{canary}` and `q{beta|prod}` with a value per second.
struct Series {
    t0: i64,
    ring: fn(i64) -> Option<f64>,
    base: fn(i64) -> Option<f64>,
}

impl MetricsSource for Series {
    fn query(&self, q: &str, at: jiff::Timestamp) -> Result<Option<f64>, String> {
        let s = (at.as_millisecond() - self.t0) / 1000;
        match q {
            "q{canary}" => Ok((self.ring)(s)),
            "q{beta|prod}" => Ok((self.base)(s)),
            "plain" => Ok(Some(0.5)),
            _ => Err(format!("unknown {q}")),
        }
    }
}

#[test]
fn a_round_reads_the_compare_series_since_the_soak_started() {
    let t0 = 1_800_000_000_000;
    let ts = |s: i64| jiff::Timestamp::from_millisecond(t0 + s * 1000).expect("a time");
    let gates = vec![
        Gate {
            name: "plain".into(),
            kind: GateKind::Threshold {
                query: "plain".into(),
                max: Some(1.0),
                min: None,
            },
            shadow: false,
            min_traffic: None,
        },
        compare_gate(Compare {
            ring: "canary".into(),
            ..compare("q{{ring}}", 0.2, Worse::Higher, 5)
        }),
    ];
    // The ring doubles from second 100 on; the soak starts at 100.
    let source = Series {
        t0,
        ring: |s| Some(if s >= 100 { 0.02 } else { 0.01 } + (s % 3) as f64 * 1e-4),
        base: |s| Some(0.01 + (s % 2) as f64 * 1e-4),
    };
    let step = Duration::from_secs(1);
    let (v, e) = evaluate_round(&gates, &source, ts(103), ts(100), step);
    assert_eq!(v[0].as_str(), "healthy");
    assert!(
        matches!(&v[1], Verdict::Pending { reason } if reason.starts_with("4 ring and 4 baseline")),
        "{v:?}"
    );
    assert_eq!(e, [None, None]);
    let (v, e) = evaluate_round(&gates, &source, ts(110), ts(100), step);
    assert_eq!(v[1].as_str(), "breach", "{v:?}");
    let e = e[1].expect("evidence");
    assert!(
        e.p_value < 0.001 && (e.baseline - 0.01).abs() < 0.001,
        "{e:?}"
    );
    // Read from before the change, the same window is healthy.
    let (v, _) = evaluate_round(&gates, &source, ts(90), ts(70), step);
    assert_eq!(v[1].as_str(), "healthy", "{v:?}");
    // Below its `min_traffic` floor (traffic 0.5 < 1) the compare gate is
    // idle, like any gate: the soak clock waits.
    let mut quiet = gates.clone();
    quiet[1].min_traffic = Some(crate::rollout::gates::TrafficFloor {
        query: "plain".into(),
        min: 1.0,
    });
    let (v, _) = evaluate_round(&quiet, &source, ts(110), ts(100), step);
    assert_eq!(v[1].as_str(), "idle", "{v:?}");
    // A ring that stopped reporting is inconclusive, not judged on old samples.
    let silent = Series {
        t0,
        ring: |s| (s < 105).then_some(0.01),
        base: |_| Some(0.01),
    };
    let (v, _) = evaluate_round(&gates, &silent, ts(110), ts(100), step);
    assert_eq!(
        v[1],
        Verdict::Inconclusive {
            reason: "no data for `q{canary}`".into()
        }
    );
}

#[test]
fn the_soak_starts_at_the_ring_s_last_delivery() {
    let entry = |seq: u64, at: &str, rollout: &str, event: serde_json::Value| {
        let body = crate::rollout::journal::Body {
            seq,
            at: at.into(),
            actor: "ci".into(),
            rollout: rollout.into(),
            event,
            prev: String::new(),
        };
        Entry {
            hash: crate::rollout::journal::hash_body(&body),
            body,
        }
    };
    let delivered = |ring: &str| serde_json::json!({"kind": "delivered", "ring": ring});
    let entries = [
        entry(1, "2026-11-22T10:00:00Z", "r-1", delivered("a")),
        entry(2, "2026-11-22T10:05:00Z", "r-1", delivered("a")),
        entry(3, "2026-11-22T10:06:00Z", "r-1", delivered("b")),
        entry(4, "2026-11-22T10:07:00Z", "r-2", delivered("a")),
    ];
    assert_eq!(
        soak_started(&entries, "r-1", "a").map(crate::rollout::event::rfc3339),
        Some("2026-11-22T10:05:00Z".into())
    );
    assert_eq!(soak_started(&entries, "r-1", "c"), None);
    // A ring whose hosts converge later: the soak starts then.
    let converged =
        serde_json::json!({"kind": "converged", "ring": "b", "value": 1.0, "min": 0.95});
    let later = [
        entry(3, "2026-11-22T10:06:00Z", "r-1", delivered("b")),
        entry(5, "2026-11-22T10:08:30Z", "r-1", converged),
    ];
    assert_eq!(
        soak_started(&later, "r-1", "b").map(crate::rollout::event::rfc3339),
        Some("2026-11-22T10:08:30Z".into())
    );
}

/// The soak loop with a compare gate: a pending round counts toward neither
/// the soak nor the inconclusive streak; a breach halts with the baseline
/// and p-value in the journal and the halt's reason.
mod soak {
    use super::*;
    use crate::rollout::event::{Event, Verdict as JournalVerdict};
    use crate::rollout::state::RolloutState;
    use crate::rollout::step::{Action, Observation, Situation, Soak, step};

    fn state() -> RolloutState {
        let events = [
            Event::Started {
                revision: "0123456789abcdef".into(),
                author: "dev".into(),
                rings: vec!["canary".into(), "prod".into()],
            },
            Event::Delivering {
                ring: "canary".into(),
                revision: "0123456789abcdef".into(),
                previous: Some("fedcba9876543210".into()),
            },
            Event::Delivered {
                ring: "canary".into(),
            },
        ];
        RolloutState::replay("r-1", &events)
            .expect("replays")
            .expect("started")
    }

    fn rings() -> Vec<Ring> {
        let mut rings = vec![
            ring_with(
                "canary",
                1,
                vec![compare_gate(compare("q{ring}", 0.2, Worse::Higher, 5))],
            ),
            ring_with("prod", 2, vec![]),
        ];
        resolve(&mut rings);
        rings
    }

    fn round(tally: Soak, verdict: Verdict, evidence: Option<Evidence>) -> Vec<Action> {
        let (state, rings) = (state(), rings());
        let s = Situation {
            rollout: &state,
            rings: &rings,
            frozen: None,
            soak: tally,
            now: "2026-11-22T10:00:00Z".parse().expect("a time"),
        };
        step(
            &s,
            Observation::Round {
                verdicts: vec![verdict],
                at: s.now,
                evidence: vec![evidence],
            },
        )
    }

    fn tally(actions: &[Action]) -> Option<Soak> {
        actions.iter().find_map(|a| match a {
            Action::Tally(t) => Some(*t),
            _ => None,
        })
    }

    #[test]
    fn a_pending_round_neither_promotes_nor_halts() {
        let before = Soak {
            healthy: 2,
            streak: 2,
            round: 5,
            ..Soak::default()
        };
        let actions = round(
            before,
            Verdict::Pending {
                reason: "3 ring and 3 baseline samples so far; the gate judges from 5 each".into(),
            },
            None,
        );
        assert_eq!(
            tally(&actions),
            Some(Soak {
                healthy: 2,
                streak: 0,
                round: 5,
                ..Soak::default()
            }),
            "{actions:?}"
        );
        let Action::AppendRound(events) = &actions[0] else {
            panic!("{actions:?}")
        };
        assert!(matches!(
            &events[0],
            Event::Evaluated {
                verdict: JournalVerdict::Pending,
                reason: Some(_),
                baseline: None,
                ..
            }
        ));
        assert!(
            !actions
                .iter()
                .any(|a| matches!(a, Action::Append(Event::Halted { .. })))
        );
    }

    #[test]
    fn a_compare_breach_journals_the_baseline_and_p_value_and_halts_saying_them() {
        let evidence = Evidence {
            baseline: 0.01,
            p_value: 0.0021,
        };
        let actions = round(
            Soak::default(),
            Verdict::Breach {
                value: 0.02,
                threshold: 0.012,
            },
            Some(evidence),
        );
        let Action::AppendRound(events) = &actions[0] else {
            panic!("{actions:?}")
        };
        assert!(matches!(
            &events[0],
            Event::Evaluated {
                verdict: JournalVerdict::Breach,
                value: Some(v),
                baseline: Some(b),
                p_value: Some(p),
                ..
            } if *v == 0.02 && *b == 0.01 && *p == 0.0021
        ));
        let halt = actions
            .iter()
            .find_map(|a| match a {
                Action::Append(Event::Halted { halt, .. }) => Some(halt),
                _ => None,
            })
            .expect("a halt");
        assert_eq!(
            halt.reason,
            "gate `vs` breached: ring 0.02 against baseline 0.01 (limit with the margin 0.012), p = 0.0021 < 0.0083 (alpha 0.05 over 6 rounds)"
        );
    }
}

/// Each round re-tests the soak's samples so far: over a whole soak the
/// chance that some round breaches under identical distributions is more
/// than one round's. Spending alpha over the soak's rounds brings it back
/// under alpha. Measured here (seeded), as the notes report it.
#[test]
fn a_whole_soak_of_repeated_looks_breaches_at_most_alpha() {
    let mut rng = Rng(0xdead_beef_1234_5678);
    let (soaks, rounds) = (600, 20);
    let rate = |looks: u32, rng: &mut Rng| {
        let gate = Compare {
            looks,
            ..compare("q{ring}", 0.0, Worse::Higher, 5)
        };
        let mut breached = 0;
        for _ in 0..soaks {
            let (mut x, mut y) = (Vec::new(), Vec::new());
            for _ in 0..rounds {
                x.push(rng.skewed());
                y.push(rng.skewed());
                if judge(&gate, &x, &y).0.as_str() == "breach" {
                    breached += 1;
                    break;
                }
            }
        }
        f64::from(breached) / f64::from(soaks)
    };
    let naive = rate(1, &mut rng);
    let spent = rate(rounds, &mut rng);
    // Measured with this seed: 0.153 at full alpha every round, 0.010 with
    // alpha spent over the 20 rounds (Bonferroni is conservative).
    assert!(naive > 0.08, "repeated looks at full alpha: {naive}");
    assert!(spent <= 0.05, "alpha spent over the rounds: {spent}");
}
