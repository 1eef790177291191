//! What broke when ringmaster's real-hierarchy features met real public
//! repos: a Puppet control repo's Hiera data (example42/psick-hieradata), an
//! Ansible inventory with `group_vars/<group>/` directories
//! (kubernetes-sigs/kubespray's `inventory/sample`) and a Helm chart with a
//! production values file (stefanprodan/podinfo). Each fixture is a few
//! lines in the shape of the real files (excerpts and their licences:
//! tests/data/README.md), with the value the real tool gives.

use serde_json::{Value, json};

use crate::support::TestRepo;

fn render_json(repo: &TestRepo, class: &str) -> Value {
    repo.run(&["render", "--class", class, "--format", "json"])
        .expect_code(0)
        .json()
}

/// psick-hieradata's reversed hierarchy, a node declared as Puppet sees it:
/// trusted facts, and its facts under `facts:` as in `$facts`.
fn hiera_repo() -> TestRepo {
    let repo = TestRepo::new();
    repo.file(
        "ringmaster.yaml",
        "version: 1
hierarchy:
  - data/common.yaml
  - data/zone/{zone}.yaml
  - data/nodes/{trusted.certname}.yaml
host_classes:
  git-lab:
    zone: lab
    trusted: { certname: git.lab.psick.io }
    facts: { domain: lab.psick.io, fqdn: git.lab.psick.io, networking: { domain: lab.psick.io } }
merge:
  default: first
yaml:
  version: \"1.1\"
  duplicate_keys: last-wins
interpolation: hiera
",
    )
    .file("data/common.yaml", "psick::timezone: Europe/Berlin\n")
    // data/zone/lab.yaml (psick-hieradata): facts in values and in keys.
    .file(
        "data/zone/lab.yaml",
        "sensu::handlers:
  graphite:
    type: tcp
    socket:
      host: \"graphite.%{facts.networking.domain}\"
      port: 2003
icinga2::feature::api::endpoints:
  '%{fqdn}': {}
  icinga.lab.psick.io:
    host: icinga.lab.psick.io
icinga2::feature::api::zones:
  '%{fqdn}':
    endpoints:
      - '%{fqdn}'
    parent: master
",
    )
    // data/role/git.yaml (psick-hieradata): a legacy top-scope fact.
    .file(
        "data/nodes/git.lab.psick.io.yaml",
        "psick_profile::gitlab::options_hash:
  pages_external_url: \"http://pages.%{::domain}/\"
  registry['host']: \"git.%{::domain}\"
",
    );
    repo.commit("hieradata");
    repo
}

/// Puppet's facts are both top-scope variables and `$facts` entries
/// ("Facts and built-in variables", puppet.com docs): `%{facts.networking.domain}`
/// reads `$facts['networking']['domain']` and `%{::domain}` reads the
/// top-scope `$domain`, which is `$facts['domain']`. A class declaring its
/// facts under `facts:` got the empty string for both.
#[test]
fn hiera_finds_facts_declared_under_a_facts_map_by_either_name() {
    let config = render_json(&hiera_repo(), "git-lab");
    assert_eq!(
        config["sensu::handlers"]["graphite"]["socket"]["host"],
        json!("graphite.lab.psick.io")
    );
    assert_eq!(
        config["psick_profile::gitlab::options_hash"],
        json!({
            "pages_external_url": "http://pages.lab.psick.io/",
            "registry['host']": "git.lab.psick.io",
        })
    );
}

/// Puppet's `Interpolation#interpolate` maps a hash's keys as well as its
/// values (`result[interpolate(k)] = interpolate(v)`), so psick's
/// `'%{fqdn}': {}` endpoint is the node's own name. ringmaster left the key
/// as written.
#[test]
fn hiera_interpolates_mapping_keys_as_puppet_does() {
    let config = render_json(&hiera_repo(), "git-lab");
    assert_eq!(
        config["icinga2::feature::api::endpoints"],
        json!({
            "git.lab.psick.io": {},
            "icinga.lab.psick.io": { "host": "icinga.lab.psick.io" },
        })
    );
    assert_eq!(
        config["icinga2::feature::api::zones"],
        json!({ "git.lab.psick.io": { "endpoints": ["git.lab.psick.io"], "parent": "master" } })
    );
}

