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
