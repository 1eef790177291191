//! `diff` and `render --all` merge classes a round at a time, reading each
//! round's layer files for it and keeping a file only while a later round
//! uses it; head shares the base's parse of a file the change did not touch.
//! A fleet large enough for several rounds, where classes in different
//! rounds (and one that skips a round) share layers: every class must get
//! exactly its own layers, and no class's override may reach another.

use serde_json::{Value, json};

use crate::support::{TestRepo, items};

/// More classes than one round holds (256): three rounds.
const CLASSES: usize = 600;
const GROUPS: usize = 7;

fn name(i: usize) -> String {
    format!("c{i:03}")
}

/// `edge` is used by the first class and the last only (rounds 0 and 2):
/// it must still be there when the last round comes.
fn group(i: usize) -> String {
    if i == 0 || i == CLASSES - 1 {
        "edge".to_owned()
    } else {
        format!("g{}", i % GROUPS)
    }
}

fn repo() -> TestRepo {
    let mut manifest = String::from(
        "version: 1\nhierarchy:\n  - config/defaults.yaml\n  - config/group/{group}.yaml\n  \
         - config/class/{class}.yaml\nhost_classes:\n",
    );
    for i in 0..CLASSES {
        manifest.push_str(&format!("  {}: {{group: {}}}\n", name(i), group(i)));
    }
    let repo = TestRepo::new();
    repo.file("ringmaster.yaml", &manifest).file(
        "config/defaults.yaml",
        "timeout: 5\nid: none\nserver:\n  port: 80\n  name: default\n",
    );
    for g in 0..GROUPS {
        repo.file(
            &format!("config/group/g{g}.yaml"),
            &format!("server:\n  port: {}\n", 9000 + g),
        );
    }
    repo.file(
        "config/group/edge.yaml",
        "server:\n  port: 8080\n  name: edge\n",
    );
    for i in 0..CLASSES {
        // The first class overrides a value of the layer it shares with
        // the last one.
        let extra = if i == 0 { "server:\n  port: 1\n" } else { "" };
        repo.file(
            &format!("config/class/{}.yaml", name(i)),
            &format!("id: {}\n{extra}", name(i)),
        );
    }
    repo.commit("fleet");
    repo
}

/// What class `i`'s effective config is, written from the layers above.
fn expected(i: usize, timeout: u64, edge_port: u64) -> Value {
    let (port, server_name) = match group(i).as_str() {
        "edge" if i == 0 => (1, "edge"),
        "edge" => (edge_port, "edge"),
        _ => (9000 + (i % GROUPS) as u64, "default"),
    };
    json!({"timeout": timeout, "id": name(i), "server": {"port": port, "name": server_name}})
}

#[test]
fn render_all_gives_each_class_of_a_many_round_fleet_its_own_layers_and_no_other_override() {
    let repo = repo();
    let out = repo.run(&["render", "--all"]).expect_code(0);
    let lines: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), CLASSES);
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(
            *line,
            json!({"class": name(i), "config": expected(i, 5, 8080)}),
            "class {}",
            name(i)
        );
    }
}

#[test]
fn diff_of_a_many_round_fleet_pairs_each_class_with_its_own_layers_on_both_sides() {
    let repo = repo();
    // Every class's defaults change; the layer the first and the last class
    // share changes too, but the first class overrides the changed value.
    repo.file(
        "config/defaults.yaml",
        "timeout: 6\nid: none\nserver:\n  port: 80\n  name: default\n",
    )
    .file(
        "config/group/edge.yaml",
        "server:\n  port: 8081\n  name: edge\n",
    );
    repo.commit("tune");
    let report = repo
        .run(&[
            "diff", "--base", "HEAD~1", "--head", "HEAD", "--format", "json",
        ])
        .expect_code(0)
        .json();
    assert_eq!(
        report["summary"],
        json!({"classes_total": CLASSES, "classes_changed": CLASSES, "changes": CLASSES + 1})
    );
    let classes = items(&report, "classes");
    assert_eq!(classes.len(), CLASSES);
    let timeout = json!({"path": "timeout", "pointer": "/timeout", "op": "changed",
                         "old": 5, "new": 6, "source": "config/defaults.yaml:1"});
    for (i, class) in classes.iter().enumerate() {
        // Sorted by path.
        let mut changes = Vec::new();
        if i == CLASSES - 1 {
            changes.push(json!({"path": "server.port", "pointer": "/server/port",
                                "op": "changed", "old": 8080, "new": 8081,
                                "source": "config/group/edge.yaml:2"}));
        }
        changes.push(timeout.clone());
        assert_eq!(
            *class,
            json!({"class": name(i), "status": "changed", "changes": changes}),
            "class {}",
            name(i)
        );
    }
    // Each class diffed alone (one round) reads as in the whole fleet's diff.
    for i in [0, 255, 256, CLASSES - 1] {
        let alone = repo
            .run(&[
                "diff",
                "--base",
                "HEAD~1",
                "--head",
                "HEAD",
                "--class",
                &name(i),
                "--format",
                "json",
            ])
            .expect_code(0)
            .json();
        assert_eq!(items(&alone, "classes"), [classes[i].clone()]);
    }
}
