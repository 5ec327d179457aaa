//! Module circles: the strongly connected components of a graph with more than one node (Tarjan).

use std::collections::{BTreeMap, BTreeSet};

use crate::modules::Graph;

struct Search<'g> {
    graph: &'g Graph,
    index: BTreeMap<&'g str, usize>,
    low: BTreeMap<&'g str, usize>,
    stack: Vec<&'g str>,
    on_stack: BTreeSet<&'g str>,
    found: Vec<Vec<String>>,
}

impl<'g> Search<'g> {
    fn visit(&mut self, v: &'g str) {
        let i = self.index.len();
        self.index.insert(v, i);
        self.low.insert(v, i);
        self.stack.push(v);
        self.on_stack.insert(v);
        for w in &self.graph[v] {
            let Some((w, _)) = self.graph.get_key_value(w) else {
                continue;
            };
            let w = w.as_str();
            if !self.index.contains_key(w) {
                self.visit(w);
                let low = self.low[v].min(self.low[w]);
                self.low.insert(v, low);
            } else if self.on_stack.contains(w) {
                let low = self.low[v].min(self.index[w]);
                self.low.insert(v, low);
            }
        }
        if self.low[v] == self.index[v] {
            let mut component = Vec::new();
            while let Some(w) = self.stack.pop() {
                self.on_stack.remove(w);
                component.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                self.found.push(component);
            }
        }
    }
}

/// Each circle, its modules in name order.
pub fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    let mut search = Search {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !search.index.contains_key(v.as_str()) {
            search.visit(v);
        }
    }
    search.found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::graph;
    use crate::sources::SourceFile;
    use std::path::Path;

    #[test]
    fn a_two_file_circle_in_one_folder_is_found() {
        let files: Vec<SourceFile> = [
            ("lib.rs", "mod commands;"),
            ("commands/mod.rs", "pub mod eval; pub mod memory;"),
            ("commands/eval.rs", "use super::memory::embedder;"),
            (
                "commands/memory.rs",
                "fn f() { super::eval::resolve_plan(); }",
            ),
            ("commands/chat.rs", "use super::memory::embedder;"),
        ]
        .iter()
        .map(|(p, c)| SourceFile::new(Path::new(p), c))
        .collect();
        assert_eq!(
            cycles(&graph(&files)),
            vec![vec![
                "commands::eval".to_string(),
                "commands::memory".into()
            ]]
        );
    }

    #[test]
    fn a_line_is_not_a_circle() {
        let mut g = Graph::new();
        g.insert("a".into(), BTreeSet::from(["b".into()]));
        g.insert("b".into(), BTreeSet::from(["c".into()]));
        g.insert("c".into(), BTreeSet::new());
        assert!(cycles(&g).is_empty());
    }
}
