//! The `ansible:` section of the manifest (see `config::adopt`).
//!
//! ```yaml
//! ansible:
//!   inventory: inventory/hosts     # an INI or YAML file, or a directory of them
//! ```
//!
//! expands, at every revision, to what `ansible-inventory --host` computes
//! (ansible-core 2.14, hash_behaviour=replace, the default
//! VARIABLE_PRECEDENCE):
//!
//! ```yaml
//! host_classes: {web01: {groups: [all, web, prod]}}   # one per host, groups in Ansible's order
//! hierarchy:
//!   - "inventory/hosts#vars/group/{groups}"   # the inventory's own vars of all, then each group
//!   - "inventory/group_vars/{groups}"         # group_vars/all, then each group's
//!   - "inventory/hosts#vars/host/{class}"     # the host's inventory vars (one such
//!                                             # template per file of an inventory directory)
//!   - "inventory/host_vars/{class}"
//!   # with the inventory below the repo root, group_vars/all, group_vars/{groups_below_all}
//!   # and host_vars/{class} at the root too, each after the inventory's own (the
//!   # playbook-adjacent vars `ansible-inventory` reads in its current directory)
//!   - "inventory/hosts#vars/internal/ansible-inventory"   # knocks out what ansible-inventory
//!                                                       # leaves out (inventory_hostname, groups, …)
//! merge: {default: first}                     # top-level variables replaced whole
//!                                             # (deep with hash_behaviour=merge in ansible.cfg)
//! yaml: {version: "1.1", duplicate_keys: last-wins, reader: pyyaml}
//! ```
//!
//! Ansible merges group_vars into each group's vars at inventory time and
//! again when it computes a host's vars; the last layer defining a key (or,
//! under hash_behaviour=merge, a nested key) wins either way, which is this
//! order. Under merge, Ansible also combines one group's var files before
//! merging them in, which differs from one deep merge only where a variable
//! changes between a dict and a non-dict. A
//! `#vars/` layer is synthesized from the inventory file by the layer
//! loader (`inventory::file_vars`), each key at its line.

use super::inventory::{self, INTERNAL_LAYER, VARS_MARK};
use crate::config::document::{Entry, Node, Value};
use crate::diag::{Diagnostic, Pos, Rule};
use crate::source::Source;

/// The list fact holding a host's groups in Ansible's variable order.
pub(crate) const GROUPS_FACT: &str = "groups";
/// The same groups without `all`, for the group_vars read from two places.
pub(crate) const BELOW_ALL_FACT: &str = "groups_below_all";

/// The sections an `ansible:` section writes, which the manifest must not
/// also set by hand.
const EXPANDS_TO: [&str; 3] = ["hierarchy", "host_classes", "merge"];

