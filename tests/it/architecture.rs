//! The architecture, enforced: the module graph read from `src/` has no cycles,
//! and nothing but `main`, `lib` and `cmd/` itself imports `cmd` (commands are
//! the outermost layer; the engines they call must not call back into them).
//!
//! The graph is built from the source text: every `crate::a::b` path outside a
//! comment is an edge from the file's module to the longest module that the
//! path names. A `super::a::b` path counts the same way, read from the parent
//! module (a sibling file in the same folder is as much a dependency as a
//! `crate::` path to it; only paths that name a sibling module count, so a test
//! module's `use super::*` adds nothing).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// `src/a/b.rs` → `a::b`, `src/a/mod.rs` → `a`, `src/lib.rs` → `lib`.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("a file under src");
    let mut parts: Vec<String> = rel
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts.join("::")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Module → the modules its code names (comments and doc comments ignored).
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(&src, f)).collect();
    let path_re = regex::Regex::new(r"\b(crate|super)((?:::[a-z_][a-z0-9_]*)+)").expect("regex");
    let mut graph = BTreeMap::new();
    for file in &files {
        let from = module_of(&src, file);
        let text = std::fs::read_to_string(file).expect("read a source file");
        let mut edges = BTreeSet::new();
        for line in text.lines() {
            let code = line.split("//").next().unwrap_or("");
            for cap in path_re.captures_iter(code) {
                let named: Vec<&str> = cap[2].trim_start_matches("::").split("::").collect();
                // `super::` in `a/b.rs` (module `a::b`) or `a/b/mod.rs` (also
                // `a::b`) is `a`; only a module below it counts.
                let (mut segments, floor): (Vec<&str>, usize) = if &cap[1] == "super" {
                    let parent: Vec<&str> = from.split("::").collect();
                    let parent = &parent[..parent.len().saturating_sub(1)];
                    (parent.to_vec(), parent.len() + 1)
                } else {
                    (Vec::new(), 1)
                };
                segments.extend(named);
                // The longest prefix that is a module file.
                let target = (floor..=segments.len())
                    .rev()
                    .map(|n| segments[..n].join("::"))
                    .find(|m| modules.contains(m));
                if let Some(to) = target
                    && to != from
                {
                    edges.insert(to);
                }
            }
        }
        graph.insert(from, edges);
    }
    graph
}

/// Every cycle found by a depth-first search, each as the path that closes it.
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        marks: &mut BTreeMap<String, Mark>,
        stack: &mut Vec<String>,
        found: &mut Vec<Vec<String>>,
    ) {
        marks.insert(node.to_owned(), Mark::Open);
        stack.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            match marks.get(next).copied().unwrap_or(Mark::New) {
                Mark::New => visit(next, graph, marks, stack, found),
                Mark::Open => {
                    let start = stack.iter().position(|m| m == next).unwrap_or(0);
                    let mut cycle = stack[start..].to_vec();
                    cycle.push(next.clone());
                    found.push(cycle);
                }
                Mark::Done => {}
            }
        }
        stack.pop();
        marks.insert(node.to_owned(), Mark::Done);
    }
    let mut marks = BTreeMap::new();
    let mut found = Vec::new();
    for node in graph.keys() {
        if marks.get(node).copied().unwrap_or(Mark::New) == Mark::New {
            visit(node, graph, &mut marks, &mut Vec::new(), &mut found);
        }
    }
    found
}

#[test]
fn modules_import_each_other_without_cycles() {
    let graph = module_graph();
    assert!(
        graph.len() > 20,
        "the graph was read: {} modules",
        graph.len()
    );
    let found: Vec<String> = cycles(&graph).iter().map(|c| c.join(" → ")).collect();
    assert!(
        found.is_empty(),
        "import cycles between modules:\n{}",
        found.join("\n")
    );
}

#[test]
fn nothing_outside_cmd_imports_cmd() {
    let graph = module_graph();
    let offenders: Vec<String> = graph
        .iter()
        .filter(|(from, _)| {
            !(from.as_str() == "lib" || from.as_str() == "main" || from.starts_with("cmd"))
        })
        .filter(|(_, to)| to.iter().any(|m| m == "cmd" || m.starts_with("cmd::")))
        .map(|(from, to)| {
            format!(
                "{from} imports {:?}",
                to.iter()
                    .filter(|m| m.starts_with("cmd"))
                    .collect::<Vec<_>>()
            )
        })
        .collect();
    assert!(
        offenders.is_empty(),
        "engines must not call commands:\n{}",
        offenders.join("\n")
    );
}

#[test]
fn the_cycle_finder_finds_a_planted_cycle() {
    let mut graph = BTreeMap::new();
    graph.insert("a".to_owned(), BTreeSet::from(["b".to_owned()]));
    graph.insert("b".to_owned(), BTreeSet::from(["c".to_owned()]));
    graph.insert("c".to_owned(), BTreeSet::from(["a".to_owned()]));
    graph.insert("d".to_owned(), BTreeSet::from(["a".to_owned()]));
    assert_eq!(cycles(&graph), vec![vec!["a", "b", "c", "a"]]);
}
