//! Telling people and dashboards what a rollout did: `notify:` webhooks
//! (a generic JSON body or a Slack-compatible one) and deploy markers pushed
//! to a Prometheus Pushgateway (`metrics: {pushgateway: URL}`).
//!
//! Both hang off the journal: [`Announcer`] wraps the journal a command
//! appends to, and after an event is journaled it hands the message to a
//! background worker (one per webhook, so one webhook's messages arrive in
//! order, and one for the Pushgateway). The driver never waits for a
//! network: a receiver that hangs cannot delay a halt or a rollback. Every
//! webhook attempt's result comes back over a channel and is journaled as a
//! `notified` event from the thread that owns the journal, at the next
//! append or when the command ends ([`Announcer::finish`], a bounded wait).

mod markers;
mod webhook;

use std::cell::{Cell, RefCell};
use std::io::Write as _;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::{Duration, Instant};

use crate::config::manifest::Manifest;
use crate::rollout::event::Event;
use crate::rollout::journal::{Entry, JournalStore, Stamp, Tamper};

/// How long `rollout run` waits at its end for messages still in flight.
pub(crate) const RUN_END_WAIT: Duration = Duration::from_secs(15);
/// How long a person's command (`halt`, `approve`, `freeze`, …) waits.
pub(crate) const COMMAND_WAIT: Duration = Duration::from_secs(5);
/// Wait before the second attempt; doubled each time, capped at 8×.
const BACKOFF: Duration = Duration::from_secs(1);

/// What happened, as a webhook is told it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Message {
    /// `halted`, `complete`, … (see `NOTIFY_EVENTS`).
    pub event: &'static str,
    /// "" for a repo-wide event (a freeze).
    pub rollout: String,
    pub ring: Option<String>,
    pub revision: Option<String>,
    pub actor: String,
    pub reason: Option<String>,
    pub at: String,
}

impl Message {
    /// The message for a journaled event, if it is one webhooks may ask for.
    pub(crate) fn of(event: &Event, stamp: &Stamp<'_>, revision: Option<&str>) -> Option<Message> {
        let (kind, ring, reason): (&'static str, Option<&str>, Option<&str>) = match event {
            Event::Started { .. } => ("started", None, None),
            Event::AwaitingApproval { ring } => ("awaiting-approval", Some(ring), None),
            Event::Approved { ring, .. } => ("approved", Some(ring), None),
            Event::Halted { ring, halt } => ("halted", Some(ring), Some(&halt.reason)),
            Event::RolledBack { ring } => ("rolled-back", Some(ring), None),
            Event::Resumed { ring } => ("resumed", Some(ring), None),
            Event::Promoted { ring } => ("promoted", Some(ring), None),
            Event::Completed => ("complete", None, None),
            Event::Frozen { reason } => ("frozen", None, Some(reason)),
            Event::Unfrozen => ("unfrozen", None, None),
            _ => return None,
        };
        let revision = match event {
            Event::Started { revision, .. } => Some(revision.clone()),
            Event::Frozen { .. } | Event::Unfrozen => None,
            _ => revision.map(str::to_owned),
        };
        Some(Message {
            event: kind,
            rollout: stamp.rollout.to_owned(),
            ring: ring.map(str::to_owned),
            revision,
            actor: stamp.actor.to_owned(),
            reason: reason.filter(|r| !r.is_empty()).map(str::to_owned),
            at: stamp.at.to_owned(),
        })
    }

    /// The command that shows the state the message is about.
    pub(crate) fn status_hint(&self) -> String {
        if self.rollout.is_empty() {
            "ringmaster rollout status".to_owned()
        } else {
            format!("ringmaster rollout status {}", self.rollout)
        }
    }
}

/// The result of one attempt to deliver a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Attempt {
    pub ok: bool,
    /// What the receiver answered, when it answered.
    pub status: Option<u16>,
    /// Why it failed, when no status says it (never the URL or a header).
    pub error: Option<String>,
    /// Whether another attempt may go better (a timeout, a 5xx, a 429; not
    /// a 4xx or a variable that is not set).
    pub retry: bool,
}

