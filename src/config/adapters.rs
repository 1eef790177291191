//! The manifest's adapter sections, typed: where rings are delivered
//! (`deliver:`), where gates get their numbers (`metrics:`) and where the
//! journal and lock live (`state:`).
//!
//! Each section is parsed once, when the manifest is loaded, into the enum
//! its adapter folder's `from_config` factory matches on; positions are kept
//! so a factory's message can point at the line. The manifest schema already
//! refuses unknown kinds and wrong shapes, so the parse errors here are the
//! second line of defence (and the messages the factories gave before).

use serde::Deserialize;

use crate::config::document::Node;
use crate::diag::Pos;

/// A string from a section, with where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub value: String,
    pub pos: Pos,
}

/// `deliver:` (SPEC §7); no section is git refs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum DeliverConfig {
    /// `refs/rings/<ring>` in the config repo.
    #[default]
    GitRefs,
    /// `<path>/<ring>/<class>.yaml`, `path` relative to the repo root.
    Dir { path: Located },
    /// `<prefix>/rings/<ring>/…` in etcd. An empty `endpoints` is refused
    /// when the target is opened.
    Etcd {
        endpoints: Vec<String>,
        prefix: Option<String>,
    },
}

/// `metrics:`; no section is [`MetricsConfig::None`] (gated rings fail closed).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum MetricsConfig {
    #[default]
    None,
    /// A repo file of series. `file` may be missing: `--prometheus` can
    /// stand in, so only a source built from this section refuses it.
    Embedded { file: Option<Located> },
    /// A Prometheus-compatible query API; `url` may be left to `--prometheus`.
    Prometheus { url: Option<Located> },
}

/// `state:`; no section (or any kind but `etcd`) is the local journal under
/// the git directory.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum StateConfig {
    #[default]
    Local,
    Etcd {
        endpoints: Vec<String>,
        prefix: Option<String>,
    },
}

fn located(section: &Node, key: &str) -> Option<Located> {
    let entry = section.get(key)?;
    Some(Located {
        value: entry.value.value.as_str()?.to_owned(),
        pos: entry.value.pos,
    })
}

fn kind(section: &Node) -> Option<&str> {
    section.get("kind").and_then(|k| k.value.value.as_str())
}

/// The shape etcd sections are read with (`state:` is read before, and
/// without, the manifest schema, so serde's words are the message).
#[derive(Deserialize)]
struct EtcdSection {
    kind: String,
    #[serde(default)]
    endpoints: Vec<String>,
    prefix: Option<String>,
}

fn etcd_section(section: &Node, name: &str) -> Result<EtcdSection, String> {
    serde_json::from_value(section.to_json())
        .map_err(|e| format!("ringmaster.yaml: `{name}:` cannot be read: {e}"))
}

impl DeliverConfig {
    /// The `deliver:` section's value, if there is one.
    pub fn parse(section: Option<&Node>) -> Result<DeliverConfig, String> {
        let Some(section) = section else {
            return Ok(DeliverConfig::GitRefs);
        };
        match kind(section).unwrap_or("git-refs") {
            "git-refs" => Ok(DeliverConfig::GitRefs),
            "dir" => match located(section, "path") {
                Some(path) => Ok(DeliverConfig::Dir { path }),
                None => Err("`deliver: {kind: dir}` needs a `path`".into()),
            },
            "etcd" => {
                let s = etcd_section(section, "deliver")?;
                Ok(DeliverConfig::Etcd {
                    endpoints: s.endpoints,
                    prefix: s.prefix,
                })
            }
            other => Err(format!(
                "delivery kind `{other}` is unknown; use git-refs, dir or etcd (ringmaster.yaml, `deliver.kind`)"
            )),
        }
    }
}

impl MetricsConfig {
    /// The `metrics:` section's value, if there is one.
    pub fn parse(section: Option<&Node>) -> Result<MetricsConfig, String> {
        let Some(section) = section else {
            return Ok(MetricsConfig::None);
        };
        match kind(section).unwrap_or("") {
            // Only a Pushgateway for deploy markers, no gate numbers.
            "none" => Ok(MetricsConfig::None),
            "embedded" => Ok(MetricsConfig::Embedded {
                file: located(section, "file"),
            }),
            "prometheus" => Ok(MetricsConfig::Prometheus {
                url: located(section, "url"),
            }),
            other => Err(format!(
                "metrics kind `{other}` is not supported; use `prometheus` or `embedded`"
            )),
        }
    }
}