/// Two keys that interpolate to the same text: Puppet builds a Ruby hash,
/// so the later value replaces the earlier one in the earlier place.
#[test]
fn hiera_keys_that_interpolate_alike_keep_the_later_value_in_the_earlier_place() {
    let repo = TestRepo::new();
    repo.file(
        "ringmaster.yaml",
        "version: 1
hierarchy: [common.yaml]
host_classes:
  web: { fqdn: web.example }
interpolation: hiera
",
    )
    .file(
        "common.yaml",
        "endpoints:\n  '%{fqdn}': { port: 1 }\n  other: {}\n  web.example: { port: 2 }\n",
    );
    repo.commit("data");
    let config = render_json(&repo, "web");
    assert_eq!(
        config["endpoints"],
        json!({ "web.example": { "port": 2 }, "other": {} })
    );
    let keys: Vec<&String> = config["endpoints"]
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    assert_eq!(keys, ["web.example", "other"]);
}

/// kubespray's `inventory/sample/group_vars/all/` is a directory of 16
/// files (all.yml, aws.yml, … docker.yml, etcd.yml), each the `all` group's
/// defaults for one topic; Ansible loads them as one group's vars. Every key
/// first set in docker.yml or etcd.yml was an `unknown-override` ("no
/// earlier layer defines it"). Keys a later group sets are still reported.
#[test]
fn every_file_of_the_first_group_directory_holds_defaults_not_overrides() {
    let repo = TestRepo::new();
    repo.file(
        "ringmaster.yaml",
        "version: 1
hierarchy:
  - group_vars/{groups}
host_classes:
  node1: { groups: [all, k8s_cluster] }
merge:
  default: first
yaml:
  version: \"1.1\"
",
    )
    .file(
        "group_vars/all/all.yml",
        "bin_dir: /usr/local/bin\nloadbalancer_apiserver_port: 6443\n",
    )
    .file(
        "group_vars/all/docker.yml",
        "docker_daemon_graph: \"/var/lib/docker\"\nbin_dir: /usr/bin\n",
    )
    .file(
        "group_vars/all/etcd.yml",
        "etcd_data_dir: /var/lib/etcd\netcd_deployment_type: host\n",
    )
    .file(
        "group_vars/k8s_cluster/k8s-cluster.yml",
        "kube_network_plugin: calico\netcd_deployment_type: kubeadm\n",
    );
    repo.commit("inventory");
    let out = repo.run(&["check", "--format", "json"]);
    let unknown: Vec<(String, String)> = out
        .findings_of("unknown-override")
        .iter()
        .map(|f| {
            (
                f["file"].as_str().unwrap_or_default().to_owned(),
                f["path"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        unknown,
        [(
            "group_vars/k8s_cluster/k8s-cluster.yml".to_owned(),
            "/kube_network_plugin".to_owned()
        )]
    );
    // Ansible's answer: later files of one directory win, a child group wins.
    assert_eq!(
        render_json(&repo, "node1"),
        json!({
            "bin_dir": "/usr/bin",
            "loadbalancer_apiserver_port": 6443,
            "docker_daemon_graph": "/var/lib/docker",
            "etcd_data_dir": "/var/lib/etcd",
            "etcd_deployment_type": "kubeadm",
            "kube_network_plugin": "calico",
        })
    );
}

/// podinfo's chart: values.yaml and values-prod.yaml (`helm install -f
/// values-prod.yaml`). Helm's coalescing (helm.sh "Values Files", and
/// `coalesceValues`): maps merge, lists replace, a user value of null
/// deletes the key it overrides, a chart default of null with no override
/// stays. Nothing broke here; this pins the shape end to end.
#[test]
fn a_helm_chart_with_a_prod_values_file_renders_what_helm_coalesces() {
    let repo = TestRepo::new();
    repo.file(
        "ringmaster.yaml",
        "version: 1
hierarchy:
  - charts/podinfo/values.yaml
  - charts/podinfo/values-{env}.yaml
host_classes:
  dev: { env: dev }
  prod: { env: prod }
merge:
  default: deep
  lists: replace
  nulls: delete
yaml:
  version: \"1.1\"
  duplicate_keys: last-wins
",
    )
    .file(
        "charts/podinfo/values.yaml",
        "replicaCount: 1
backend: #http://backend-podinfo:9898/echo
backends: []
ui:
  color: \"#34577c\"
  message: \"\"
hpa:
  enabled: false
  maxReplicas: 10
  cpu:
  memory:
resources:
  limits:
  requests:
    cpu: 1m
    memory: 16Mi
tolerations: [{key: a}]
",
    )
    .file(
        "charts/podinfo/values-prod.yaml",
        "backend: #http://backend-podinfo:9898/echo
ui:
  message:
hpa:
  enabled: true
  maxReplicas: 5
  cpu: 99
resources:
  limits:
    memory: 256Mi
  requests:
    cpu: 100m
    memory: 64Mi
tolerations: []
",
    );
    repo.commit("chart");
    assert_eq!(
        render_json(&repo, "prod"),
        json!({
            "replicaCount": 1,
            "backends": [],
            "ui": { "color": "#34577c" },
            "hpa": { "enabled": true, "maxReplicas": 5, "cpu": 99, "memory": null },
            "resources": {
                "limits": { "memory": "256Mi" },
                "requests": { "cpu": "100m", "memory": "64Mi" },
            },
            "tolerations": [],
        })
    );
    assert_eq!(render_json(&repo, "dev")["backend"], Value::Null);
    assert!(
        render_json(&repo, "dev")
            .as_object()
            .is_some_and(|m| m.contains_key("backend"))
    );
}

/// Ansible's inventory guide: `/etc/ansible/group_vars/raleigh` "can
/// optionally end in '.yml', '.yaml', or '.json'", and many inventories
/// write `group_vars/all.yml`. Ansible's `host_group_vars`
/// (`DataLoader.find_vars_files`) tries `<group>` (a file or a directory),
/// then `<group>.yml`, `<group>.yaml`, `<group>.json`, and takes the first
/// that exists. The template `group_vars/{groups}` found only the first
/// form: `all.yml`'s variables were silently missing from every render.
#[test]
fn a_group_vars_template_finds_group_files_with_an_extension_as_ansible_does() {
    let repo = TestRepo::new();
    repo.file(
        "ringmaster.yaml",
        "version: 1
hierarchy:
  - group_vars/{groups}
  - host_vars/{class}
host_classes:
  web1: { groups: [all, eu, web] }
merge:
  default: first
",
    )
    .file(
        "group_vars/all.yml",
        "ntp: pool.ntp.org\nport: 80\nregion: none\nname: all\n",
    )
    // `eu` exists as a file without an extension: `eu.yml` is not read.
    .file("group_vars/eu", "region: eu-west-1\n")
    .file("group_vars/eu.yml", "region: ignored\nname: ignored\n")
    .file("group_vars/web/main.yml", "port: 8080\n")
    .file("host_vars/web1.json", "{\"ntp\": \"ntp.web1\"}\n");
    repo.commit("inventory");
    assert_eq!(
        render_json(&repo, "web1"),
        json!({ "ntp": "ntp.web1", "port": 8080, "region": "eu-west-1", "name": "all" })
    );
    repo.file(
        "group_vars/all.yml",
        "ntp: pool.ntp.org\nport: 80\nregion: none\nname: every\n",
    )
    .commit("rename");
    let diff = repo
        .run(&["diff", "--base", "HEAD~1", "--format", "json"])
        .expect_code(0)
        .json();
    assert_eq!(
        diff["classes"][0]["changes"],
        json!([{
            "path": "name",
            "pointer": "/name",
            "op": "changed",
            "old": "all",
            "new": "every",
            "source": "group_vars/all.yml:4",
        }])
    );
}

/// Modelling psick-hieradata, the first manifest deep-merged; switching to
/// Hiera's `merge: {default: first}` changes what many nodes get, and a
/// reviewer must see it. `diff` rendered only the classes whose templates,
/// facts or layer files changed, so a change to `merge:`, `yaml:` or
/// `interpolation:` alone reported "changes 0 values".
#[test]
fn a_change_to_how_layers_are_read_or_merged_shows_in_diff() {
    let repo = TestRepo::new();
    let manifest = |merge: &str, yaml: &str, interpolation: &str| {
        format!(
            "version: 1
hierarchy:
  - data/common.yaml
  - data/nodes/{{trusted.certname}}.yaml
host_classes:
  git-lab: {{ trusted: {{ certname: git.lab.psick.io }} }}
merge: {{ default: {merge} }}
yaml: {{ version: \"{yaml}\" }}
interpolation: {interpolation}
"
        )
    };
    repo.file("ringmaster.yaml", &manifest("deep", "1.2", "none"))
        .file(
            "data/common.yaml",
            "psick::tp: { cli_enable: true, data_module: tinydata }\npermissions: 0644\nhost: 'git.%{trusted.certname}'\n",
        )
        .file("data/nodes/git.lab.psick.io.yaml", "psick::tp: { cli_enable: false }\n")
        .commit("deep");
    let changes = |repo: &TestRepo| {
        let diff = repo
            .run(&["diff", "--base", "HEAD~1", "--format", "json"])
            .expect_code(0)
            .json();
        diff["classes"][0]["changes"]
            .as_array()
            .map(|c| c.iter().map(|c| c["path"].clone()).collect::<Vec<_>>())
            .unwrap_or_default()
    };
    repo.file("ringmaster.yaml", &manifest("first", "1.2", "none"))
        .commit("first");
    assert_eq!(changes(&repo), [json!("psick::tp.data_module")]);
    repo.file("ringmaster.yaml", &manifest("first", "1.1", "none"))
        .commit("yaml 1.1");
    assert_eq!(changes(&repo), [json!("permissions")]);
    repo.file("ringmaster.yaml", &manifest("first", "1.1", "hiera"))
        .commit("hiera");
    assert_eq!(changes(&repo), [json!("host")]);
}

/// Hiera interpolates each level's value as it reads it, then merges
/// (Puppet's data providers interpolate in `unchecked_key_lookup`): a node
/// level's `['%{trusted.certname}']` and common's `[puppet…, git…]` merge
/// `unique` into two names, and a key `'%{trusted.certname}'` deep-merges
/// with the same name written out in common. ringmaster interpolated after
/// the merge: the name twice, and the common level's `port` lost.
/// `%{literal('%')}{REQUEST_URI}` (psick's lamp node) is resolved once.
#[test]
fn hiera_interpolates_each_level_before_merging_it() {
    let repo = TestRepo::new();
    repo.file(
        "ringmaster.yaml",
        "version: 1
hierarchy:
  - common.yaml
  - nodes/{trusted.certname}.yaml
host_classes:
  git: { trusted: { certname: git.lab.psick.io } }
merge:
  default: first
  keys:
    - key: /allowlisted_certnames
      strategy: unique
    - key: /endpoints
      strategy: deep
interpolation: hiera
",
    )
    .file(
        "common.yaml",
        "allowlisted_certnames: [puppet.lab.psick.io, git.lab.psick.io]
endpoints:
  git.lab.psick.io: { port: 5665 }
",
    )
    .file(
        "nodes/git.lab.psick.io.yaml",
        "allowlisted_certnames: ['%{trusted.certname}']
endpoints:
  '%{trusted.certname}': { host: git }
RewriteCond: \"%{literal('%')}{REQUEST_URI} !/route.php\"
",
    );
    repo.commit("hieradata");
    assert_eq!(
        render_json(&repo, "git"),
        json!({
            "allowlisted_certnames": ["git.lab.psick.io", "puppet.lab.psick.io"],
            "endpoints": { "git.lab.psick.io": { "port": 5665, "host": "git" } },
            "RewriteCond": "%{REQUEST_URI} !/route.php",
        })
    );
    // The finding's path quotes the key that holds dots, so it reads back.
    let out = repo.run(&["check", "--format", "json"]);
    let messages: Vec<String> = out
        .findings_of("unknown-override")
        .iter()
        .map(|f| f["message"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        messages,
        [
            "`endpoints.\"git.lab.psick.io\".host` is set here but no earlier layer defines it, so it overrides nothing",
            "`RewriteCond` is set here but no earlier layer defines it, so it overrides nothing",
        ]
    );
}

/// `explain` of the key psick writes as `'%{fqdn}'`: the layer that sets it
/// is named with its line, as the merge read it, instead of "does not
/// mention it" beside a final value from that very line.
#[test]
fn explain_names_the_layer_that_sets_an_interpolated_key() {
    let repo = hiera_repo();
    let explained = repo
        .run(&[
            "explain",
            "--class",
            "git-lab",
            "/icinga2::feature::api::endpoints/git.lab.psick.io",
            "--format",
            "json",
        ])
        .expect_code(0)
        .json();
    let layers: Vec<(String, String, Value)> = explained["layers"]
        .as_array()
        .map(|l| {
            l.iter()
                .map(|s| {
                    (
                        s["file"].as_str().unwrap_or_default().to_owned(),
                        s["action"].as_str().unwrap_or_default().to_owned(),
                        s["line"].clone(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        layers,
        [
            (
                "data/common.yaml".to_owned(),
                "absent".to_owned(),
                Value::Null
            ),
            ("data/zone/lab.yaml".to_owned(), "set".to_owned(), json!(8)),
            (
                "data/nodes/git.lab.psick.io.yaml".to_owned(),
                "absent".to_owned(),
                Value::Null
            ),
        ]
    );
}
