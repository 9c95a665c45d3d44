//! The layer rule of src/lib.rs, checked on the source: a module uses only its own layer
//! and the layers below, the top-level modules form no import cycle, and neither do the
//! files (re-exports aside). A new top-level module must be given a layer here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// DESIGN §2's layers, bottom first.
const LAYERS: [&[&str]; 6] = [
    &["config", "error", "text"],
    &["storage"],
    &["lake", "ingest", "generate"],
    &["exec"],
    &["stages", "model", "quality"],
    &["pipeline", "score", "demo", "sql", "report", "cluster"],
];

fn layer(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// Every .rs file under `dir` with its module path ("" for lib.rs, "exec::query", ...).
fn modules(src: &Path) -> BTreeMap<String, PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(src, &mut files);
    files
        .into_iter()
        .map(|f| {
            let rel = f.strip_prefix(src).unwrap().with_extension("");
            let mut parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if parts.last().is_some_and(|l| l == "mod" || l == "lib") {
                parts.pop();
            }
            (parts.join("::"), f)
        })
        .collect()
}

/// The paths of a use tree starting at `i` (`a::b`, `{a, b::{c, d}}`), as segment lists.
fn use_tree(s: &[u8], i: &mut usize) -> Vec<Vec<String>> {
    while *i < s.len() && s[*i].is_ascii_whitespace() {
        *i += 1;
    }
    if *i < s.len() && s[*i] == b'{' {
        *i += 1;
        let mut all = Vec::new();
        loop {
            all.extend(use_tree(s, i));
            while *i < s.len() && s[*i].is_ascii_whitespace() {
                *i += 1;
            }
            match s.get(*i) {
                Some(b',') => *i += 1,
                Some(b'}') => {
                    *i += 1;
                    break;
                }
                _ => break,
            }
            while *i < s.len() && s[*i].is_ascii_whitespace() {
                *i += 1;
            }
            if s.get(*i) == Some(&b'}') {
                *i += 1;
                break;
            }
        }
        return all;
    }
    let start = *i;
    while *i < s.len() && (s[*i].is_ascii_alphanumeric() || s[*i] == b'_') {
        *i += 1;
    }
    let ident = String::from_utf8_lossy(&s[start..*i]).into_owned();
    if ident.is_empty() {
        return vec![vec![]];
    }
    if s[*i..].starts_with(b"::") {
        *i += 2;
        let mut rest = use_tree(s, i);
        for r in &mut rest {
            r.insert(0, ident.clone());
        }
        rest
    } else {
        vec![vec![ident]]
    }
}

/// The longest known module path that `segments` starts with.
fn resolve(known: &BTreeMap<String, PathBuf>, segments: &[String]) -> Option<String> {
    (1..=segments.len())
        .rev()
        .map(|n| segments[..n].join("::"))
        .find(|p| known.contains_key(p))
}

/// The module `ups` levels above `module` (in foo.rs and foo/mod.rs alike, `super` is
/// foo's parent).
fn parent(module: &str, ups: usize) -> Vec<String> {
    let mut parts: Vec<String> = module
        .split("::")
        .filter(|p| !p.is_empty())
        .map(String::from)
        .collect();
    for _ in 0..ups {
        parts.pop();
    }
    parts
}

