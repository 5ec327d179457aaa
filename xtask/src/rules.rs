//! The "never" rules: which crates may not depend on which, and folders whose files may not use
//! each other (a CLI command imports shared setup and output modules, never another command).

use crate::modules::Graph;

/// (crate, crates it must never depend on, why).
pub const NEVER_DEPENDS: &[(&str, &[&str], &str)] = &[
    (
        "understudy-report",
        &["understudy-eval", "understudy-serve"],
        "the read side reads the store, not the runner or the gateway",
    ),
    (
        "understudy-view",
        &["understudy-eval", "understudy-serve"],
        "the web UI reads the store, not the runner or the gateway",
    ),
    (
        "understudy-serve",
        &["understudy-eval", "understudy-tasks", "understudy-report"],
        "the gateway depends on no eval stage",
    ),
];

/// (crate, folder module) whose files never use one another.
pub const SIBLINGS_APART: &[(&str, &str)] = &[("understudy-cli", "commands")];

/// A broken crate dependency rule, as a line.
pub fn forbidden_dependencies(krate: &str, dependencies: &[String]) -> Vec<String> {
    NEVER_DEPENDS
        .iter()
        .filter(|(name, _, _)| *name == krate)
        .flat_map(|(_, never, why)| {
            never
                .iter()
                .filter(|n| dependencies.iter().any(|d| d == *n))
                .map(move |n| format!("{krate}: depends on {n} ({why})"))
        })
        .collect()
}

/// Each use of one sibling by another inside a folder that keeps its files apart, as a line.
pub fn broken(krate: &str, graph: &Graph) -> Vec<String> {
    let mut problems = Vec::new();
    for (_, folder) in SIBLINGS_APART.iter().filter(|(k, _)| *k == krate) {
        let prefix = format!("{folder}::");
        let top = |m: &str| -> Option<String> {
            let rest = m.strip_prefix(&prefix)?;
            Some(rest.split("::").next().unwrap_or(rest).to_string())
        };
        for (from, uses) in graph {
            let Some(from_top) = top(from) else {
                continue;
            };
            for to in uses {
                if top(to).is_some_and(|t| t != from_top) {
                    problems.push(format!(
                        "{krate}: {from} uses {to} (files in {folder}/ use shared modules, never each other)"
                    ));
                }
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn a_command_using_another_is_named() {
        let mut g = Graph::new();
        g.insert(
            "commands::study".into(),
            BTreeSet::from(["commands::eval".into(), "setup".into()]),
        );
        g.insert("commands::eval".into(), BTreeSet::from(["output".into()]));
        let found = broken("understudy-cli", &g);
        assert_eq!(found.len(), 1);
        assert!(found[0].contains("commands::study uses commands::eval"));
        assert!(broken("understudy-eval", &g).is_empty());
    }

    #[test]
    fn a_forbidden_dependency_is_named() {
        let deps = vec!["understudy-core".to_string(), "understudy-eval".to_string()];
        assert_eq!(forbidden_dependencies("understudy-report", &deps).len(), 1);
        assert!(forbidden_dependencies("understudy-tune", &deps).is_empty());
    }
}