impl StateConfig {
    /// The `state:` section's value, if there is one. Also read from a
    /// manifest that has findings: it still says where the journal lives.
    pub fn parse(section: Option<&Node>) -> Result<StateConfig, String> {
        let Some(section) = section else {
            return Ok(StateConfig::Local);
        };
        let s = etcd_section(section, "state")?;
        Ok(if s.kind == "etcd" {
            StateConfig::Etcd {
                endpoints: s.endpoints,
                prefix: s.prefix,
            }
        } else {
            StateConfig::Local
        })
    }
}

/// Where a value a webhook needs comes from: written in the manifest, or
/// read from an environment variable when the rollout runs (a secret: a
/// Slack incoming-webhook URL, a token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FromEnv {
    Literal(Located),
    Env { var: String, pos: Pos },
}

/// The body a webhook is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NotifyFormat {
    /// `{event, rollout, ring, revision, actor, reason, at, status}`.
    #[default]
    Json,
    /// `{text, blocks}`, what a Slack incoming webhook accepts.
    Slack,
}

/// The rollout events a webhook may ask for (`complete` is the journal's
/// `completed`).
pub const NOTIFY_EVENTS: &[&str] = &[
    "started",
    "awaiting-approval",
    "approved",
    "halted",
    "rolled-back",
    "resumed",
    "promoted",
    "complete",
    "frozen",
    "unfrozen",
];

/// One entry of `notify:`: a webhook and the events it wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    /// What messages and the journal call it (never its URL).
    pub name: String,
    pub url: FromEnv,
    pub events: Vec<String>,
    pub format: NotifyFormat,
    /// Header name → the environment variable holding its value.
    pub headers: Vec<(String, String)>,
    /// Per-attempt timeout.
    pub timeout: std::time::Duration,
    /// Tries per message, the first included.
    pub attempts: u32,
    pub pos: Pos,
}

/// A `notify:` problem: where, the JSON pointer, and what is wrong.
pub type NotifyProblem = (Pos, String, String);

/// Default per-attempt timeout of a webhook.
pub const NOTIFY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// Default tries per message.
pub const NOTIFY_ATTEMPTS: u32 = 3;

fn env_ref(node: &Node) -> Option<String> {
    let entries = node.value.as_map()?;
    if entries.len() != 1 {
        return None;
    }
    let var = node.get("env")?.value.value.as_str()?;
    let valid = !var.is_empty()
        && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !var.starts_with(|c: char| c.is_ascii_digit());
    valid.then(|| var.to_owned())
}

impl WebhookConfig {
    /// The `notify:` section: its webhooks, and what is wrong with any entry
    /// (such an entry is left out; `check` reports each at its line).
    pub fn parse_all(section: Option<&Node>) -> (Vec<WebhookConfig>, Vec<NotifyProblem>) {
        let mut hooks: Vec<WebhookConfig> = Vec::new();
        let mut problems = Vec::new();
        let Some(section) = section else {
            return (hooks, problems);
        };
        let crate::config::document::Value::Seq(items) = &section.value else {
            problems.push((
                section.pos,
                "/notify".to_owned(),
                "`notify:` must be a list of webhooks (`- name: …, url: …, events: […]`)"
                    .to_owned(),
            ));
            return (hooks, problems);
        };
        for (i, item) in items.iter().enumerate() {
            match WebhookConfig::parse(item, i) {
                Ok(hook) => {
                    if hooks.iter().any(|h| h.name == hook.name) {
                        problems.push((
                            item.pos,
                            format!("/notify/{i}/name"),
                            format!(
                                "webhook `{}` is named twice; give each its own name",
                                hook.name
                            ),
                        ));
                    } else {
                        hooks.push(hook);
                    }
                }
                Err(problem) => problems.push(problem),
            }
        }
        (hooks, problems)
    }