/// A place messages are sent to (today: webhooks).
pub(crate) trait Notifier: Send {
    /// What the journal and messages call it (never its URL).
    fn name(&self) -> &str;
    fn wants(&self, event: &str) -> bool;
    /// Tries per message, the first included.
    fn attempts(&self) -> u32;
    /// One attempt, bounded by the notifier's own timeout.
    fn send(&self, message: &Message) -> Attempt;
}

/// The webhooks of a manifest's `notify:` section.
pub(crate) fn from_config(manifest: &Manifest) -> Vec<Box<dyn Notifier>> {
    manifest
        .notify
        .iter()
        .map(|config| Box::new(webhook::Webhook::new(config)) as Box<dyn Notifier>)
        .collect()
}

/// A worker's report to the thread that owns the journal.
enum Report {
    Attempt {
        webhook: String,
        message: Arc<Message>,
        attempt: u32,
        result: Attempt,
    },
    /// A message is finished with (sent, or out of attempts).
    Done,
    /// A Pushgateway push failed: a warning.
    PushFailed(String),
}

/// Sends in the background; reports come back over a channel.
struct Dispatcher {
    workers: Vec<(Vec<String>, Sender<Arc<Message>>)>,
    pusher: Option<Sender<markers::Push>>,
    reports: Receiver<Report>,
    outstanding: Cell<usize>,
}

impl Dispatcher {
    fn start(notifiers: Vec<Box<dyn Notifier>>, pushgateway: Option<String>) -> Dispatcher {
        let (report, reports) = channel();
        let mut workers = Vec::new();
        for notifier in notifiers {
            let wants: Vec<String> = crate::config::adapters::NOTIFY_EVENTS
                .iter()
                .filter(|e| notifier.wants(e))
                .map(|e| (*e).to_owned())
                .collect();
            let (send, queue) = channel::<Arc<Message>>();
            let report = report.clone();
            std::thread::spawn(move || {
                for message in queue {
                    deliver(notifier.as_ref(), &message, &report);
                    if report.send(Report::Done).is_err() {
                        return;
                    }
                }
            });
            workers.push((wants, send));
        }
        let pusher = pushgateway.map(|url| {
            let (send, queue) = channel::<markers::Push>();
            let report = report.clone();
            std::thread::spawn(move || {
                let gateway = markers::Gateway::new(&url);
                for push in queue {
                    if let Err(why) = gateway.push(&push) {
                        let _ = report.send(Report::PushFailed(why));
                    }
                    if report.send(Report::Done).is_err() {
                        return;
                    }
                }
            });
            send
        });
        Dispatcher {
            workers,
            pusher,
            reports,
            outstanding: Cell::new(0),
        }
    }

    fn send(&self, message: Message) {
        let message = Arc::new(message);
        for (wants, worker) in &self.workers {
            if wants.iter().any(|w| w == message.event) && worker.send(message.clone()).is_ok() {
                self.outstanding.set(self.outstanding.get() + 1);
            }
        }
    }

    fn push(&self, push: markers::Push) {
        if let Some(pusher) = &self.pusher
            && pusher.send(push).is_ok()
        {
            self.outstanding.set(self.outstanding.get() + 1);
        }
    }

    /// The reports that have arrived; waits for the outstanding ones until
    /// `deadline` when there is one.
    fn collect(&self, deadline: Option<Instant>) -> Vec<Report> {
        let mut out = Vec::new();
        loop {
            let report = match deadline {
                None => self.reports.try_recv().ok(),
                Some(_) if self.outstanding.get() == 0 => self.reports.try_recv().ok(),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    self.reports.recv_timeout(left).ok()
                }
            };
            let Some(report) = report else {
                return out;
            };
            if matches!(report, Report::Done) {
                self.outstanding
                    .set(self.outstanding.get().saturating_sub(1));
            }
            out.push(report);
        }
    }
}

