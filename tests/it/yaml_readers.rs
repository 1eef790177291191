//! `yaml: {version: "1.1", reader: pyyaml | psych | go-yaml}`: the scalars
//! the YAML 1.1 tools disagree on are read as the named tool reads them,
//! with no `ambiguous-scalar` warning.
//!
//! PyYAML and Psych are run for real (`python3 -c 'import yaml'`, `ruby
//! -ryaml`) on the same file ringmaster reads; a missing one fails the test.
//! go-yaml v2 is not installed: its cases come from its `resolve.go` (the
//! `y`/`n` entries of its table, then `strconv.ParseInt(s, 0, 64)` and
//! `ParseFloat` under its `yamlStyleFloat` pattern).

use std::process::Command;

use serde_json::{Value, json};

use crate::support::{TestRepo, run_tool};

/// Plain scalars the three tools read differently, and a few they agree on.
const SCALARS: &[&str] = &[
    "12:30",
    "190:20:30",
    "-1:30",
    "+1:30",
    "1:2:3:4",
    "01:30",
    "1:5",
    "1:60",
    "1_0:30",
    "1__0:30",
    "3000000000000000:30",
    "1:30.5",
    "01:30.5",
    "-1:30.5",
    "1:30.5_5",
    "1:30.",
    "yEs",
    "nULL",
    "oFF",
    "tRUE",
    "y",
    "n",
    "Y",
    "N",
    "1,000",
    "-1,000",
    "1,,0",
    "1,000.5",
    "0x1,F",
    "0,7",
    "0b1,0",
    "1e3",
    "1.5e3",
    "1.e+3",
    "-.5",
    "0o17",
    "0X1F",
    "08",
    ".5e3",
    "._5",
    "1._5",
    "1_0.5",
    "-1_0.5e+1",
    "1.",
    "+1,000",
    "0x,1",
    "yes",
    "0755",
    "1_000",
    "hello",
];

fn layer() -> String {
    SCALARS
        .iter()
        .enumerate()
        .map(|(i, s)| format!("k{i:02}: {s}\n"))
        .collect()
}

/// A one-layer repo whose layer holds every scalar of `SCALARS`.
fn repo(reader: &str) -> TestRepo {
    let repo = TestRepo::new();
    repo.file(
        "ringmaster.yaml",
        &format!(
            "version: 1\nhierarchy:\n  - data.yaml\nhost_classes:\n  web: {{ role: web }}\nyaml:\n  version: \"1.1\"\n  reader: {reader}\n"
        ),
    )
    .file("data.yaml", &layer());
    repo
}

/// ringmaster's reading of the layer, and that it warns of nothing.
fn ringmaster_reads(repo: &TestRepo) -> Value {
    let check = repo.run(&["check", "--format", "json"]);
    check.assert_code(0);
    assert_eq!(check.findings(), Vec::<Value>::new());
    repo.run(&["render", "--class", "web", "--format", "json"])
        .assert_code(0)
        .json()
}

/// What a real tool prints for the layer, as JSON.
fn tool_reads(repo: &TestRepo, program: &str, args: &[&str]) -> Value {
    let out = run_tool(
        Command::new(program)
            .args(args)
            .arg(repo.path().join("data.yaml")),
        program,
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{program} printed no JSON ({e})"))
}

/// Each key with ringmaster's and the tool's reading, where they differ.
fn differences(ours: &Value, theirs: &Value) -> Vec<String> {
    SCALARS
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let key = format!("k{i:02}");
            (ours[&key] != theirs[&key])
                .then(|| format!("`{s}`: ringmaster {}, tool {}", ours[&key], theirs[&key]))
        })
        .collect()
}

#[test]
fn reader_pyyaml_reads_every_scalar_as_pyyaml_does() {
    let repo = repo("pyyaml");
    let theirs = tool_reads(
        &repo,
        "python3",
        &[
            "-c",
            "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
        ],
    );
    // The disputed cases are there, so a reader that changed nothing fails.
    assert_eq!(theirs["k00"], json!(750), "{theirs}");
    assert_eq!(
        differences(&ringmaster_reads(&repo), &theirs),
        Vec::<String>::new()
    );
}

#[test]
fn reader_psych_reads_every_scalar_as_ruby_psych_does() {
    let repo = repo("psych");
    let theirs = tool_reads(
        &repo,
        "ruby",
        &[
            "-ryaml",
            "-rjson",
            "-e",
            "puts JSON.generate(YAML.load_file(ARGV[0]))",
        ],
    );
    assert_eq!(theirs["k00"], json!(45000), "{theirs}");
    assert_eq!(
        differences(&ringmaster_reads(&repo), &theirs),
        Vec::<String>::new()
    );
}

#[test]
fn reader_go_yaml_reads_y_n_go_numbers_and_leaves_base_60_a_string() {
    let repo = repo("go-yaml");
    let ours = ringmaster_reads(&repo);
    let read = |s: &str| {
        let i = SCALARS.iter().position(|x| *x == s).unwrap_or(usize::MAX);
        ours[format!("k{i:02}")].clone()
    };
    for (scalar, expected) in [
        ("y", json!(true)),
        ("N", json!(false)),
        ("1e3", json!(1000.0)),
        ("1.5e3", json!(1500.0)),
        (".5e3", json!(500.0)),
        ("0o17", json!(15)),
        ("0X1F", json!(31)),
        // ParseInt refuses octal 08; yamlStyleFloat takes it.
        ("08", json!(8.0)),
        ("12:30", json!("12:30")),
        ("yEs", json!("yEs")),
        ("1,000", json!("1,000")),
        ("0755", json!(493)),
        ("yes", json!(true)),
    ] {
        assert_eq!(read(scalar), expected, "`{scalar}`");
    }
}

