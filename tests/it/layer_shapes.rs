//! Layer shapes real repos use: multi-valued and nested facts, templates
//! naming a directory or a glob, files without an extension, and Hiera's
//! `%{...}` interpolation (`interpolation: hiera`). Each expected value is
//! what the modelled tool computes, with the documentation it follows.

use std::os::unix::fs::symlink;

use serde_json::{Value, json};

use crate::support::{Output, TestRepo, places};

fn render_json(repo: &TestRepo, class: &str, extra: &[&str]) -> Value {
    let mut args = vec!["render", "--class", class, "--format", "json"];
    args.extend_from_slice(extra);
    repo.run(&args).expect_code(0).json()
}

/// An Ansible inventory's variables as ringmaster layers. Host `web1` is in
/// the groups `all`, `eu-west` and `web` (`eu-west` and `web` are siblings
/// under `all`). Ansible's documented precedence ("How variables are
/// merged", docs.ansible.com, inventory guide): `all` first, then parent
/// groups before child groups, then `ansible_group_priority`, then the
/// group name; host vars last. So the fact lists the groups in that order:
/// `[all, eu-west, web]`. Per the `host_group_vars` plugin docs, a
/// `group_vars/<group>` may be a file with no extension or a directory whose
/// `.yml`/`.yaml`/`.json`/extensionless files are loaded in lexicographical
/// order; hidden (`.x`) and backup (`x~`) files are ignored.
fn ansible_repo() -> TestRepo {
    let repo = TestRepo::new();
    repo.file(
        "ringmaster.yaml",
        "version: 1
hierarchy:
  - group_vars/{groups}
  - host_vars/{class}.yml
host_classes:
  web1: { groups: [all, eu-west, web] }
  db1: { groups: [all] }
",
    )
    .file(
        "group_vars/all",
        "http_port: 80\nntp_server: pool.ntp.org\nlog_level: info\nregion: none\npackages: [curl]\n",
    )
    .file(
        "group_vars/eu-west",
        "region: eu-west-1\nntp_server: ntp.eu.example\n",
    )
    .file(
        "group_vars/web/10-base.yml",
        "http_port: 8080\nlog_level: warn\npackages: [curl, nginx]\n",
    )
    .file("group_vars/web/20-tuning.yaml", "log_level: debug\n")
    // Not vars files: a README, a hidden file and an editor backup.
    .file("group_vars/web/README.md", "this: [is not: yaml\n")
    .file("group_vars/web/.hidden.yml", "http_port: 1\n")
    .file("group_vars/web/30-old.yml~", "http_port: 2\n")
    .file("host_vars/web1.yml", "ntp_server: ntp.web1.example\n");
    repo.commit("inventory");
    repo
}

