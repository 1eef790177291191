use super::*;
use crate::config::adapters::{FromEnv, NotifyFormat, WebhookConfig, section};
use crate::config::document::parse_fixture;
use crate::rollout::event::Halt;
use crate::rollout::journal::Body;

fn webhooks(text: &str) -> (Vec<WebhookConfig>, Vec<(crate::diag::Pos, String, String)>) {
    WebhookConfig::parse_all(section(&parse_fixture(text), "notify"))
}

#[test]
fn a_webhook_reads_its_url_and_headers_from_the_environment_only() {
    let (hooks, problems) = webhooks(
        "notify:\n  - name: team\n    url: {env: TEAM_URL}\n    events: [halted, complete]\n    format: slack\n    headers: {Authorization: {env: NOTIFY_TOKEN}}\n    timeout: 2s\n    attempts: 2\n",
    );
    assert_eq!(problems, vec![]);
    assert_eq!(hooks.len(), 1);
    let hook = &hooks[0];
    assert_eq!(hook.name, "team");
    assert!(matches!(&hook.url, FromEnv::Env { var, .. } if var == "TEAM_URL"));
    assert_eq!(hook.events, vec!["halted", "complete"]);
    assert_eq!(hook.format, NotifyFormat::Slack);
    assert_eq!(
        hook.headers,
        vec![("Authorization".to_owned(), "NOTIFY_TOKEN".to_owned())]
    );
    assert_eq!(hook.timeout, Duration::from_secs(2));
    assert_eq!(hook.attempts, 2);
}

#[test]
fn bad_webhooks_are_problems_at_their_line() {
    let cases = [
        (
            "notify:\n  - name: a\n    url: http://h/\n    events: [halted]\n    headers: {Authorization: 'Bearer s3cret'}\n",
            5,
            "must come from the environment",
        ),
        (
            "notify:\n  - name: a\n    url: http://h/\n    events: [halted, exploded]\n",
            4,
            "\"exploded\" is not an event",
        ),
        (
            "notify:\n  - name: a\n    url: ftp://h/\n    events: [halted]\n",
            3,
            "the URL must be http:// or https://",
        ),
        (
            "notify:\n  - url: http://h/\n    events: [halted]\n",
            2,
            "needs a `name`",
        ),
        (
            "notify:\n  - name: a\n    url: http://h/\n    events: [halted]\n  - name: a\n    url: http://h/\n    events: [complete]\n",
            5,
            "named twice",
        ),
        ("notify: {name: a}\n", 1, "must be a list"),
    ];
    for (text, line, needle) in cases {
        let (_, problems) = webhooks(text);
        assert_eq!(problems.len(), 1, "{text}: {problems:?}");
        let (pos, _, why) = &problems[0];
        assert_eq!(pos.line, line, "{text}: {why}");
        assert!(why.contains(needle), "{text}: {why}");
        assert!(!why.contains("s3cret"), "{why}");
    }
}

fn stamp_entry(seq: u64, at: &str, rollout: &str, event: &Event) -> Entry {
    Entry {
        body: Body {
            seq,
            at: at.into(),
            actor: "ci".into(),
            rollout: rollout.into(),
            event: serde_json::to_value(event).expect("serialises"),
            prev: String::new(),
        },
        hash: String::new(),
    }
}

#[test]
fn only_the_events_webhooks_may_ask_for_are_messages() {
    let stamp = Stamp::new("2026-12-07T05:00:00Z", "rm@example.com", "r-1");
    let halted = Event::Halted {
        ring: "dogfood".into(),
        halt: Halt {
            gate: Some("errors".into()),
            value: Some(0.2),
            threshold: Some(0.05),
            reason: "gate `errors` breached".into(),
            at: "2026-12-07T05:00:00Z".into(),
            rollback: true,
        },
    };
    let message = Message::of(&halted, &stamp, Some("abcdef0123456789")).expect("a message");
    assert_eq!(message.event, "halted");
    assert_eq!(message.ring.as_deref(), Some("dogfood"));
    assert_eq!(message.reason.as_deref(), Some("gate `errors` breached"));
    assert_eq!(
        webhook::json_body(&message),
        serde_json::json!({
            "event": "halted",
            "rollout": "r-1",
            "ring": "dogfood",
            "revision": "abcdef0123456789",
            "actor": "rm@example.com",
            "reason": "gate `errors` breached",
            "at": "2026-12-07T05:00:00Z",
            "summary": "rollout r-1 halted at ring dogfood: gate `errors` breached",
            "status": "ringmaster rollout status r-1",
        })
    );
    let slack = webhook::slack_body(&message);
    assert_eq!(
        slack["text"],
        "ringmaster: rollout r-1 halted at ring dogfood: gate `errors` breached"
    );
    assert_eq!(slack["blocks"][0]["type"], "section");
    assert_eq!(slack["blocks"][1]["type"], "context");
    assert_eq!(
        Message::of(&Event::Completed, &stamp, Some("abc")).map(|m| m.event),
        Some("complete")
    );
    for silent in [
        Event::Delivered { ring: "a".into() },
        Event::RollingBack { ring: "a".into() },
        Event::Abandoned { reason: "x".into() },
    ] {
        assert_eq!(Message::of(&silent, &stamp, None), None, "{silent:?}");
    }
}

