//! `ringmaster import ansible`, compared key by key with the real
//! `ansible-inventory` (ansible-core 2.14 from Debian; the tests fail when it
//! is missing, they never skip): fixtures under tests/data/import/ansible/
//! and random inventories.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use proptest::prelude::*;
use serde_json::{Value, json};

use crate::support::{Rng, TestRepo, run_tool, temp_dir};

fn repo_from(name: &str) -> TestRepo {
    TestRepo::from_fixture(&format!("import/ansible/{name}"))
}

/// Runs `ansible-inventory -i INVENTORY ARGS…` from an empty directory
/// (no ansible.cfg, no playbook dir), its temp files and home in a temp dir
/// rather than $HOME, and parses its JSON.
fn ansible_inventory(inventory: &Path, args: &[&str]) -> Value {
    ansible_inventory_in(None, inventory, args)
}

/// [`ansible_inventory`] run in `cwd` (where it reads `ansible.cfg`).
fn ansible_inventory_in(cwd: Option<&Path>, inventory: &Path, args: &[&str]) -> Value {
    let home = temp_dir("ringmaster-ansible-home-");
    let mut cmd = Command::new("ansible-inventory");
    cmd.arg("-i")
        .arg(inventory)
        .args(args)
        .current_dir(cwd.unwrap_or(home.path()))
        .env("ANSIBLE_LOCAL_TEMP", home.path().join("tmp"))
        .env("ANSIBLE_HOME", home.path())
        .env("ANSIBLE_NOCOLOR", "1")
        .env_remove("ANSIBLE_CONFIG");
    let out = run_tool(&mut cmd, "ansible-inventory (Debian's ansible-core)");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "ansible-inventory printed no JSON ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Every host of the inventory, from `--list`.
fn ansible_hosts(list: &Value) -> BTreeSet<String> {
    let mut hosts = BTreeSet::new();
    if let Some(groups) = list.as_object() {
        for (name, group) in groups {
            if name == "_meta" {
                continue;
            }
            for h in group["hosts"].as_array().into_iter().flatten() {
                hosts.insert(h.as_str().unwrap_or_default().to_owned());
            }
        }
    }
    hosts
}

/// What `ringmaster render --all --format json` prints, per class.
fn rendered(repo: &TestRepo) -> BTreeMap<String, Value> {
    let out = repo.run(&["render", "--all", "--format", "json"]);
    out.assert_code(0);
    out.stdout
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).expect("a JSON line");
            (
                v["class"].as_str().unwrap_or_default().to_owned(),
                v["config"].clone(),
            )
        })
        .collect()
}

/// Compares per host and key; the message lists every difference.
fn differences(expected: &BTreeMap<String, Value>, got: &BTreeMap<String, Value>) -> String {
    let mut out = String::new();
    let hosts: BTreeSet<&String> = expected.keys().chain(got.keys()).collect();
    for host in hosts {
        let (Some(want), Some(have)) = (expected.get(host), got.get(host)) else {
            let _ = writeln!(
                out,
                "host {host}: {}",
                if expected.contains_key(host) {
                    "ringmaster has no such class"
                } else {
                    "not a host of the inventory"
                }
            );
            continue;
        };
        let empty = serde_json::Map::new();
        let want = want.as_object().unwrap_or(&empty);
        let have = have.as_object().unwrap_or(&empty);
        let keys: BTreeSet<&String> = want.keys().chain(have.keys()).collect();
        for key in keys {
            match (want.get(key), have.get(key)) {
                (Some(w), Some(h)) if w == h => {}
                (w, h) => {
                    let _ = writeln!(
                        out,
                        "host {host}, key `{key}`: ansible-inventory {} / ringmaster {}",
                        w.map_or("(absent)".into(), Value::to_string),
                        h.map_or("(absent)".into(), Value::to_string)
                    );
                }
            }
        }
    }
    out
}