#[test]
fn an_ansible_inventory_renders_what_ansible_precedence_gives() {
    let repo = ansible_repo();
    // Ansible (hash_behaviour=replace; every variable here is a scalar or a
    // list, so replacing and merging agree): http_port from group web,
    // ntp_server from the host, log_level from web's later file, region
    // from eu-west, packages from web.
    let web1 = json!({
        "http_port": 8080,
        "ntp_server": "ntp.web1.example",
        "log_level": "debug",
        "region": "eu-west-1",
        "packages": ["curl", "nginx"],
    });
    assert_eq!(render_json(&repo, "web1", &[]), web1);
    // Only `all` for db1: the extensionless file alone.
    assert_eq!(
        render_json(&repo, "db1", &[])["http_port"],
        json!(80),
        "db1 is only in `all`"
    );
    // The same from the commit, read through git objects.
    assert_eq!(render_json(&repo, "web1", &["--rev", "HEAD"]), web1);

    // Every file is its own layer, named with its template.
    let explained = repo
        .run(&[
            "explain",
            "--class",
            "web1",
            "log_level",
            "--format",
            "json",
        ])
        .expect_code(0)
        .json();
    let layers: Vec<(u64, &str, &str, &str)> = explained["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .map(|s| {
            (
                s["layer"].as_u64().unwrap_or_default(),
                s["template"].as_str().unwrap_or_default(),
                s["file"].as_str().unwrap_or_default(),
                s["action"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        layers,
        [
            (1, "group_vars/{groups}", "group_vars/all", "set"),
            (2, "group_vars/{groups}", "group_vars/eu-west", "absent"),
            (
                3,
                "group_vars/{groups}",
                "group_vars/web/10-base.yml",
                "overrode"
            ),
            (
                4,
                "group_vars/{groups}",
                "group_vars/web/20-tuning.yaml",
                "overrode"
            ),
            (5, "host_vars/{class}.yml", "host_vars/web1.yml", "absent"),
        ]
    );
    assert_eq!(explained["source"], "group_vars/web/20-tuning.yaml:1");
    let provenance = render_json(&repo, "web1", &["--provenance"]);
    assert_eq!(
        provenance["leaves"]["log_level"],
        json!({"pointer": "/log_level", "value": "debug", "file": "group_vars/web/20-tuning.yaml", "line": 1, "column": 1, "layer": 4})
    );
    assert_eq!(
        provenance["leaves"]["region"]["file"], "group_vars/eu-west",
        "an extensionless file is named as it is"
    );
}

#[test]
fn a_file_added_to_a_group_directory_shows_in_diff_and_its_errors_in_check() {
    let repo = ansible_repo();
    repo.file("group_vars/web/15-port.yml", "http_port: 9090\n");
    let diff = repo
        .run(&["diff", "--base", "HEAD", "--format", "json"])
        .expect_code(0)
        .json();
    let classes = diff["classes"].as_array().expect("classes");
    assert_eq!(classes.len(), 1, "only web1 is in group web: {diff:#}");
    assert_eq!(classes[0]["class"], "web1");
    let change = &classes[0]["changes"][0];
    assert_eq!(
        (&change["path"], &change["old"], &change["new"]),
        (&json!("http_port"), &json!(8080), &json!(9090)),
        "{diff:#}"
    );
    // An extensionless layer file and a file in a group directory are
    // checked like any layer (the README beside them is not).
    repo.file("group_vars/all", "http_port: 80\nhttp_port: 81\n");
    repo.file("group_vars/web/15-port.yml", "http_port: [9090\n");
    let out = repo.run(&["check", "--format", "json"]);
    out.assert_code(1);
    let findings = out.findings();
    assert!(
        findings
            .iter()
            .any(|f| f["file"] == "group_vars/all" && f["rule"] == "duplicate-key"),
        "{findings:#?}"
    );
    assert!(
        findings
            .iter()
            .any(|f| f["file"] == "group_vars/web/15-port.yml" && f["rule"] == "yaml-syntax"),
        "{findings:#?}"
    );
    assert!(
        !findings
            .iter()
            .any(|f| f["file"] == "group_vars/web/README.md"),
        "{findings:#?}"
    );
}

#[test]
fn nested_facts_and_a_glob_of_a_multi_valued_fact_expand_in_order() {
    let repo = TestRepo::new();
    repo.file(
        "ringmaster.yaml",
        "version: 1
hierarchy:
  - common.yaml
  - os/{os.family}.yaml
  - roles/{roles}/*.yaml
  - nodes/{trusted.certname}.yaml
host_classes:
  web1:
    os: { family: RedHat }
    roles: [base, web]
    trusted: { certname: web1.example.com }
",
    )
    .file(
        "common.yaml",
        "pkg: none\nport: 0\nowner: nobody\nname: none\n",
    )
    .file("os/RedHat.yaml", "pkg: yum\n")
    .file("roles/base/b.yaml", "port: 22\nowner: base-b\n")
    .file("roles/base/a.yaml", "port: 21\nowner: base-a\n")
    .file("roles/base/notes.txt", "port: 1\n")
    .file("roles/web/a.yaml", "port: 80\n")
    .file("nodes/web1.example.com.yaml", "name: web1\n");
    repo.commit("nested facts");
    // Layers: common, os/RedHat, roles/base/a, roles/base/b, roles/web/a,
    // nodes/web1.example.com: later wins.
    let expected = json!({"pkg": "yum", "port": 80, "owner": "base-b", "name": "web1"});
    assert_eq!(render_json(&repo, "web1", &[]), expected);
    assert_eq!(render_json(&repo, "web1", &["--rev", "HEAD"]), expected);
    let provenance = render_json(&repo, "web1", &["--provenance"]);
    let place = |key: &str| {
        let leaf = &provenance["leaves"][key];
        (leaf["file"].clone(), leaf["layer"].clone())
    };
    assert_eq!(place("owner"), (json!("roles/base/b.yaml"), json!(4)));
    assert_eq!(place("port"), (json!("roles/web/a.yaml"), json!(5)));
    assert_eq!(
        place("name"),
        (json!("nodes/web1.example.com.yaml"), json!(6))
    );
}

/// A Hiera 5 repo: `common.yaml` below a per-node file. Puppet's
/// "Interpolation" and "Interpolation functions" pages (help.puppet.com):
/// `%{facts.x}` and `%{x.y}` dig into hashes, `%{::x}` is a top-scope
/// variable, `%{trusted.certname}` the node's certname, `lookup`/`hiera`
/// interpolate another key's (string) value, `alias` keeps the value's type
/// when it is the whole string, `literal('%')` is a percent sign, and a
/// variable that is not set interpolates as an empty string. Where the
/// pages are silent, Puppet's own `Puppet::Pops::Lookup::Interpolation`
/// (puppetlabs/puppet) decides: a key not set gives '' (the lookup's
/// default), the token pattern is `%\{([^\}]*)\}`, hash keys are not
/// interpolated.
fn hiera_repo(interpolation: &str) -> TestRepo {
    let repo = TestRepo::new();
    repo.file(
        "ringmaster.yaml",
        &format!(
            "version: 1
hierarchy:
  - common.yaml
  - nodes/{{trusted.certname}}.yaml
host_classes:
  web1:
    role: web
    os: {{ family: RedHat }}
    trusted: {{ certname: web1.example.com }}
{interpolation}"
        ),
    )
    .file(
        "common.yaml",
        "domain: example.com
mail_server: \"mail.%{facts.os.family}.%{lookup('domain')}\"
role_name: \"%{::role}\"
greeting: \"node %{trusted.certname} is a %{role} (%{scope('role')})\"
users: [alice, bob]
admins: \"%{alias('users')}\"
percent: \"100%{literal('%')}\"
missing: \"x%{facts.nope}y\"
via_hiera: \"%{hiera('domain')}\"
port: 8080
url: \"https://%{lookup('domain')}:%{lookup('port')}/\"
unclosed: \"100%{ of it\"
",
    )
    .file("nodes/web1.example.com.yaml", "domain: corp.example\n");
    repo.commit("hiera data");
    repo
}

#[test]
fn hiera_interpolation_resolves_facts_lookups_and_aliases_as_puppet_does() {
    let repo = hiera_repo("interpolation: hiera\n");
    // A lookup sees the key's effective value: the node file's domain.
    assert_eq!(
        render_json(&repo, "web1", &[]),
        json!({
            "domain": "corp.example",
            "mail_server": "mail.RedHat.corp.example",
            "role_name": "web",
            "greeting": "node web1.example.com is a web (web)",
            "users": ["alice", "bob"],
            "admins": ["alice", "bob"],
            "percent": "100%",
            "missing": "xy",
            "via_hiera": "corp.example",
            // Puppet interpolates with Ruby's gsub: a number becomes its
            // text, and an unclosed `%{` matches no token.
            "port": 8080,
            "url": "https://corp.example:8080/",
            "unclosed": "100%{ of it",
        })
    );
    repo.run(&["check"]).assert_code(0);
    // Without `interpolation: hiera` values are taken as written, as before.
    let plain = hiera_repo("");
    assert_eq!(
        render_json(&plain, "web1", &[])["mail_server"],
        "mail.%{facts.os.family}.%{lookup('domain')}"
    );
}

/// `check --format json` on a repo whose hierarchy refuses to be read:
/// exit 2, the finding at the manifest's line, nothing of `secret` anywhere.
#[track_caller]
fn refused(repo: &TestRepo, secret: &str) -> Vec<Value> {
    for args in [
        &["check", "--format", "json"][..],
        &["render", "--class", "web1"][..],
    ] {
        let out = repo.run(args);
        out.assert_code(2);
        assert!(
            !out.all_output().contains(secret),
            "{args:?} printed what lies outside the repo:\n{}",
            out.all_output()
        );
    }
    repo.run(&["check", "--format", "json"]).findings()
}

const SECRET: &str = "OUTSIDE-layer-shapes-5ec7e7";

#[test]
fn fact_values_and_globs_that_leave_the_repo_are_refused_unread() {
    let outside = tempfile::tempdir().expect("temp dir");
    std::fs::write(outside.path().join("x.yml"), format!("token: {SECRET}\n")).expect("write");
    let repo = TestRepo::new();
    repo.file("group_vars/all", "port: 1\n");
    // A `..` among a multi-valued fact's values; `/` in a nested one.
    repo.file(
        "ringmaster.yaml",
        "version: 1
hierarchy:
  - group_vars/{groups}
  - nodes/{trusted.certname}.yml
host_classes:
  web1:
    groups: [all, '..']
    trusted: { certname: ../../etc }
",
    );
    let findings = refused(&repo, SECRET);
    let pointers: Vec<(&str, u64)> = findings
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap_or_default(),
                f["line"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        pointers,
        [
            ("/host_classes/web1/groups/1", 7),
            ("/host_classes/web1/trusted/certname", 8)
        ],
        "{findings:#?}"
    );
    // A glob whose literal part climbs out.
    repo.file(
        "ringmaster.yaml",
        "version: 1
hierarchy:
  - group_vars/{groups}/../../../*.yml
host_classes:
  web1: { groups: [all] }
",
    );
    let findings = refused(&repo, SECRET);
    assert_eq!(
        (&findings[0]["rule"], &findings[0]["line"]),
        (&json!("manifest"), &json!(3)),
        "{findings:#?}"
    );
}

#[test]
fn a_group_directory_that_links_out_of_the_repo_is_refused_unread() {
    let outside = tempfile::tempdir().expect("temp dir");
    std::fs::write(outside.path().join("x.yml"), format!("token: {SECRET}\n")).expect("write");
    let repo = TestRepo::new();
    repo.file(
        "ringmaster.yaml",
        "version: 1
hierarchy:
  - group_vars/{groups}
  - group_vars/{groups}/*.yml
host_classes:
  web1: { groups: [all, web] }
",
    )
    .file("group_vars/all", "port: 1\n");
    symlink(outside.path(), repo.path().join("group_vars/web")).expect("symlink");
    repo.commit("a group directory that is a link out");
    for rev in [&[][..], &["--rev", "HEAD"]] {
        let mut args = vec!["render", "--class", "web1"];
        args.extend_from_slice(rev);
        let out = repo.run(&args);
        out.assert_code(2);
        assert!(!out.all_output().contains(SECRET), "{}", out.all_output());
        assert!(
            out.stderr.contains("group_vars/web") && out.stderr.contains("symbolic link"),
            "{}",
            out.stderr
        );
    }
    let findings = refused(&repo, SECRET);
    assert_eq!(findings[0]["line"], 3, "{findings:#?}");
    // A file inside a real group directory that links out: the same.
    std::fs::remove_file(repo.path().join("group_vars/web")).expect("remove link");
    repo.file("group_vars/web/10.yml", "port: 2\n");
    symlink(
        outside.path().join("x.yml"),
        repo.path().join("group_vars/web/20.yml"),
    )
    .expect("symlink");
    let findings = refused(&repo, SECRET);
    assert!(
        findings.iter().any(|f| f["message"]
            .as_str()
            .unwrap_or_default()
            .contains("group_vars/web/20.yml")),
        "{findings:#?}"
    );
}

fn interpolation_findings(data: &str) -> (Output, Vec<(String, u64, String)>) {
    let repo = TestRepo::new();
    repo.file(
        "ringmaster.yaml",
        "version: 1\nhierarchy: [common.yaml]\nhost_classes: {c: {}}\ninterpolation: hiera\n",
    )
    .file("common.yaml", data);
    let out = repo.run(&["check", "--format", "json"]);
    let found = places(&out.findings_of("interpolation"), "message");
    (out, found)
}

#[test]
fn interpolation_cycles_depth_and_size_are_bounded_findings_at_their_line() {
    // a → b → a: one finding, where the cycle closes.
    let (out, found) = interpolation_findings(
        "a: \"%{lookup('b')}\"\nb: \"x%{lookup('a')}\"\nself: \"%{alias('self')}\"\n",
    );
    out.assert_code(1);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert_eq!((found[0].0.as_str(), found[0].1), ("common.yaml", 2));
    assert!(found[0].2.contains("`a` → `b` → `a`"), "{found:#?}");
    assert_eq!(found[1].1, 3);
    assert!(found[1].2.contains("cycle"), "{found:#?}");
    // A chain of 40 lookups: deeper than the limit.
    let chain: String = (0..40)
        .map(|i| format!("k{i}: \"%{{lookup('k{}')}}\"\n", i + 1))
        .chain(["k40: end\n".to_string()])
        .collect();
    // Each key doubles the one below: 2^30 bytes if nothing stopped it.
    let doubling: String = (0..30)
        .map(|i| {
            format!(
                "d{i}: \"%{{lookup('d{j}')}}%{{lookup('d{j}')}}\"\n",
                j = i + 1
            )
        })
        .chain(["d30: x\n".to_string()])
        .collect();
    for (data, expected) in [
        (chain, "nest deeper than 32"),
        (doubling, "longer than 1048576 bytes"),
    ] {
        let (out, found) = interpolation_findings(&data);
        out.assert_code(1);
        assert!(
            found.iter().any(|(_, _, m)| m.contains(expected)),
            "{found:#?}"
        );
        assert!(out.elapsed.as_secs() < 20, "took {:?}", out.elapsed);
    }
}

#[test]
fn a_group_directory_linked_inside_the_repo_is_entered_in_the_tree_and_at_a_revision() {
    let repo = TestRepo::new();
    repo.file(
        "ringmaster.yaml",
        "version: 1
hierarchy:
  - group_vars/{groups}
  - envs/prod/host_vars/{class}.yml
host_classes:
  web1: { groups: [all, web] }
",
    )
    .file("group_vars/all", "port: 1\n")
    .file("shared/web/10.yml", "port: 2\n")
    .file("shared/host_vars/web1.yml", "tier: gold\n");
    // Ansible and Puppet follow a link to a directory inside the repo (a
    // shared group_vars/, an environment's data linked to another's): so do
    // both views, each file named under the link.
    symlink("../shared/web", repo.path().join("group_vars/web")).expect("symlink");
    std::fs::create_dir_all(repo.path().join("envs/prod")).expect("mkdir");
    symlink(
        "../../shared/host_vars",
        repo.path().join("envs/prod/host_vars"),
    )
    .expect("symlink");
    // A link back to its own parent is listed once, never walked in a loop.
    symlink("..", repo.path().join("shared/web/up")).expect("symlink");
    repo.commit("a group directory linked inside the repo");
    for rev in [&[][..], &["--rev", "HEAD"]] {
        assert_eq!(
            render_json(&repo, "web1", rev),
            json!({"port": 2, "tier": "gold"}),
            "{rev:?}"
        );
        let mut args = vec!["explain", "--class", "web1", "port", "--format", "json"];
        args.extend_from_slice(rev);
        let explained = repo.run(&args).expect_code(0).json();
        assert_eq!(explained["source"], "group_vars/web/10.yml:1", "{rev:?}");
    }
    // git reports a change at the link's target; the class still sees it.
    repo.file("shared/web/10.yml", "port: 3\n");
    let diff = repo
        .run(&["diff", "--format", "json"])
        .expect_code(0)
        .json();
    assert_eq!(diff["summary"]["classes_changed"], 1, "{diff}");
    assert_eq!(diff["classes"][0]["changes"][0]["new"], 3, "{diff}");
}

/// A glob at the root (`*.yaml`, a Helm-style repo of values files) matches
/// ringmaster's own files too: the manifest, a flag or ring file, a schema.
/// None of them is ever a layer; only the values files are merged.
#[test]
fn a_glob_never_takes_in_ringmasters_own_files_or_schemas() {
    let repo = TestRepo::new();
    repo.file(
        "ringmaster.yaml",
        "version: 1
hierarchy:
  - \"*.yaml\"
  - \"*/*.json\"
host_classes:
  web: {}
schemas:
  - files: 00-values.yaml
    schema: schemas/values.json
flags: flags/
",
    )
    .file("00-values.yaml", "replicas: 2\n")
    .file("10-prod.yaml", "replicas: 3\n")
    .file("schemas/values.json", "{\"type\": \"object\"}\n")
    .file(
        "flags/new-cart.yaml",
        "name: new-cart\nowner: team-cart\ntype: bool\ndefault: false\n",
    );
    let config = repo
        .run(&["render", "--class", "web", "--format", "json"])
        .expect_code(0)
        .json();
    assert_eq!(
        config["replicas"], 3,
        "the values files merge in name order"
    );
    let keys: Vec<&String> = config.as_object().expect("an object").keys().collect();
    assert_eq!(
        keys,
        ["replicas", "flags"],
        "nothing of the manifest, the schema or the flag file is merged"
    );
}