pub fn expand(root: &mut Node, source: &dyn Source, errors: &mut Vec<Diagnostic>) {
    use crate::config::manifest::MANIFEST_FILE;
    let Some(section) = root.get("ansible").cloned() else {
        return;
    };
    let at = section.key_pos;
    let manifest_error = |pos: Pos, message: String, help: &str| {
        Diagnostic::new(Rule::Manifest, MANIFEST_FILE, pos, message)
            .with_path("/ansible")
            .with_help(help)
    };
    let Some(path) = section
        .value
        .get("inventory")
        .and_then(|e| e.value.value.as_str())
        .map(crate::source::normalize)
    else {
        errors.push(manifest_error(
            section.value.pos,
            "`ansible:` needs `inventory:`, the repo-relative path of the inventory file or directory".into(),
            "write `ansible: {inventory: inventory/hosts}`, or run `ringmaster import ansible --inventory PATH --force`",
        ));
        return;
    };
    for key in EXPANDS_TO {
        if let Some(e) = root.get(key) {
            errors.push(manifest_error(
                e.key_pos,
                format!(
                    "`{key}:` is set beside `ansible:`, which already defines it from the inventory"
                ),
                "remove it: the inventory, group_vars/ and host_vars/ are the hierarchy",
            ));
        }
    }
    if !errors.is_empty() {
        return;
    }
    let inv = match inventory::load(source, &path) {
        Ok(inv) => inv,
        Err(found) => {
            errors.extend(found);
            return;
        }
    };
    let found = problems(&inv);
    if !found.is_empty() {
        errors.extend(found);
        return;
    }
    let is_file = matches!(source.size(&path), Ok(Some(_)));
    let base = inventory::vars_base(&path, is_file);
    let under = |dir: &str| {
        if base.is_empty() {
            dir.to_owned()
        } else {
            format!("{base}/{dir}")
        }
    };
    let text = |s: String| Node {
        value: Value::Str(s),
        pos: at,
    };
    let entry = |key: &str, value: Node| Entry {
        key: key.to_owned(),
        key_pos: at,
        value,
    };
    let map = |entries| Node {
        value: Value::Map(entries),
        pos: at,
    };
    // A host's inventory vars come file by file, so one template per file
    // (listing a directory inventory once per host would cost a listing per
    // class); a group's vars sit at the group's place, file by file inside
    // it, so that template names the inventory and is listed per group.
    //
    // `ansible-inventory` run at the repo root also reads the group_vars/
    // and host_vars/ beside the playbooks (its current directory), after
    // the inventory's own, stage by stage (VARIABLE_PRECEDENCE:
    // all_plugins_inventory, all_plugins_play, groups_plugins_inventory,
    // groups_plugins_play; then host_vars beside the inventory, beside the
    // playbook): with an inventory below the root, `all` and the other
    // groups each come from both places, in that order.
    let beside_playbook = !base.is_empty();
    let mut hierarchy = vec![text(format!("{path}{VARS_MARK}group/{{{GROUPS_FACT}}}"))];
    if beside_playbook {
        hierarchy.push(text(under("group_vars/all")));
        hierarchy.push(text("group_vars/all".to_owned()));
        hierarchy.push(text(under(&format!("group_vars/{{{BELOW_ALL_FACT}}}"))));
        hierarchy.push(text(format!("group_vars/{{{BELOW_ALL_FACT}}}")));
    } else {
        hierarchy.push(text(under(&format!("group_vars/{{{GROUPS_FACT}}}"))));
    }
    hierarchy.extend(
        inv.files
            .iter()
            .map(|file| text(format!("{file}{VARS_MARK}host/{{class}}"))),
    );
    hierarchy.push(text(under("host_vars/{class}")));
    if beside_playbook {
        hierarchy.push(text("host_vars/{class}".to_owned()));
    }
    hierarchy.push(text(format!("{path}{VARS_MARK}{INTERNAL_LAYER}")));
    let classes = inv
        .hosts
        .iter()
        .map(|(name, host)| {
            let list = |groups: Vec<String>| Node {
                value: Value::Seq(groups.into_iter().map(text).collect()),
                pos: at,
            };
            let mut facts = vec![entry(GROUPS_FACT, list(host.groups.clone()))];
            if beside_playbook {
                let below: Vec<String> = host
                    .groups
                    .iter()
                    .filter(|g| *g != "all")
                    .cloned()
                    .collect();
                facts.push(entry(BELOW_ALL_FACT, list(below)));
            }
            entry(name, map(facts))
        })
        .collect();
    let mut added = vec![
        entry(
            "hierarchy",
            Node {
                value: Value::Seq(hierarchy),
                pos: at,
            },
        ),
        entry("host_classes", map(classes)),
        entry(
            "merge",
            map(vec![entry(
                "default",
                text(
                    if inventory::hash_merge(source) {
                        "deep"
                    } else {
                        "first"
                    }
                    .into(),
                ),
            )]),
        ),
    ];
    if root.get("yaml").is_none() {
        added.push(entry(
            "yaml",
            map(vec![
                entry("version", text("1.1".into())),
                entry("duplicate_keys", text("last-wins".into())),
                entry("reader", text("pyyaml".into())),
            ]),
        ));
    }
    if let Value::Map(entries) = &mut root.value {
        entries.extend(added);
    }
}

/// What keeps an inventory from becoming host classes: host names that
/// are not class names, group names that cannot name a group_vars entry.
pub(crate) fn problems(inv: &inventory::Inventory) -> Vec<Diagnostic> {
    let mut errors = Vec::new();
    let bad: Vec<&String> = inv.hosts.keys().filter(|h| !valid_class_name(h)).collect();
    if let Some(first) = bad.first() {
        let host = &inv.hosts[*first];
        errors.push(
            Diagnostic::new(
                Rule::Manifest,
                host.file.as_str(),
                host.pos,
                format!(
                    "{} host name{} cannot be a host class name: {}",
                    bad.len(),
                    if bad.len() == 1 { "" } else { "s" },
                    bad.iter()
                        .take(5)
                        .map(|h| format!("`{}`", crate::config::boundary::shown(h)))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
            .with_help("host class names are letters, digits, `.`, `_` and `-`, starting with a letter or digit; rename the host (set ansible_host to keep its address)"),
        );
        return errors;
    }
    // A group name is a path segment of group_vars/: one holding `/` would
    // leave its host without any layer naming its groups.
    let unsafe_group = inv.hosts.values().find_map(|h| {
        h.groups
            .iter()
            .find_map(|g| crate::config::boundary::fact_value_problem(g).map(|why| (h, g, why)))
    });
    if let Some((host, group, why)) = unsafe_group {
        errors.push(
            Diagnostic::new(
                Rule::Manifest,
                host.file.as_str(),
                Pos::START,
                format!(
                    "the group name `{}` {why}; ringmaster cannot look up its group_vars",
                    crate::config::boundary::shown(group)
                ),
            )
            .with_help("rename the group"),
        );
        return errors;
    }
    errors
}

/// The manifest's host class names: `^[A-Za-z0-9][A-Za-z0-9._-]*$`.
pub(crate) fn valid_class_name(name: &str) -> bool {
    name.bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}