#[test]
fn no_reader_keeps_disputed_scalars_strings_with_a_warning() {
    let repo = TestRepo::new();
    repo.file(
        "ringmaster.yaml",
        "version: 1\nhierarchy:\n  - data.yaml\nhost_classes:\n  web: { role: web }\nyaml:\n  version: \"1.1\"\n  files:\n    - files: \"data.yaml\"\n      reader: psych\n    - files: \"other.yaml\"\n",
    )
    .file("data.yaml", "a: 12:30\nb: yEs\n");
    // The per-file entry sets the reader, the repo level does not.
    assert_eq!(
        repo.run(&["render", "--class", "web", "--format", "json"])
            .assert_code(0)
            .json(),
        json!({"a": 45000, "b": true})
    );
    repo.file(
        "ringmaster.yaml",
        "version: 1\nhierarchy:\n  - data.yaml\nhost_classes:\n  web: { role: web }\nyaml:\n  version: \"1.1\"\n",
    );
    assert_eq!(
        repo.run(&["render", "--class", "web", "--format", "json"])
            .assert_code(0)
            .json(),
        json!({"a": "12:30", "b": "yEs"})
    );
    let check = repo.run(&["check", "--format", "json"]);
    assert_eq!(check.findings_of("ambiguous-scalar").len(), 2);
}

/// Disputed scalars an imported repo's data holds.
const DISPUTED: &str = "a: 12:30\nb: yEs\nc: 1,000\nd: y\ne: 0o17\nf: 1:30.5\n";

/// The data file as `program` reads it, as JSON.
fn file_as_tool_reads(path: &std::path::Path, program: &str, args: &[&str]) -> Value {
    let out = run_tool(Command::new(program).args(args).arg(path), program);
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{program} printed no JSON ({e})"))
}

#[test]
fn import_hiera_reads_data_as_psych_does() {
    let repo = TestRepo::new();
    repo.file(
        "hiera.yaml",
        "version: 5\ndefaults:\n  datadir: data\n  data_hash: yaml_data\nhierarchy:\n  - name: Common\n    path: common.yaml\n",
    )
    .file("data/common.yaml", DISPUTED)
    .file("nodes.yaml", "n1: {}\n");
    repo.run(&["import", "hiera", "--nodes", "nodes.yaml"])
        .assert_code(0);
    let puppet = file_as_tool_reads(
        &repo.path().join("data/common.yaml"),
        "ruby",
        &[
            "-ryaml",
            "-rjson",
            "-e",
            "puts JSON.generate(YAML.load_file(ARGV[0]))",
        ],
    );
    assert_eq!(puppet["a"], json!(45000), "{puppet}");
    let ours = repo
        .run(&["render", "--class", "n1", "--format", "json"])
        .assert_code(0)
        .json();
    assert_eq!(ours, puppet);
    let check = repo.run(&["check", "--format", "json"]);
    assert_eq!(check.findings_of("ambiguous-scalar"), Vec::<Value>::new());
}

#[test]
fn import_ansible_reads_group_vars_as_pyyaml_does() {
    let repo = TestRepo::new();
    repo.file(
        "inventory/hosts.yml",
        "all:\n  children:\n    web:\n      hosts:\n        web1:\n",
    )
    .file("inventory/group_vars/web.yml", DISPUTED);
    repo.run(&["import", "ansible", "--inventory", "inventory/hosts.yml"])
        .assert_code(0);
    let ansible = file_as_tool_reads(
        &repo.path().join("inventory/group_vars/web.yml"),
        "python3",
        &[
            "-c",
            "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
        ],
    );
    assert_eq!(ansible["a"], json!(750), "{ansible}");
    let ours = repo
        .run(&["render", "--class", "web1", "--format", "json"])
        .assert_code(0)
        .json();
    for key in ["a", "b", "c", "d", "e", "f"] {
        assert_eq!(ours[key], ansible[key], "{key}: {ours}");
    }
    let check = repo.run(&["check", "--format", "json"]);
    assert_eq!(check.findings_of("ambiguous-scalar"), Vec::<Value>::new());
}

#[test]
fn import_helm_writes_reader_go_yaml_and_values_read_as_go_yaml_v2_does() {
    let repo = TestRepo::from_fixture("import/helm");
    repo.file("envs/disputed.yaml", DISPUTED);
    repo.run(&[
        "import",
        "helm",
        "--chart",
        "web",
        "--values",
        "envs/disputed.yaml",
    ])
    .assert_code(0);
    assert!(
        repo.read("ringmaster.yaml").contains("  reader: go-yaml\n"),
        "{}",
        repo.read("ringmaster.yaml")
    );
    let ours = repo
        .run(&["render", "--class", "web", "--format", "json"])
        .assert_code(0)
        .json();
    // resolve.go: base-60 and `1,000` are no numbers to Go, `yEs` is not in
    // its table, `y` is; ParseInt(s, 0, 64) reads `0o17`.
    for (key, expected) in [
        ("a", json!("12:30")),
        ("b", json!("yEs")),
        ("c", json!("1,000")),
        ("d", json!(true)),
        ("e", json!(15)),
        ("f", json!("1:30.5")),
    ] {
        assert_eq!(ours[key], expected, "{key}: {ours}");
    }
    let check = repo.run(&["check", "--format", "json"]);
    assert_eq!(check.findings_of("ambiguous-scalar"), Vec::<Value>::new());
}