/// Tries a message up to the notifier's attempts, with backoff between
/// retryable failures; reports every attempt.
fn deliver(notifier: &dyn Notifier, message: &Arc<Message>, report: &Sender<Report>) {
    let attempts = notifier.attempts().max(1);
    let mut backoff = BACKOFF;
    for attempt in 1..=attempts {
        if attempt > 1 {
            std::thread::sleep(backoff);
            backoff = (backoff * 2).min(BACKOFF * 8);
        }
        let result = notifier.send(message);
        let stop = result.ok || !result.retry;
        let _ = report.send(Report::Attempt {
            webhook: notifier.name().to_owned(),
            message: message.clone(),
            attempt,
            result,
        });
        if stop {
            return;
        }
    }
}

/// A journal that announces what is appended to it: after each append, the
/// events webhooks asked for are handed to their workers and deploy markers
/// to the Pushgateway's; the results that came back are journaled.
pub(crate) struct Announcer<'a> {
    inner: &'a dyn JournalStore,
    dispatcher: Option<Dispatcher>,
    /// The rollout's revision, for the messages of events that do not say it.
    revision: Option<String>,
    /// The last stamp time seen: results journaled at the end are stamped
    /// no earlier (a simulated clock runs ahead of the wall clock).
    last_at: RefCell<Option<String>>,
    actor: String,
}

impl<'a> Announcer<'a> {
    /// `manifest`'s webhooks and Pushgateway around `journal`; a manifest
    /// with neither gives a journal that only passes appends through.
    pub(crate) fn new(
        journal: &'a dyn JournalStore,
        manifest: &Manifest,
        revision: Option<&str>,
        actor: &str,
    ) -> Announcer<'a> {
        let notifiers = from_config(manifest);
        let pushgateway = manifest.pushgateway.as_ref().map(|p| p.value.clone());
        let dispatcher = (!notifiers.is_empty() || pushgateway.is_some())
            .then(|| Dispatcher::start(notifiers, pushgateway));
        Announcer {
            inner: journal,
            dispatcher,
            revision: revision.map(str::to_owned),
            last_at: RefCell::new(None),
            actor: actor.to_owned(),
        }
    }

    /// Waits up to `wait` for the messages and pushes still in flight,
    /// journals their results, and warns about any left unconfirmed.
    pub(crate) fn finish(&self, wait: Duration) {
        let Some(dispatcher) = &self.dispatcher else {
            return;
        };
        let reports = dispatcher.collect(Some(Instant::now() + wait));
        let at = {
            let now = crate::rollout::event::rfc3339(jiff::Timestamp::now());
            match self.last_at.borrow().as_deref() {
                Some(last) if last > now.as_str() => last.to_owned(),
                _ => now,
            }
        };
        self.journal_reports(reports, &at);
        let left = dispatcher.outstanding.get();
        if left > 0 {
            warn(&format!(
                "warning: {left} notification(s) or marker push(es) still unconfirmed after {}s; ringmaster stopped waiting (the journal has every attempt that finished)",
                wait.as_secs()
            ));
        }
    }

    fn announce(&self, entries: &[Entry]) {
        let Some(dispatcher) = &self.dispatcher else {
            return;
        };
        for entry in entries {
            let Ok(event) = serde_json::from_value::<Event>(entry.body.event.clone()) else {
                continue;
            };
            let stamp = Stamp::new(&entry.body.at, &entry.body.actor, &entry.body.rollout);
            if let Some(message) = Message::of(&event, &stamp, self.revision.as_deref()) {
                dispatcher.send(message);
            }
            if dispatcher.pusher.is_some()
                && let Some(ring) = markers::ring_marked(&event)
            {
                match self.inner.entries() {
                    Ok(all) => {
                        if let Some(push) = markers::Push::of(&all, &entry.body.rollout, ring) {
                            dispatcher.push(push);
                        }
                    }
                    Err(e) => warn(&format!(
                        "warning: no deploy marker pushed: the journal cannot be read: {e:#}"
                    )),
                }
            }
        }
    }

    /// Journals the webhook attempts among `reports` (one append per
    /// rollout) and warns about failed pushes.
    fn journal_reports(&self, reports: Vec<Report>, at: &str) {
        let mut by_rollout: Vec<(String, Vec<serde_json::Value>)> = Vec::new();
        for report in reports {
            match report {
                Report::Attempt {
                    webhook,
                    message,
                    attempt,
                    result,
                } => {
                    if !result.ok {
                        warn(&format!(
                            "warning: webhook `{webhook}`: {} notification, attempt {attempt}: {}",
                            message.event,
                            describe(&result)
                        ));
                    }
                    let event = Event::Notified {
                        webhook,
                        event: message.event.to_owned(),
                        ring: message.ring.clone(),
                        attempt,
                        ok: result.ok,
                        status: result.status,
                        error: result.error,
                    };
                    let Ok(value) = serde_json::to_value(&event) else {
                        continue;
                    };
                    match by_rollout.iter_mut().find(|(r, _)| *r == message.rollout) {
                        Some((_, values)) => values.push(value),
                        None => by_rollout.push((message.rollout.clone(), vec![value])),
                    }
                }
                Report::Done => {}
                Report::PushFailed(why) => {
                    warn(&format!("warning: deploy marker not pushed: {why}"));
                }
            }
        }
        for (rollout, values) in by_rollout {
            if let Err(e) = self
                .inner
                .append_all(Stamp::new(at, &self.actor, &rollout), values)
            {
                warn(&format!("warning: webhook results not journaled: {e:#}"));
            }
        }
    }
}