    fn parse(item: &Node, i: usize) -> Result<WebhookConfig, NotifyProblem> {
        let at =
            |node: &Node, key: &str, why: String| (node.pos, format!("/notify/{i}/{key}"), why);
        if item.value.as_map().is_none() {
            return Err(at(
                item,
                "",
                "a webhook is a map with `name`, `url` and `events`".into(),
            ));
        }
        let name =
            match item.get("name").map(|e| &e.value) {
                Some(n) => match n.value.as_str() {
                    Some(s) if !s.trim().is_empty() => s.to_owned(),
                    _ => return Err(at(n, "name", "`name` must be a non-empty string".into())),
                },
                None => return Err(at(
                    item,
                    "name",
                    "a webhook needs a `name` (messages and the journal name it, never its URL)"
                        .into(),
                )),
            };
        let url = match item.get("url").map(|e| &e.value) {
            Some(u) => match (&u.value, env_ref(u)) {
                (crate::config::document::Value::Str(s), _) => {
                    // The message names no part of the URL: its path may be a secret.
                    crate::net::http::api_url(s, "").map_err(|_| {
                        at(u, "url", format!("webhook `{name}`: the URL must be http:// or https://, with a host and without credentials or a fragment (`#…`)"))
                    })?;
                    FromEnv::Literal(Located {
                        value: s.clone(),
                        pos: u.pos,
                    })
                }
                (_, Some(var)) => FromEnv::Env { var, pos: u.pos },
                _ => {
                    return Err(at(
                        u,
                        "url",
                        format!(
                            "webhook `{name}`: `url` must be an http(s) URL or `{{env: VARIABLE}}`"
                        ),
                    ));
                }
            },
            None => return Err(at(item, "url", format!("webhook `{name}` needs a `url`"))),
        };
        let mut events = Vec::new();
        match item.get("events").map(|e| &e.value) {
            Some(node) => {
                let crate::config::document::Value::Seq(list) = &node.value else {
                    return Err(at(
                        node,
                        "events",
                        format!(
                            "webhook `{name}`: `events` must be a list, e.g. [halted, rolled-back]"
                        ),
                    ));
                };
                for (j, e) in list.iter().enumerate() {
                    match e.value.as_str() {
                        Some(ev) if NOTIFY_EVENTS.contains(&ev) => {
                            if !events.iter().any(|x: &String| x == ev) {
                                events.push(ev.to_owned());
                            }
                        }
                        _ => {
                            return Err((
                                e.pos,
                                format!("/notify/{i}/events/{j}"),
                                format!(
                                    "webhook `{name}`: {} is not an event; use one of {}",
                                    crate::config::document::shown(&e.value),
                                    NOTIFY_EVENTS.join(", ")
                                ),
                            ));
                        }
                    }
                }
                if events.is_empty() {
                    return Err(at(
                        node,
                        "events",
                        format!("webhook `{name}` asks for no event"),
                    ));
                }
            }
            None => {
                return Err(at(
                    item,
                    "events",
                    format!("webhook `{name}` needs `events`, e.g. [halted, rolled-back]"),
                ));
            }
        }
        let format = match item.get("format").map(|e| &e.value) {
            None => NotifyFormat::Json,
            Some(f) => match f.value.as_str() {
                Some("json") => NotifyFormat::Json,
                Some("slack") => NotifyFormat::Slack,
                _ => {
                    return Err(at(
                        f,
                        "format",
                        format!("webhook `{name}`: `format` is `json` or `slack`"),
                    ));
                }
            },
        };
        let mut headers = Vec::new();
        if let Some(h) = item.get("headers").map(|e| &e.value) {
            let Some(entries) = h.value.as_map() else {
                return Err(at(
                    h,
                    "headers",
                    format!(
                        "webhook `{name}`: `headers` maps a header name to `{{env: VARIABLE}}`"
                    ),
                ));
            };
            for entry in entries {
                let valid_name = !entry.key.is_empty()
                    && entry
                        .key
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_!#$%&'*+.^`|~".contains(&b));
                match env_ref(&entry.value) {
                    Some(var) if valid_name => headers.push((entry.key.clone(), var)),
                    _ if !valid_name => {
                        return Err((
                            entry.key_pos,
                            format!("/notify/{i}/headers"),
                            format!("webhook `{name}`: `{}` is not a header name", entry.key),
                        ));
                    }
                    _ => {
                        return Err((
                            entry.value.pos,
                            format!("/notify/{i}/headers/{}", entry.key),
                            format!(
                                "webhook `{name}`: header `{}` must come from the environment, `{{env: VARIABLE}}`: a value written in the repo would be a secret in git",
                                entry.key
                            ),
                        ));
                    }
                }
            }
        }
        let timeout = match item.get("timeout").map(|e| &e.value) {
            None => NOTIFY_TIMEOUT,
            Some(t) => match t.value.as_str().map(crate::model::duration::duration) {
                Some(Ok(d)) if !d.is_zero() && d <= std::time::Duration::from_secs(60) => d,
                _ => {
                    return Err(at(
                        t,
                        "timeout",
                        format!(
                            "webhook `{name}`: `timeout` is a duration from 1ms to 60s, e.g. `5s`"
                        ),
                    ));
                }
            },
        };
        let attempts = match item.get("attempts").map(|e| &e.value) {
            None => NOTIFY_ATTEMPTS,
            Some(a) => match a.value {
                crate::config::document::Value::Int(n) if (1..=10).contains(&n) => n as u32,
                _ => {
                    return Err(at(
                        a,
                        "attempts",
                        format!("webhook `{name}`: `attempts` is a whole number from 1 to 10"),
                    ));
                }
            },
        };
        Ok(WebhookConfig {
            name,
            url,
            events,
            format,
            headers,
            timeout,
            attempts,
            pos: item.pos,
        })
    }
}