/// The modules each module's code refers to (comments and unit tests skipped);
/// `reexports` counts `pub use` lines too.
fn edges(src: &Path, reexports: bool) -> BTreeMap<String, BTreeSet<String>> {
    let known = modules(src);
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, file) in &known {
        let text = std::fs::read_to_string(file).unwrap();
        // Unit tests (the file's tail, by convention) are not the module's code: their
        // `super::*` is the module itself.
        let text = text.split("#[cfg(test)]").next().unwrap_or_default();
        let code: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .filter(|l| {
                let t = l.trim_start();
                reexports || !(t.starts_with("pub use") || t.starts_with("pub(crate) use"))
            })
            .collect::<Vec<_>>()
            .join("\n");
        let s = code.as_bytes();
        let mut targets = BTreeSet::new();
        let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
        for (at, _) in code.match_indices("crate::") {
            if at > 0 && (ident(s[at - 1]) || s[at - 1] == b':') {
                continue;
            }
            let mut i = at + "crate::".len();
            for path in use_tree(s, &mut i) {
                targets.extend(resolve(&known, &path));
            }
        }
        for (at, _) in code.match_indices("super::") {
            if at > 0 && (ident(s[at - 1]) || s[at - 1] == b':') {
                continue;
            }
            let mut i = at;
            let mut ups = 0;
            while s[i..].starts_with(b"super::") {
                ups += 1;
                i += "super::".len();
            }
            let base = parent(module, ups);
            for path in use_tree(s, &mut i) {
                let mut full = base.clone();
                full.extend(path);
                targets.extend(resolve(&known, &full));
            }
        }
        // `use child::...` inside a module with children (2018 relative paths).
        for line in code.lines() {
            let t = line.trim_start();
            if let Some(rest) = t.strip_prefix("use ") {
                let first: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                let child = if module.is_empty() {
                    first.clone()
                } else {
                    format!("{module}::{first}")
                };
                if known.contains_key(&child) {
                    targets.insert(child);
                }
            }
        }
        targets.remove(module);
        targets.remove("");
        out.insert(module.clone(), targets);
    }
    out
}

fn top(module: &str) -> &str {
    module.split("::").next().unwrap_or("")
}

/// A cycle in `graph`, if any, as the modules along it.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(n.to_string(), 1);
        stack.push(n.to_string());
        for m in graph.get(n).into_iter().flatten() {
            match state.get(m.as_str()).copied().unwrap_or(0) {
                1 => {
                    let from = stack.iter().position(|s| s == m).unwrap();
                    let mut cycle = stack[from..].to_vec();
                    cycle.push(m.clone());
                    return Some(cycle);
                }
                0 => {
                    if let Some(c) = visit(m, graph, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(n.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in graph.keys() {
        if state.get(n.as_str()).copied().unwrap_or(0) == 0
            && let Some(c) = visit(n, graph, &mut state, &mut Vec::new())
        {
            return Some(c);
        }
    }
    None
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn every_module_uses_only_its_layer_and_those_below() {
    let mut wrong = Vec::new();
    for (module, targets) in edges(&src(), true) {
        if module.is_empty() {
            continue;
        }
        let from = top(&module);
        let Some(lf) = layer(from) else {
            wrong.push(format!(
                "{from} has no layer in tests/layers.rs (and lib.rs's doc)"
            ));
            continue;
        };
        for t in targets {
            let to = top(&t);
            match layer(to) {
                Some(lt) if lt <= lf => {}
                Some(lt) => wrong.push(format!(
                    "{module} (layer {}) uses {t} (layer {})",
                    lf + 1,
                    lt + 1
                )),
                None => wrong.push(format!("{to} has no layer in tests/layers.rs")),
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn top_level_modules_and_files_form_no_cycle() {
    let mut top_graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, targets) in edges(&src(), true) {
        if module.is_empty() {
            continue;
        }
        let entry = top_graph.entry(top(&module).to_string()).or_default();
        entry.extend(
            targets
                .iter()
                .map(|t| top(t).to_string())
                .filter(|t| t != top(&module)),
        );
    }
    assert!(top_graph.len() > 15, "{top_graph:?}");
    assert_eq!(find_cycle(&top_graph), None, "{top_graph:#?}");
    let files = edges(&src(), false);
    assert_eq!(find_cycle(&files), None, "{files:#?}");
}

/// The checker itself: a planted upward import and a planted cycle are found.
#[test]
fn the_checker_finds_an_upward_import_and_a_cycle() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    std::fs::create_dir_all(src.join("exec")).unwrap();
    std::fs::write(src.join("lib.rs"), "pub mod exec;\npub mod stages;\n").unwrap();
    std::fs::write(src.join("exec/mod.rs"), "pub mod query;\n").unwrap();
    std::fs::write(
        src.join("exec/query.rs"),
        "use crate::{stages::clean, error::Error};\n",
    )
    .unwrap();
    std::fs::write(src.join("stages.rs"), "use super::exec::query::run;\n").unwrap();
    let e = edges(src, true);
    assert_eq!(e["exec::query"], BTreeSet::from(["stages".to_string()]));
    assert_eq!(e["stages"], BTreeSet::from(["exec::query".to_string()]));
    assert!(find_cycle(&e).is_some());
    assert!(layer("exec").unwrap() < layer("stages").unwrap());
}
