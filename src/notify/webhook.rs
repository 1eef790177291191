//! A `notify:` webhook: an HTTP POST of a JSON body (generic, or what a
//! Slack incoming webhook accepts) through the project's HTTP client.
//!
//! The URL and the header values may come from the environment and are
//! secrets either way: they are read once, when the webhook is built, and
//! nothing here ever prints them (messages and the journal say the
//! webhook's name).

use serde_json::{Value, json};

use super::{Attempt, Message, Notifier};
use crate::config::adapters::{FromEnv, NotifyFormat, WebhookConfig};
use crate::model::revision::short;
use crate::net::http::{HttpClient, HttpOptions};

/// Where messages go: the URL, the headers (name, value) and the client.
type Target = (String, Vec<(String, String)>, HttpClient);

pub(crate) struct Webhook {
    name: String,
    events: Vec<String>,
    format: NotifyFormat,
    attempts: u32,
    /// The URL and headers, or why the webhook cannot be used (a variable
    /// that is not set): every message then fails once, journaled.
    target: Result<Target, String>,
}

impl Webhook {
    pub(crate) fn new(config: &WebhookConfig) -> Webhook {
        Webhook {
            name: config.name.clone(),
            events: config.events.clone(),
            format: config.format,
            attempts: config.attempts,
            target: target(config),
        }
    }
}

/// A variable's value, or why it cannot be used (naming the variable,
/// never the value).
fn from_env(var: &str, what: &str) -> Result<String, String> {
    match std::env::var(var) {
        Ok(v) if v.is_empty() => Err(format!("{what}: environment variable {var} is empty")),
        Ok(v) if v.chars().any(char::is_control) => Err(format!(
            "{what}: environment variable {var} holds a newline or another control character"
        )),
        Ok(v) => Ok(v),
        Err(_) => Err(format!("{what}: environment variable {var} is not set")),
    }
}

fn target(config: &WebhookConfig) -> Result<Target, String> {
    let url = match &config.url {
        FromEnv::Literal(url) => url.value.clone(),
        FromEnv::Env { var, .. } => {
            let url = from_env(var, "the URL")?;
            // The variable's value is a secret: the message names the variable.
            crate::net::http::api_url(&url, "")
                .map_err(|_| format!("the URL in {var} is not an http:// or https:// URL"))?;
            url
        }
    };
    let headers = config
        .headers
        .iter()
        .map(|(name, var)| Ok((name.clone(), from_env(var, &format!("header {name}"))?)))
        .collect::<Result<Vec<_>, String>>()?;
    let client = HttpClient::new(HttpOptions {
        timeout: config.timeout,
        attempts: 1,
        ..HttpOptions::default()
    })
    .map_err(|e| format!("cannot set up the HTTP client: {e:#}"))?;
    Ok((url, headers, client))
}

impl Notifier for Webhook {
    fn name(&self) -> &str {
        &self.name
    }

    fn wants(&self, event: &str) -> bool {
        self.events.iter().any(|e| e == event)
    }

    fn attempts(&self) -> u32 {
        self.attempts
    }

    fn send(&self, message: &Message) -> Attempt {
        let (url, headers, client) = match &self.target {
            Ok(target) => target,
            Err(why) => {
                return Attempt {
                    ok: false,
                    status: None,
                    error: Some(why.clone()),
                    retry: false,
                };
            }
        };
        let body = match self.format {
            NotifyFormat::Json => json_body(message),
            NotifyFormat::Slack => slack_body(message),
        };
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        let sent = client.block_on(client.send_once(
            reqwest::Method::POST,
            url,
            "application/json",
            bytes,
            headers,
        ));
        match sent {
            Ok(status) if (200..300).contains(&status) => Attempt {
                ok: true,
                status: Some(status),
                error: None,
                retry: false,
            },
            Ok(status) => Attempt {
                ok: false,
                status: Some(status),
                error: None,
                retry: status >= 500 || status == 429 || status == 408,
            },
            Err(error) => Attempt {
                ok: false,
                status: None,
                error: Some(error),
                retry: true,
            },
        }
    }
}

/// The generic body: every field always present (`null` when the event
/// has none), so a receiver can rely on the shape.
pub(crate) fn json_body(m: &Message) -> Value {
    json!({
        "event": m.event,
        "rollout": m.rollout,
        "ring": m.ring,
        "revision": m.revision,
        "actor": m.actor,
        "reason": m.reason,
        "at": m.at,
        "summary": summary(m),
        "status": m.status_hint(),
    })
}

/// What a Slack incoming webhook accepts: `text` (the notification and
/// fallback) and two blocks, the summary and its context.
pub(crate) fn slack_body(m: &Message) -> Value {
    let text = format!("ringmaster: {}", summary(m));
    let mut context = Vec::new();
    if !m.rollout.is_empty() {
        context.push(format!("rollout `{}`", escape(&m.rollout)));
    }
    if let Some(ring) = &m.ring {
        context.push(format!("ring `{}`", escape(ring)));
    }
    if let Some(revision) = &m.revision {
        context.push(format!("revision `{}`", escape(short(revision))));
    }
    context.push(format!("by {}", escape(&m.actor)));
    context.push(escape(&m.at));
    context.push(format!("`{}`", escape(&m.status_hint())));
    json!({
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": format!("*ringmaster*: {}", escape(&summary(m)))}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": context.join(" · ")}]},
        ],
    })
}

/// Slack's mrkdwn escapes these three; nothing else is special in text.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// One line saying what happened.
pub(crate) fn summary(m: &Message) -> String {
    let id = &m.rollout;
    let ring = m.ring.as_deref().unwrap_or("?");
    let revision = m.revision.as_deref().map_or("?", short);
    let reason = m
        .reason
        .as_deref()
        .map(|r| format!(": {r}"))
        .unwrap_or_default();
    match m.event {
        "started" => format!("rollout {id} of revision {revision} started by {}", m.actor),
        "awaiting-approval" => format!(
            "ring {ring} of rollout {id} awaits approval: `ringmaster rollout approve {id} --ring {ring}`"
        ),
        "approved" => format!("{} approved ring {ring} of rollout {id}", m.actor),
        "halted" => format!("rollout {id} halted at ring {ring}{reason}"),
        "rolled-back" => format!("ring {ring} of rollout {id} rolled back"),
        "resumed" => format!("{} resumed rollout {id} at ring {ring}", m.actor),
        "promoted" => format!("ring {ring} of rollout {id} promoted (revision {revision})"),
        "complete" => format!("rollout {id} of revision {revision} is complete"),
        "frozen" => format!("{} froze the rollout line{reason}", m.actor),
        "unfrozen" => format!("{} unfroze the rollout line", m.actor),
        other => format!("{other} (rollout {id})"),
    }
}