/// `metrics.pushgateway`: where deploy markers are pushed (any metrics kind,
/// `none` included). A URL that cannot be used is an error message.
pub fn pushgateway(section: Option<&Node>) -> Result<Option<Located>, (Pos, String)> {
    let Some(url) = section.and_then(|s| located(s, "pushgateway")) else {
        return Ok(None);
    };
    crate::net::http::api_url(&url.value, "metrics")
        .map_err(|why| (url.pos, format!("the Pushgateway URL {why}")))?;
    Ok(Some(url))
}

/// The section `name` of a manifest document.
pub(crate) fn section<'a>(root: &'a Node, name: &str) -> Option<&'a Node> {
    root.get(name).map(|entry| &entry.value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::document::parse_fixture;

    fn deliver(text: &str) -> Result<DeliverConfig, String> {
        DeliverConfig::parse(section(&parse_fixture(text), "deliver"))
    }

    fn metrics(text: &str) -> Result<MetricsConfig, String> {
        MetricsConfig::parse(section(&parse_fixture(text), "metrics"))
    }

    fn state(text: &str) -> Result<StateConfig, String> {
        StateConfig::parse(section(&parse_fixture(text), "state"))
    }

    #[test]
    fn each_deliver_kind_parses_with_its_fields_and_positions() {
        assert_eq!(deliver("version: 1\n"), Ok(DeliverConfig::GitRefs));
        assert_eq!(
            deliver("deliver: {kind: git-refs}\n"),
            Ok(DeliverConfig::GitRefs)
        );
        assert_eq!(
            deliver("version: 1\ndeliver:\n  kind: dir\n  path: out\n"),
            Ok(DeliverConfig::Dir {
                path: Located {
                    value: "out".into(),
                    pos: Pos::new(4, 9)
                }
            })
        );
        assert_eq!(
            deliver("deliver: {kind: etcd, endpoints: [http://e:2379], prefix: /p}\n"),
            Ok(DeliverConfig::Etcd {
                endpoints: vec!["http://e:2379".into()],
                prefix: Some("/p".into())
            })
        );
    }

    #[test]
    fn bad_deliver_sections_give_the_messages_the_factory_gave() {
        assert_eq!(
            deliver("deliver: {kind: dir}\n"),
            Err("`deliver: {kind: dir}` needs a `path`".into())
        );
        assert_eq!(
            deliver("deliver: {kind: consul}\n"),
            Err("delivery kind `consul` is unknown; use git-refs, dir or etcd (ringmaster.yaml, `deliver.kind`)".into())
        );
        let err = deliver("deliver: {kind: etcd, endpoints: http://e}\n").unwrap_err();
        assert!(
            err.starts_with("ringmaster.yaml: `deliver:` cannot be read: invalid type"),
            "{err}"
        );
    }

    #[test]
    fn each_metrics_kind_parses_and_an_unknown_one_is_refused_as_before() {
        assert_eq!(metrics("version: 1\n"), Ok(MetricsConfig::None));
        assert_eq!(
            metrics("metrics: {kind: embedded, file: m.yaml}\n"),
            Ok(MetricsConfig::Embedded {
                file: Some(Located {
                    value: "m.yaml".into(),
                    pos: Pos::new(1, 33)
                })
            })
        );
        assert_eq!(
            metrics("metrics: {kind: prometheus}\n"),
            Ok(MetricsConfig::Prometheus { url: None })
        );
        assert_eq!(
            metrics("metrics: {kind: graphite}\n"),
            Err("metrics kind `graphite` is not supported; use `prometheus` or `embedded`".into())
        );
    }

    #[test]
    fn state_is_local_unless_it_names_etcd_and_a_bad_one_says_why() {
        assert_eq!(state("version: 1\n"), Ok(StateConfig::Local));
        assert_eq!(state("state: {kind: local}\n"), Ok(StateConfig::Local));
        assert_eq!(
            state("state: {kind: etcd, endpoints: [a, b]}\n"),
            Ok(StateConfig::Etcd {
                endpoints: vec!["a".into(), "b".into()],
                prefix: None
            })
        );
        assert_eq!(
            state("state: {endpoints: [a]}\n"),
            Err("ringmaster.yaml: `state:` cannot be read: missing field `kind`".into())
        );
    }
}
