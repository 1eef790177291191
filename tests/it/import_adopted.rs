//! Imported repos under review: the Hiera and Ansible manifests name the
//! tool's own files, so a pull request that edits `hiera.yaml` or the
//! inventory (and no layer) shows its effect in `diff`, at each revision's
//! own hierarchy.

use crate::support::{TestRepo, changes_by_class};

fn committed(files: &[(&str, &str)], import: &[&str]) -> TestRepo {
    let repo = TestRepo::new();
    for (path, text) in files {
        repo.file(path, text);
    }
    repo.git(&["init", "-q"]);
    repo.run(import).expect_code(0);
    repo.commit("adopt");
    repo
}

fn diff(repo: &TestRepo) -> serde_json::Value {
    repo.run(&["diff", "--format", "json"])
        .expect_code(0)
        .json()
}

#[test]
fn moving_a_host_to_another_group_in_the_inventory_shows_in_diff() {
    let repo = committed(
        &[
            ("inventory/hosts.ini", "[web]\nweb1\nweb2\n\n[db]\ndb1\n"),
            ("inventory/group_vars/web.yml", "port: 80\n"),
            ("inventory/group_vars/db.yml", "port: 5432\n"),
        ],
        &["import", "ansible", "--inventory", "inventory/hosts.ini"],
    );
    repo.file("inventory/hosts.ini", "[web]\nweb1\n\n[db]\ndb1\nweb2\n");
    let changes = changes_by_class(&diff(&repo));
    assert_eq!(changes.keys().collect::<Vec<_>>(), ["web2"], "{changes:?}");
    assert_eq!(changes["web2"][0]["old"], 80);
    assert_eq!(changes["web2"][0]["new"], 5432);
}

#[test]
fn a_variable_set_in_the_inventory_itself_shows_in_diff() {
    let repo = committed(
        &[
            (
                "inventory/hosts.ini",
                "[web]\nweb1\n\n[web:vars]\nport=80\n",
            ),
            ("inventory/group_vars/all.yml", "tier: gold\n"),
        ],
        &["import", "ansible", "--inventory", "inventory/hosts.ini"],
    );
    repo.file(
        "inventory/hosts.ini",
        "[web]\nweb1\n\n[web:vars]\nport=8080\n",
    );
    let changes = changes_by_class(&diff(&repo));
    assert_eq!(changes["web1"][0]["new"], 8080, "{changes:?}");
}

#[test]
fn a_new_level_in_hiera_yaml_shows_in_diff() {
    let hiera = "version: 5\ndefaults:\n  datadir: data\nhierarchy:\n  - name: common\n    path: common.yaml\n";
    let repo = committed(
        &[
            ("hiera.yaml", hiera),
            ("data/common.yaml", "ntp::server: ntp.example.com\n"),
            ("data/role/web.yaml", "ntp::server: ntp-web.example.com\n"),
            (
                "nodes.yaml",
                "web01.example.com:\n  role: web\ndb01.example.com:\n  role: db\n",
            ),
        ],
        &["import", "hiera", "--nodes", "nodes.yaml"],
    );
    assert_eq!(
        repo.run(&["render", "--class", "web01.example.com", "--format", "json"])
            .expect_code(0)
            .json()["ntp::server"],
        "ntp.example.com"
    );
    repo.file(
        "hiera.yaml",
        "version: 5\ndefaults:\n  datadir: data\nhierarchy:\n  - name: role\n    path: \"role/%{facts.role}.yaml\"\n  - name: common\n    path: common.yaml\n",
    );
    let changes = changes_by_class(&diff(&repo));
    assert_eq!(
        changes.keys().collect::<Vec<_>>(),
        ["web01.example.com"],
        "{changes:?}"
    );
    assert_eq!(
        changes["web01.example.com"][0]["new"],
        "ntp-web.example.com"
    );
}
