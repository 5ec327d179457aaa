//! A crate's module graph at file level: one node per file, an edge to each module another file's
//! paths reach (re-exports followed to where the item lives; edges to a file's own ancestors left out,
//! since a child using what its parent declares is the natural direction).

use std::collections::{BTreeMap, BTreeSet};

use crate::paths::{paths_from, without_comments, NamedPath};
use crate::sources::SourceFile;

/// Module name (`crate` for the root, else `a::b`) → the modules it uses.
pub type Graph = BTreeMap<String, BTreeSet<String>>;

type Module = Vec<String>;

/// The crate's modules and what each re-exports: (module, name) → module the item lives in.
struct Modules {
    known: BTreeSet<Module>,
    reexports: BTreeMap<(Module, String), Module>,
}

/// A module's display name.
pub fn name(module: &[String]) -> String {
    if module.is_empty() {
        "crate".into()
    } else {
        module.join("::")
    }
}

impl Modules {
    fn new(files: &[SourceFile]) -> Self {
        let mut modules = Self {
            known: files.iter().map(|f| f.module.clone()).collect(),
            reexports: BTreeMap::new(),
        };
        let mut found = BTreeMap::new();
        for file in files {
            let code = without_comments(&file.code);
            for statement in reexport_statements(&code) {
                for path in paths_from(statement, &modules.heads(&file.module)) {
                    let Some((item, within)) = path.segments.split_last() else {
                        continue;
                    };
                    let item = path.alias.clone().unwrap_or_else(|| item.clone());
                    if item == "self" || item == "*" || within.is_empty() {
                        continue;
                    }
                    let target = modules.walk(&file.module, within, false);
                    found.insert((file.module.clone(), item), target);
                }
            }
        }
        modules.reexports = found;
        modules
    }

    /// The heads a file's paths into this crate start with: `crate`, `super`, `self` and its children.
    fn heads(&self, module: &[String]) -> Vec<&str> {
        let mut heads = vec!["crate", "super", "self"];
        heads.extend(
            self.known
                .iter()
                .filter(|m| m.len() == module.len() + 1 && m.starts_with(module))
                .map(|m| m[module.len()].as_str()),
        );
        heads
    }

    /// The deepest module `segments` name from `from`, following re-exports when asked.
    fn walk(&self, from: &[String], segments: &[String], follow: bool) -> Module {
        let mut at: Module = match segments[0].as_str() {
            "crate" => Vec::new(),
            "self" => from.to_vec(),
            "super" => from[..from.len().saturating_sub(1)].to_vec(),
            child => [from, &[child.to_string()]].concat(),
        };
        for segment in &segments[1..] {
            match segment.as_str() {
                "super" => {
                    at.pop();
                }
                "self" => {}
                name => {
                    let deeper = [at.as_slice(), &[name.to_string()]].concat();
                    if self.known.contains(&deeper) {
                        at = deeper;
                    } else {
                        if follow {
                            at = self.reexported(at, name);
                        }
                        break;
                    }
                }
            }
        }
        at
    }

    /// Where `name`, used from `module`, really lives (re-exports followed, a few hops at most).
    fn reexported(&self, mut module: Module, name: &str) -> Module {
        for _ in 0..8 {
            match self.reexports.get(&(module.clone(), name.to_string())) {
                Some(target) if *target != module => module = target.clone(),
                _ => break,
            }
        }
        module
    }
}

/// The text of each `pub use …;` statement.
fn reexport_statements(code: &str) -> Vec<&str> {
    let mut found = Vec::new();
    for opening in ["pub use ", "pub(crate) use ", "pub(super) use "] {
        for (at, _) in code.match_indices(opening) {
            let rest = &code[at + opening.len()..];
            found.push(&rest[..rest.find(';').unwrap_or(rest.len())]);
        }
    }
    found
}

/// The file-level module graph of one crate.
pub fn graph(files: &[SourceFile]) -> Graph {
    let modules = Modules::new(files);
    let mut graph = Graph::new();
    for file in files {
        let code = without_comments(&file.code);
        let uses = graph.entry(name(&file.module)).or_default();
        for NamedPath { segments, .. } in paths_from(&code, &modules.heads(&file.module)) {
            let target = modules.walk(&file.module, &segments, true);
            if !file.module.starts_with(&target) {
                uses.insert(name(&target));
            }
        }
    }
    graph
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    pub(crate) fn files(sources: &[(&str, &str)]) -> Vec<SourceFile> {
        sources
            .iter()
            .map(|(path, code)| SourceFile::new(Path::new(path), code))
            .collect()
    }

    fn edges(graph: &Graph, from: &str) -> Vec<String> {
        graph[from].iter().cloned().collect()
    }

    #[test]
    fn sibling_files_in_one_folder_are_nodes_of_their_own() {
        let graph = graph(&files(&[
            ("lib.rs", "mod embedded;"),
            (
                "embedded/mod.rs",
                "mod engine; mod prompt; pub use engine::Engine;",
            ),
            ("embedded/engine.rs", "use super::prompt::{facts, Facts};"),
            (
                "embedded/prompt.rs",
                "use super::engine::BATCH_SIZE; use super::Thing;",
            ),
        ]));
        assert_eq!(edges(&graph, "embedded::engine"), ["embedded::prompt"]);
        // `super::Thing` is the parent's own item: an ancestor, left out.
        assert_eq!(edges(&graph, "embedded::prompt"), ["embedded::engine"]);
        assert_eq!(edges(&graph, "embedded"), ["embedded::engine"]);
    }

    #[test]
    fn reexports_are_followed_to_where_the_item_lives() {
        let graph = graph(&files(&[
            ("lib.rs", "pub use plan::Plan; pub use runner::run;"),
            (
                "plan.rs",
                "// uses crate::runner in a comment only\nfn f() {}",
            ),
            ("runner/mod.rs", "mod execute; pub use execute::run;"),
            ("runner/execute.rs", "use crate::Plan;"),
            ("report.rs", "use crate::{run, plan::Plan as P};"),
        ]));
        assert_eq!(edges(&graph, "runner::execute"), ["plan"]);
        assert_eq!(edges(&graph, "report"), ["plan", "runner::execute"]);
        assert!(graph["plan"].is_empty());
    }
}