/// Imports `inventory` (repo-relative) and checks every host's render
/// against `ansible-inventory --host` (`per_host`) or `--list`.
fn assert_renders_like_ansible(repo: &TestRepo, inventory: &str, per_host: bool) -> usize {
    repo.run(&["import", "ansible", "--inventory", inventory, "--force"])
        .assert_code(0);
    let full = repo.path().join(inventory);
    let list = ansible_inventory(&full, &["--list"]);
    let hosts = ansible_hosts(&list);
    let expected: BTreeMap<String, Value> = hosts
        .iter()
        .map(|h| {
            let vars = if per_host {
                ansible_inventory(&full, &["--host", h])
            } else {
                list["_meta"]["hostvars"]
                    .get(h)
                    .cloned()
                    .unwrap_or_else(|| json!({}))
            };
            (h.clone(), vars)
        })
        .collect();
    let got = rendered(repo);
    let diff = differences(&expected, &got);
    assert!(
        diff.is_empty(),
        "ringmaster's render differs from ansible-inventory:\n{diff}"
    );
    hosts.len()
}

#[test]
fn every_host_of_a_nested_ini_inventory_renders_as_ansible_inventory_host() {
    let repo = repo_from("nested");
    let hosts = assert_renders_like_ansible(&repo, "inventory/hosts.ini", true);
    assert_eq!(hosts, 9, "bastion, web01-04, db-a..c, dbx");
}

#[test]
fn every_host_of_an_inventory_directory_of_ini_and_yaml_files_renders_as_ansible() {
    let repo = repo_from("dir");
    let hosts = assert_renders_like_ansible(&repo, "inventory", true);
    assert_eq!(
        hosts, 5,
        "w1, w2, a1, a2, c1; hosts.ini in the directory is ignored"
    );
}

#[test]
fn every_host_of_a_yaml_inventory_at_the_repo_root_renders_as_ansible() {
    let repo = repo_from("yaml");
    let hosts = assert_renders_like_ansible(&repo, "hosts.yml", true);
    assert_eq!(hosts, 4);
}

