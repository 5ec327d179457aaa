//! The workspace's shape, checked on every test run: no module cycles inside any crate, no file
//! over 400 lines of non-test code, no function over 80 lines except data tables (named below). The graph is
//! built from `crate::` and `super::` paths of each crate's source, test modules left out.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const MAX_FILE_LINES: usize = 400;
const MAX_FUNCTION_LINES: usize = 80;

/// Functions that are data tables (one entry per line), allowed past the function limit.
const DATA_TABLES: &[&str] = &["understudy-models/src/catalog.rs::known_models"];

fn crates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every source file of every crate: (crate, path relative to `src/`, non-test text).
fn sources() -> Vec<(String, PathBuf, String)> {
    let mut all = Vec::new();
    let mut crates: Vec<PathBuf> = std::fs::read_dir(crates_dir())
        .expect("crates/")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("src").is_dir())
        .collect();
    crates.sort();
    for krate in crates {
        let name = krate.file_name().unwrap().to_string_lossy().to_string();
        let src = krate.join("src");
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        files.sort();
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            let code = match text.find("\n#[cfg(test)]\nmod tests") {
                Some(at) => text[..at].to_string(),
                None => text,
            };
            all.push((
                name.clone(),
                file.strip_prefix(&src).unwrap().to_path_buf(),
                code,
            ));
        }
    }
    all
}

/// The top-level module a file belongs to (`lib` for the crate root).
fn top_module(relative: &Path) -> String {
    let first = relative.components().next().unwrap();
    let first = first.as_os_str().to_string_lossy();
    let name = first.trim_end_matches(".rs");
    match name {
        "lib" | "main" => "lib".into(),
        other => other.to_string(),
    }
}

/// Names following `prefix` (`crate::name`, or each name in `crate::{a, b::c}`).
fn referenced(code: &str, prefix: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (at, _) in code.match_indices(prefix) {
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &code[at + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            for part in group.split(',') {
                let head = part.trim().split("::").next().unwrap_or("").trim();
                if head.starts_with(|c: char| c.is_ascii_lowercase()) && head != "self" {
                    names.insert(head.to_string());
                }
            }
        } else {
            let head: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !head.is_empty() {
                names.insert(head);
            }
        }
    }
    names
}

/// Strongly connected components with more than one node (Tarjan).
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'g> {
        graph: &'g BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        found: Vec<Vec<String>>,
    }
    fn visit<'g>(s: &mut State<'g>, v: &'g str) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.graph[v].iter().filter(|w| s.graph.contains_key(*w)) {
            let w = s.graph.get_key_value(w).unwrap().0.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                s.found.push(component);
            }
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.found
}

#[test]
fn no_module_cycles_in_any_crate() {
    let mut graphs: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for (krate, relative, code) in sources() {
        let top = top_module(&relative);
        let mut deps = referenced(&code, "crate::");
        // `super::x` from a top-level module's own children names a sibling top-level module only
        // when the file is the top-level module itself.
        if relative.components().count() == 1 {
            deps.extend(referenced(&code, "super::"));
        }
        deps.remove(&top);
        graphs
            .entry(krate)
            .or_default()
            .entry(top)
            .or_default()
            .extend(deps);
    }
    let found: Vec<String> = graphs
        .iter()
        .flat_map(|(krate, graph)| {
            cycles(graph)
                .into_iter()
                .map(move |c| format!("{krate}: {}", c.join(" ↔ ")))
        })
        .collect();
    assert!(found.is_empty(), "module cycles:\n{}", found.join("\n"));
}

fn code_lines(code: &str) -> usize {
    code.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("//"))
        .count()
}

/// (name, lines) of each function in rustfmt-formatted code: from `fn` to the closing brace at
/// the same indentation.
fn functions(code: &str) -> Vec<(String, usize)> {
    let lines: Vec<&str> = code.lines().collect();
    let mut found = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        let signature = [
            "pub(crate) ",
            "pub(super) ",
            "pub ",
            "async ",
            "const ",
            "unsafe ",
        ]
        .iter()
        .fold(trimmed, |s, p| s.strip_prefix(p).unwrap_or(s));
        let signature = signature.strip_prefix("async ").unwrap_or(signature);
        let Some(rest) = signature.strip_prefix("fn ") else {
            continue;
        };
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        // The signature ends at the first line at the fn's own indentation ending in `{` or `;`
        // (a declaration without a body).
        let at_indent = |l: &str| l.starts_with(indent) && !l[indent.len()..].starts_with(' ');
        let Some(open) = lines[i..]
            .iter()
            .position(|l| at_indent(l) && (l.ends_with('{') || l.ends_with(';')))
        else {
            continue;
        };
        if lines[i + open].ends_with(';') {
            continue;
        }
        let closing = format!("{indent}}}");
        if let Some(end) = lines[i..].iter().position(|l| *l == closing) {
            found.push((name, end + 1));
        }
    }
    found
}

/// Each item over `limit`, as a line saying so.
fn over_limit(measured: Vec<(String, usize)>, limit: usize) -> Vec<String> {
    measured
        .into_iter()
        .filter(|(_, n)| *n > limit)
        .map(|(what, n)| format!("{what}: {n} lines (limit {limit})"))
        .collect()
}

#[test]
fn files_and_functions_stay_small() {
    let mut files = Vec::new();
    let mut fns = Vec::new();
    for (krate, relative, code) in sources() {
        let file = format!("{krate}/src/{}", relative.display());
        files.push((file.clone(), code_lines(&code)));
        for (name, n) in functions(&code) {
            let key = format!("{file}::{name}");
            if !DATA_TABLES.contains(&key.as_str()) {
                fns.push((key, n));
            }
        }
    }
    let mut problems = over_limit(files, MAX_FILE_LINES);
    problems.extend(over_limit(fns, MAX_FUNCTION_LINES));
    assert!(
        problems.is_empty(),
        "split these by job:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_checks_can_fail() {
    let mut graph = BTreeMap::new();
    graph.insert("a".to_string(), BTreeSet::from(["b".to_string()]));
    graph.insert("b".to_string(), BTreeSet::from(["a".to_string()]));
    graph.insert("c".to_string(), BTreeSet::from(["a".to_string()]));
    assert_eq!(cycles(&graph).len(), 1);
    assert_eq!(
        referenced(
            "use crate::{plan::Plan, task};\nlet x = crate::grade::x();",
            "crate::"
        ),
        BTreeSet::from(["plan".into(), "task".into(), "grade".into()])
    );
    let long = format!("fn big() {{\n{}}}\n", "    x();\n".repeat(90));
    assert_eq!(functions(&long), vec![("big".to_string(), 92)]);
    let declared = "trait T {\n    fn f(\n        a: u8,\n    ) -> u8;\n    fn g() {\n        h();\n    }\n}\n";
    assert_eq!(functions(declared), vec![("g".to_string(), 3)]);
    assert_eq!(over_limit(vec![("f".into(), 92)], 80).len(), 1);
    assert!(over_limit(vec![("f".into(), 80)], 80).is_empty());
}