#[test]
fn a_ring_s_marker_group_holds_its_current_revision_and_its_latest_events() {
    let started = Event::Started {
        revision: "new".into(),
        author: "dev".into(),
        rings: vec!["a".into(), "b".into()],
    };
    let delivering = |ring: &str| Event::Delivering {
        ring: ring.into(),
        revision: "new".into(),
        previous: Some("old".into()),
    };
    let halt = Halt {
        gate: None,
        value: None,
        threshold: None,
        reason: "bad".into(),
        at: "2026-12-07T05:00:30Z".into(),
        rollback: true,
    };
    let events = [
        (0, started),
        (0, delivering("a")),
        (10, Event::Delivered { ring: "a".into() }),
        (20, Event::Promoted { ring: "a".into() }),
        (20, delivering("b")),
        (21, Event::Delivered { ring: "b".into() }),
        (
            30,
            Event::Halted {
                ring: "b".into(),
                halt,
            },
        ),
        (31, Event::RolledBack { ring: "b".into() }),
    ];
    let entries: Vec<Entry> = events
        .iter()
        .enumerate()
        .map(|(i, (s, e))| stamp_entry(i as u64, &format!("2026-12-07T05:00:{s:02}Z"), "r-1", e))
        .collect();
    let base = "2026-12-07T05:00:00Z"
        .parse::<jiff::Timestamp>()
        .map(|t| t.as_second())
        .expect("a time");
    let b = markers::Push::of(&entries, "r-1", Some("b")).expect("a push");
    assert_eq!(b.ring, "b");
    // Rolled back: the ring holds the old revision again.
    assert!(
        b.body
            .contains("ringmaster_ring_revision_info{revision=\"old\"} 1\n"),
        "{}",
        b.body
    );
    for (event, s) in [("delivered", 21), ("halted", 30), ("rolled-back", 31)] {
        let line = format!(
            "ringmaster_rollout_event_timestamp_seconds{{rollout=\"r-1\",revision=\"new\",event=\"{event}\"}} {}\n",
            base + s
        );
        assert!(b.body.contains(&line), "{line} in {}", b.body);
    }
    assert!(!b.body.contains("promoted"), "{}", b.body);
    let a = markers::Push::of(&entries, "r-1", Some("a")).expect("a push");
    assert!(
        a.body
            .contains("ringmaster_ring_revision_info{revision=\"new\"} 1\n"),
        "{}",
        a.body
    );
    assert!(a.body.contains("event=\"promoted\"}"), "{}", a.body);
    assert!(!a.body.contains("halted"), "{}", a.body);
    assert_eq!(
        markers::group_path("dogfood"),
        "metrics/job/ringmaster/ring/dogfood"
    );
    assert_eq!(
        markers::group_path("a/b"),
        "metrics/job/ringmaster/ring@base64/YS9i"
    );
}

/// A notifier that fails `failures` times, then succeeds.
struct Flaky {
    failures: std::sync::Mutex<u32>,
}

impl Notifier for Flaky {
    fn name(&self) -> &str {
        "flaky"
    }
    fn wants(&self, event: &str) -> bool {
        event == "halted"
    }
    fn attempts(&self) -> u32 {
        3
    }
    fn send(&self, _: &Message) -> Attempt {
        let mut left = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if *left > 0 {
            *left -= 1;
            return Attempt {
                ok: false,
                status: Some(503),
                error: None,
                retry: true,
            };
        }
        Attempt {
            ok: true,
            status: Some(200),
            error: None,
            retry: false,
        }
    }
}

#[test]
fn a_failed_attempt_is_retried_after_a_backoff_and_each_attempt_reported() {
    let dispatcher = Dispatcher::start(
        vec![Box::new(Flaky {
            failures: std::sync::Mutex::new(1),
        })],
        None,
    );
    let message = |event: &'static str| Message {
        event,
        rollout: "r-1".into(),
        ring: Some("a".into()),
        revision: None,
        actor: "ci".into(),
        reason: None,
        at: "2026-12-07T05:00:00Z".into(),
    };
    dispatcher.send(message("promoted"));
    dispatcher.send(message("halted"));
    let started = Instant::now();
    let reports = dispatcher.collect(Some(Instant::now() + Duration::from_secs(10)));
    assert!(started.elapsed() >= BACKOFF, "{:?}", started.elapsed());
    let attempts: Vec<(u32, bool, Option<u16>)> = reports
        .iter()
        .filter_map(|r| match r {
            Report::Attempt {
                attempt, result, ..
            } => Some((*attempt, result.ok, result.status)),
            _ => None,
        })
        .collect();
    assert_eq!(attempts, vec![(1, false, Some(503)), (2, true, Some(200))]);
    assert_eq!(dispatcher.outstanding.get(), 0);
}