#[test]
fn inventory_variables_name_their_inventory_line_in_provenance_and_explain() {
    let repo = repo_from("nested");
    repo.run(&["import", "ansible", "--inventory", "inventory/hosts.ini"])
        .assert_code(0);
    let out = repo.run(&["render", "--class", "web01", "--provenance"]);
    out.assert_code(0);
    // `http_port=80` in [web:vars], line 14; `role=web` on the host line, 6.
    let line = |key: &str| {
        out.stdout
            .lines()
            .find(|l| l.starts_with(&format!("{key}:")))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(
        line("http_port").contains("inventory/hosts.ini:14"),
        "{}",
        out.stdout
    );
    assert!(
        line("role").contains("inventory/hosts.ini:6"),
        "{}",
        out.stdout
    );
    assert!(
        line("mode").contains("inventory/group_vars/all.yml:2"),
        "{}",
        out.stdout
    );
    let explain = repo.run(&["explain", "--class", "web01", "owner"]);
    explain.assert_code(0);
    explain.assert_stdout_has("inventory/hosts.ini#vars/group/prod:44");
    explain.assert_stdout_has("inventory/group_vars/staging.yml");
}

#[test]
fn import_refuses_to_overwrite_a_manifest_without_force_and_leaves_it_unchanged() {
    let repo = repo_from("yaml");
    repo.file("ringmaster.yaml", "version: 1\n");
    let out = repo.run(&["import", "ansible", "--inventory", "hosts.yml"]);
    out.assert_code(2).assert_stderr_has("--force");
    assert_eq!(repo.read("ringmaster.yaml"), "version: 1\n");
    repo.run(&["import", "ansible", "--inventory", "hosts.yml", "--force"])
        .assert_code(0)
        .assert_stdout_has("replaced");
    assert!(
        repo.read("ringmaster.yaml")
            .contains("inventory: \"hosts.yml\"")
    );
}

#[test]
fn import_prints_what_it_wrote_and_a_second_import_writes_the_same_bytes() {
    let repo = repo_from("dir");
    let first = repo.run(&[
        "--format",
        "json",
        "import",
        "ansible",
        "--inventory",
        "inventory",
    ]);
    first.assert_code(0);
    let report = first.json();
    assert_eq!(report["tool"], "ansible");
    assert_eq!(report["classes"], json!(["a1", "a2", "c1", "w1", "w2"]));
    assert_eq!(
        report["reads"],
        json!([
            "inventory/01-base",
            "inventory/02-more",
            "inventory/03-hosts.yml",
            "inventory/group_vars/",
            "inventory/host_vars/"
        ])
    );
    let manifest = repo.read("ringmaster.yaml");
    // The inventory changes: the manifest, which only names it, does not.
    repo.file("inventory/04-late", "[late]\nl1\n");
    repo.run(&["import", "ansible", "--inventory", "inventory", "--force"])
        .assert_code(0)
        .assert_stdout_has("6 host classes");
    assert_eq!(repo.read("ringmaster.yaml"), manifest);
}

#[test]
fn check_passes_on_an_imported_repo() {
    let repo = repo_from("nested");
    repo.run(&["import", "ansible", "--inventory", "inventory/hosts.ini"])
        .assert_code(0);
    repo.run(&["check"]).assert_code(0);
}

#[test]
fn diff_shows_a_host_moved_between_groups_in_the_inventory() {
    let repo = repo_from("yaml");
    repo.run(&["import", "ansible", "--inventory", "hosts.yml"])
        .assert_code(0);
    repo.commit("adopt");
    let moved = repo
        .read("hosts.yml")
        .replace(
            "    db:\n      hosts:\n        db1:\n",
            "    db:\n      hosts:\n        db2:\n",
        )
        .replace("        web-[1:2]:\n", "        web-[1:2]:\n        db1:\n");
    repo.file("hosts.yml", &moved);
    let out = repo.run(&["diff", "--format", "json"]);
    assert!(
        out.stdout.contains("db1") && out.stdout.contains("db2"),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
}

#[test]
fn a_host_name_that_cannot_be_a_class_name_is_refused_with_its_name_and_line() {
    let repo = TestRepo::new();
    repo.file("hosts", "[web]\nok1\nbad@host x=1\n");
    let out = repo.run(&["import", "ansible", "--inventory", "hosts"]);
    out.assert_code(2).assert_stderr_has("`bad@host`");
    assert!(!repo.path().join("ringmaster.yaml").exists());
    // A hand-written manifest naming the inventory says where the host is.
    repo.file(
        "ringmaster.yaml",
        "version: 1\nansible:\n  inventory: hosts\n",
    );
    let out = repo.run(&["check"]);
    out.assert_code(2)
        .assert_stdout_has("`bad@host`")
        .assert_stdout_has("hosts:3");
}

#[test]
fn a_loop_in_children_and_a_broken_inventory_are_errors_at_their_line() {
    let repo = TestRepo::new();
    repo.file("hosts", "[a:children]\nb\n[b:children]\na\n[a]\nh1\n");
    repo.run(&["import", "ansible", "--inventory", "hosts"])
        .assert_code(2)
        .assert_stderr_has("recursive dependency loop");
    repo.file("hosts", "[web]\nh1\n[web:vars]\nno equals sign\n");
    repo.run(&["import", "ansible", "--inventory", "hosts"])
        .assert_code(2)
        .assert_stderr_has("hosts:4");
    repo.file("hosts", "[web]\nh[0:9999999]\n");
    repo.run(&["import", "ansible", "--inventory", "hosts"])
        .assert_code(2)
        .assert_stderr_has("more than");
}

// ------------------------------------------------------------ property ----

const KEYS: [&str; 5] = ["k0", "k1", "k2", "conf", "port"];

/// A value as an INI `key=value` right-hand side and as JSON for YAML files.
fn random_value(rng: &mut Rng) -> (String, Value) {
    match rng.below(6) {
        0 => {
            let n = rng.below(1000);
            (n.to_string(), json!(n))
        }
        1 => {
            let s = format!("s{}", rng.below(50));
            (s.clone(), json!(s))
        }
        2 => {
            let s = format!("q {}", rng.below(50));
            (format!("'{s}'"), json!(s))
        }
        3 => {
            let b = rng.chance(50);
            (if b { "True" } else { "False" }.into(), json!(b))
        }
        4 => {
            let (a, b) = (rng.below(9), rng.below(9));
            (format!("[{a}, {b}]"), json!([a, b]))
        }
        _ => {
            let inner = format!("x{}", rng.below(4));
            let v = rng.below(100);
            (format!("{{'{inner}': {v}}}"), json!({ inner: v }))
        }
    }
}

/// `merge`: under hash_behaviour=merge, `conf` is always a dict and the
/// other keys never are. Ansible combines each group's (or host's) var files
/// first and applies group_vars twice, which gives the same result as one
/// deep merge unless a variable changes between a dict and a non-dict.
fn random_vars(rng: &mut Rng, most: u64, merge: bool) -> Vec<(&'static str, String, Value)> {
    let n = rng.below(most + 1);
    (0..n)
        .map(|_| {
            let key = KEYS[usize::try_from(rng.below(KEYS.len() as u64)).unwrap_or(0)];
            let (mut ini, mut json) = random_value(rng);
            if merge && (key == "conf") != json.is_object() {
                let inner = format!("x{}", rng.below(4));
                let v = rng.below(100);
                (ini, json) = if key == "conf" {
                    (format!("{{'{inner}': {v}}}"), json!({ inner: v }))
                } else {
                    (v.to_string(), json!(v))
                };
            }
            (key, ini, json)
        })
        .collect()
}

/// A YAML var file: JSON, with now and then YAML 1.1's `yes` and octal.
fn var_file(rng: &mut Rng, vars: &[(&str, String, Value)]) -> String {
    let mut out = String::new();
    for (k, _, v) in vars {
        let _ = writeln!(out, "{k}: {v}");
    }
    if rng.chance(30) {
        out.push_str("flag: yes\nmode: 0644\n");
    }
    out
}

/// Writes a random inventory (INI or YAML) with group_vars and host_vars
/// into `repo`; returns the inventory's path.
fn random_inventory(seed: u64, repo: &TestRepo) -> String {
    let mut rng = Rng(seed | 1);
    // Now and then Ansible's other hash_behaviour, from the repo's ansible.cfg.
    let merge = rng.chance(25);
    if merge {
        repo.file("ansible.cfg", "[defaults]\nhash_behaviour = merge\n");
    }
    let groups = 2 + rng.below(5);
    let hosts = 1 + rng.below(6);
    let g = |i: u64| format!("g{i}");
    // children: only from a lower to a higher index, so no loops.
    let mut children: Vec<(u64, u64)> = Vec::new();
    for parent in 0..groups {
        for child in parent + 1..groups {
            if rng.chance(30) {
                children.push((parent, child));
            }
        }
    }
    let priorities: Vec<Option<u64>> = (0..groups)
        .map(|_| rng.chance(40).then(|| rng.below(4)))
        .collect();
    let members: Vec<Vec<u64>> = (0..hosts)
        .map(|_| (0..groups).filter(|_| rng.chance(35)).collect())
        .collect();
    let group_vars: Vec<_> = (0..groups)
        .map(|_| random_vars(&mut rng, 3, merge))
        .collect();
    let host_vars: Vec<_> = (0..hosts)
        .map(|_| random_vars(&mut rng, 2, merge))
        .collect();
    let all_vars = random_vars(&mut rng, 3, merge);
    let yaml = rng.chance(40);
    let path = if yaml {
        let mut out = String::from("all:\n  vars:\n");
        for (k, _, v) in &all_vars {
            let _ = writeln!(out, "    {k}: {v}");
        }
        out.push_str("  hosts:\n");
        for (h, groups_of) in members.iter().enumerate() {
            if groups_of.is_empty() {
                let _ = writeln!(out, "    h{h}:");
                for (k, _, v) in &host_vars[h] {
                    let _ = writeln!(out, "      {k}: {v}");
                }
            }
        }
        out.push_str("  children:\n");
        for i in 0..groups {
            let _ = writeln!(out, "    {}:\n      vars:", g(i));
            for (k, _, v) in &group_vars[usize::try_from(i).unwrap_or(0)] {
                let _ = writeln!(out, "        {k}: {v}");
            }
            if let Some(p) = priorities[usize::try_from(i).unwrap_or(0)] {
                let _ = writeln!(out, "        ansible_group_priority: {p}");
            }
            out.push_str("      hosts:\n");
            for (h, groups_of) in members.iter().enumerate() {
                if groups_of.contains(&i) {
                    let _ = writeln!(out, "        h{h}:");
                    for (k, _, v) in &host_vars[h] {
                        let _ = writeln!(out, "          {k}: {v}");
                    }
                }
            }
            out.push_str("      children:\n");
            for (_, c) in children.iter().filter(|(p, _)| *p == i) {
                let _ = writeln!(out, "        {}:", g(*c));
            }
        }
        repo.file("inv/hosts.yml", &out);
        "inv/hosts.yml"
    } else {
        // One INI file, or a directory of up to three (a group's sections
        // land in any of them: a `[g:children]` naming a group of a later
        // file makes Ansible skip the file, which the model must follow).
        let split = if rng.chance(40) { 1 + rng.below(3) } else { 1 };
        let mut outs: Vec<String> = vec![String::new(); usize::try_from(split).unwrap_or(1)];
        let host_line = |rng: &mut Rng, h: usize| {
            let vars: Vec<String> = host_vars[h]
                .iter()
                .map(|(k, i, _)| {
                    if rng.chance(50) && !i.contains([' ', '\'', '"']) {
                        format!("{k}={i}")
                    } else {
                        format!("{k}=\"{i}\"")
                    }
                })
                .collect();
            let port = if rng.chance(15) {
                format!(":22{}", rng.below(10))
            } else {
                String::new()
            };
            format!("h{h}{port} {}\n", vars.join(" "))
        };
        for (h, groups_of) in members.iter().enumerate() {
            if groups_of.is_empty() {
                let line = host_line(&mut rng, h);
                outs[0].push_str(&line);
            }
        }
        for i in 0..groups {
            let pick = |rng: &mut Rng| usize::try_from(rng.below(split)).unwrap_or(0);
            let f = pick(&mut rng);
            let _ = writeln!(outs[f], "[{}]", g(i));
            if rng.chance(15) {
                let _ = writeln!(outs[f], "r[1:2]  # a range");
            }
            for (h, groups_of) in members.iter().enumerate() {
                if groups_of.contains(&i) {
                    let line = host_line(&mut rng, h);
                    outs[f].push_str(&line);
                }
            }
            let f = pick(&mut rng);
            let _ = writeln!(outs[f], "[{}:vars]", g(i));
            for (k, ini, _) in &group_vars[usize::try_from(i).unwrap_or(0)] {
                if rng.chance(30) {
                    let _ = writeln!(outs[f], "{k} = {ini}");
                } else {
                    let _ = writeln!(outs[f], "{k}={ini}");
                }
            }
            if let Some(p) = priorities[usize::try_from(i).unwrap_or(0)] {
                let _ = writeln!(outs[f], "ansible_group_priority={p}");
            }
            let f = pick(&mut rng);
            let _ = writeln!(outs[f], "; children\n[{}:children]", g(i));
            for (_, c) in children.iter().filter(|(p, _)| *p == i) {
                let _ = writeln!(outs[f], "{}", g(*c));
            }
        }
        let last = outs.len() - 1;
        outs[last].push_str("[all:vars]\n");
        for (k, ini, _) in &all_vars {
            let _ = writeln!(outs[last], "{k}={ini}");
        }
        if outs.len() == 1 {
            repo.file("inv/hosts", &outs[0]);
            "inv/hosts"
        } else {
            for (n, text) in outs.iter().enumerate() {
                repo.file(&format!("inv/{n}0-part"), text);
            }
            "inv"
        }
    };
    // group_vars and host_vars in every shape Ansible reads.
    let names: Vec<String> = (0..groups)
        .map(g)
        .chain(["all".to_owned()])
        .chain((0..hosts + 1).map(|h| format!("h{h}")))
        .collect();
    for name in names {
        if !rng.chance(60) {
            continue;
        }
        let dir = if name.starts_with('h') {
            "host_vars"
        } else {
            "group_vars"
        };
        let vars = random_vars(&mut rng, 3, merge);
        let text = var_file(&mut rng, &vars);
        match rng.below(4) {
            0 => repo.file(&format!("inv/{dir}/{name}.yml"), &text),
            1 => repo.file(&format!("inv/{dir}/{name}"), &text),
            2 => repo.file(
                &format!("inv/{dir}/{name}.json"),
                &Value::Object(
                    vars.iter()
                        .map(|(k, _, v)| ((*k).to_owned(), v.clone()))
                        .collect(),
                )
                .to_string(),
            ),
            _ => {
                let more = random_vars(&mut rng, 2, merge);
                let second = var_file(&mut rng, &more);
                repo.file(&format!("inv/{dir}/{name}/a.yml"), &text)
                    .file(&format!("inv/{dir}/{name}/b"), &second)
            }
        };
    }
    path.to_owned()
}

proptest! {
    // ansible-inventory takes about a second a run: a modest number of cases.
    #![proptest_config(ProptestConfig { cases: 20, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_inventories_render_as_ansible_inventory_computes_them(seed in any::<u64>()) {
        let repo = TestRepo::new();
        let inventory = random_inventory(seed, &repo);
        let import = repo.run(&["import", "ansible", "--inventory", &inventory]);
        prop_assert_eq!(import.code, Some(0), "{}\n{}", import.stdout, import.stderr);
        let full = repo.path().join(&inventory);
        // From the repo root, as a user runs it: ansible.cfg applies.
        let list = ansible_inventory_in(Some(repo.path()), &full, &["--list"]);
        let expected: BTreeMap<String, Value> = ansible_hosts(&list)
            .into_iter()
            .map(|h| {
                let vars = list["_meta"]["hostvars"].get(&h).cloned().unwrap_or_else(|| json!({}));
                (h, vars)
            })
            .collect();
        let got = rendered(&repo);
        let diff = differences(&expected, &got);
        prop_assert!(
            diff.is_empty(),
            "seed {seed}: ringmaster differs from ansible-inventory:\n{diff}\ninventory {inventory}:\n{}",
            std::fs::read_to_string(&full).unwrap_or_else(|_| "(a directory)".into())
        );
    }
}

#[test]
fn a_file_of_an_inventory_directory_that_ansible_cannot_parse_is_skipped_as_ansible_does() {
    let repo = TestRepo::new();
    repo.file("inv/a", "[web]\nh1\nh2 x=1\n[web:vars]\ngv=a\n")
        .file("inv/b", "h1:2200 x=2\n[web:vars]\ngv=b\n[lb:children]\nweb\n[web]\nh3:2201\nh3:2202\n")
        // Fails at `other` (no group definition, not a known group): the
        // groups, hosts and vars declared before it stay, as in Ansible.
        .file(
            "inv/c.yaml",
            "all:\n  hosts: h4\n  children:\n    web:\n      hosts:\n        h5:\n      vars:\n        gv: c\n    other: [1]\n    late:\n      hosts:\n        h6: {u: 1}\n",
        )
        .file("inv/README", "Hosts of the web tier.\n")
        .file("inv/group_vars/lb.yml", "ansible_group_priority: 0\nin_gv: 1\n");
    let out = repo.run(&["import", "ansible", "--inventory", "inv"]);
    out.assert_code(0)
        .assert_stderr_has("inv/c.yaml:9:5: other is not a known host nor group")
        .assert_stderr_has("inv/README:1");
    assert_renders_like_ansible(&repo, "inv", false);
}

#[test]
fn a_manifest_setting_hierarchy_beside_ansible_is_refused() {
    let repo = TestRepo::new();
    repo.file("hosts", "[web]\nh1\n").file(
        "ringmaster.yaml",
        "version: 1\nansible:\n  inventory: hosts\nhierarchy: [a.yaml]\n",
    );
    repo.run(&["check"])
        .assert_code(2)
        .assert_stdout_has("`hierarchy:` is set beside `ansible:`");
    repo.file(
        "ringmaster.yaml",
        "version: 1\nansible:\n  inventory: nowhere\n",
    );
    repo.run(&["check"])
        .assert_code(2)
        .assert_stdout_has("the inventory `nowhere`");
}

#[test]
fn hash_behaviour_merge_in_ansible_cfg_merges_dicts_as_ansible_does() {
    let repo = TestRepo::new();
    repo.file("ansible.cfg", "[defaults]\nhash_behaviour = merge\n")
        .file(
            "inventory/hosts",
            "[web]\nw1 app=\"{'tls': {'port': 443}}\"\nw2\n[web:vars]\napp={'name': 'web'}\napp={'workers': 4}\n",
        )
        .file("inventory/group_vars/all.yml", "app: {name: base, tls: {port: 80, cert: x}}\nlist: [1, 2]\n")
        .file("inventory/group_vars/web/a.yml", "app: {tls: {cert: web}}\nlist: [3]\n")
        .file("inventory/host_vars/w2.yml", "app: {workers: 8}\n");
    repo.run(&["import", "ansible", "--inventory", "inventory/hosts"])
        .assert_code(0)
        .assert_stdout_has("ansible.cfg");
    let full = repo.path().join("inventory/hosts");
    let list = ansible_inventory_in(Some(repo.path()), &full, &["--list"]);
    let expected: BTreeMap<String, Value> = ansible_hosts(&list)
        .into_iter()
        .map(|h| (h.clone(), list["_meta"]["hostvars"][&h].clone()))
        .collect();
    // Not the replace result: the dicts of all levels are merged (and
    // group_vars/all comes after the inventory's own [web:vars]).
    assert_eq!(
        expected["w1"]["app"],
        json!({"name": "base", "workers": 4, "tls": {"port": 443, "cert": "web"}})
    );
    let diff = differences(&expected, &rendered(&repo));
    assert!(diff.is_empty(), "{diff}");
}

#[test]
fn a_symlinked_inventory_file_finds_group_vars_beside_the_link_as_ansible_does() {
    let repo = TestRepo::new();
    repo.file("real/hosts", "[web]\nh1\n")
        .file("inv/group_vars/web.yml", "beside_link: true\n")
        .file("real/group_vars/web.yml", "beside_target: true\n");
    std::os::unix::fs::symlink("../real/hosts", repo.path().join("inv/hosts")).expect("symlink");
    assert_renders_like_ansible(&repo, "inv/hosts", true);
    assert!(
        repo.read("ringmaster.yaml")
            .contains("inventory: \"inv/hosts\"")
    );
}

#[test]
fn import_writes_a_manifest_that_only_names_the_inventory_and_reports_what_it_read() {
    let repo = repo_from("nested");
    let out = repo.run(&["import", "ansible", "--inventory", "inventory/hosts.ini"]);
    out.assert_code(0);
    let root = repo.path().canonicalize().expect("canonical repo path");
    let escaped = regex::escape(&root.display().to_string());
    insta::with_settings!({filters => vec![(escaped.as_str(), "[repo]")]}, {
        insta::assert_snapshot!(
            "import_ansible_report_and_manifest",
            format!("{}---\n{}", out.stdout, repo.read("ringmaster.yaml"))
        );
    });
}

/// Run at the repo root, `ansible-inventory` also reads the group_vars/ and
/// host_vars/ beside the playbooks (its current directory), after the
/// inventory's own, stage by stage: `all` from both places before any other
/// group from either, host_vars beside the inventory before the root's.
#[test]
fn group_vars_and_host_vars_at_the_repo_root_count_after_the_inventorys_own() {
    let repo = TestRepo::new();
    repo.file(
        "inventories/prod/hosts.ini",
        "[web]\nweb1 a=inv_host\nweb2\n[db]\ndb1\n[prod:children]\nweb\ndb\n[web:vars]\nb=inv_group\n",
    )
    .file("inventories/prod/group_vars/all.yml", "x: inv_all\ny: inv_all\nz: inv_all\n")
    .file("group_vars/all.yml", "x: root_all\nw: root_all\nv: root_all\n")
    .file("inventories/prod/group_vars/web.yml", "y: inv_web\nw: inv_web\n")
    .file("group_vars/web.yml", "z: root_web\nv: root_web\nb: root_web\n")
    .file("group_vars/prod", "p: root_prod\ny: root_prod\n")
    .file("inventories/prod/host_vars/web1.yml", "a: inv_hv\nq: inv_hv\n")
    .file("host_vars/web1.yml", "q: root_hv\nr: root_hv\n");
    repo.run(&[
        "import",
        "ansible",
        "--inventory",
        "inventories/prod/hosts.ini",
    ])
    .assert_code(0);
    let inventory = repo.path().join("inventories/prod/hosts.ini");
    let got = rendered(&repo);
    for host in ["web1", "web2", "db1"] {
        let expected = ansible_inventory_in(Some(repo.path()), &inventory, &["--host", host]);
        assert_eq!(got.get(host), Some(&expected), "{host}");
    }
    // What ansible-inventory 2.14 prints for web1, written out.
    assert_eq!(
        got["web1"],
        json!({"a": "inv_hv", "b": "root_web", "p": "root_prod", "q": "root_hv", "r": "root_hv",
               "v": "root_web", "w": "inv_web", "x": "root_all", "y": "root_prod", "z": "root_web"})
    );
}