/// A journaled `notified` event in words, for timelines: `webhook team:
/// halted, attempt 2: failed (timed out)`.
pub(crate) fn notified_detail(event: &serde_json::Value) -> String {
    let text = |key: &str| event.get(key).and_then(|v| v.as_str()).unwrap_or("");
    let attempt = event.get("attempt").and_then(|v| v.as_u64()).unwrap_or(0);
    let outcome = match (
        event.get("ok").and_then(|v| v.as_bool()),
        event.get("status").and_then(|v| v.as_u64()),
        event.get("error").and_then(|v| v.as_str()),
    ) {
        (Some(true), Some(status), _) => format!("sent ({status})"),
        (Some(true), None, _) => "sent".to_owned(),
        (_, _, Some(error)) => format!("failed ({error})"),
        (_, Some(status), None) => format!("failed (answered {status})"),
        _ => "failed".to_owned(),
    };
    format!(
        "webhook {}: {}, attempt {attempt}: {outcome}",
        text("webhook"),
        text("event")
    )
}

fn describe(result: &Attempt) -> String {
    match (&result.error, result.status) {
        (Some(error), _) => error.clone(),
        (None, Some(status)) => format!("answered {status}"),
        (None, None) => "failed".to_owned(),
    }
}

fn warn(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

impl JournalStore for Announcer<'_> {
    fn entries(&self) -> anyhow::Result<Vec<Entry>> {
        self.inner.entries()
    }
    fn append_all(
        &self,
        stamp: Stamp<'_>,
        events: Vec<serde_json::Value>,
    ) -> anyhow::Result<Vec<Entry>> {
        let entries = self.inner.append_all(stamp, events)?;
        if let Some(dispatcher) = &self.dispatcher {
            *self.last_at.borrow_mut() = Some(stamp.at.to_owned());
            self.announce(&entries);
            self.journal_reports(dispatcher.collect(None), stamp.at);
        }
        Ok(entries)
    }
    fn verify(&self) -> anyhow::Result<Vec<Tamper>> {
        self.inner.verify()
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn stored(&self) -> anyhow::Result<usize> {
        self.inner.stored()
    }
    fn interrupted(&self) -> anyhow::Result<Option<String>> {
        self.inner.interrupted()
    }
    fn finish_interrupted(&self) -> anyhow::Result<Option<String>> {
        self.inner.finish_interrupted()
    }
}

#[cfg(test)]
mod tests;
