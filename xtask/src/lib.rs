//! The workspace's shape as data: each crate's files as modules, the paths between them, and the
//! rules they must keep (`tidy`).

pub mod cycles;
pub mod lengths;
pub mod modules;
pub mod paths;
pub mod rules;
pub mod sources;

use std::path::Path;

/// Every problem in the crates under `crates_dir`, one line each (empty when the shape holds).
pub fn tidy(crates_dir: &Path) -> std::io::Result<Vec<String>> {
    let crates = sources::read_crates(crates_dir)?;
    let mut problems = Vec::new();
    for krate in &crates {
        let graph = modules::graph(&krate.files);
        for circle in cycles::cycles(&graph) {
            problems.push(format!(
                "{}: module circle {}",
                krate.name,
                circle.join(" ↔ ")
            ));
        }
        problems.extend(rules::broken(&krate.name, &graph));
        problems.extend(rules::forbidden_dependencies(
            &krate.name,
            &krate.dependencies,
        ));
        problems.extend(lengths::over_limits(&krate.name, &krate.files));
    }
    Ok(problems)
}

/// The workspace's `crates/` folder, found from the manifest directory cargo gives the running
/// process (`cargo run`, `cargo test`), falling back to the one compiled in: a build cached from
/// another checkout must check this checkout, not the one it was compiled in.
pub fn crates_dir() -> std::path::PathBuf {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest.join("../crates")
}
