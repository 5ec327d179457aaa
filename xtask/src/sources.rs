//! Reading each crate's `src/` files as (module path, code without its test module).

use std::path::{Path, PathBuf};

/// One source file: its module path (`[]` for the crate root), where it lives, and its code.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub module: Vec<String>,
    pub relative: PathBuf,
    pub code: String,
}

impl SourceFile {
    /// A file from its path under `src/` and its whole text (the test module is cut off).
    pub fn new(relative: &Path, text: &str) -> Self {
        let code = match text.find("\n#[cfg(test)]\nmod tests") {
            Some(at) => &text[..at],
            None => text,
        };
        Self {
            module: module_path(relative),
            relative: relative.to_path_buf(),
            code: code.to_string(),
        }
    }
}

/// A crate: its folder name and its source files.
#[derive(Debug)]
pub struct Crate {
    pub name: String,
    pub files: Vec<SourceFile>,
    /// The workspace crates its `[dependencies]` name (dev-dependencies left out).
    pub dependencies: Vec<String>,
}

/// The `understudy-*` names in a manifest's `[dependencies]` table.
pub fn workspace_dependencies(manifest: &str) -> Vec<String> {
    let mut inside = false;
    let mut found = Vec::new();
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            inside = line == "[dependencies]";
        } else if inside && line.starts_with("understudy-") {
            let name: String = line
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '-')
                .collect();
            found.push(name);
        }
    }
    found
}

/// `lib.rs`/`main.rs` → `[]`, `a.rs` → `[a]`, `a/mod.rs` → `[a]`, `a/b.rs` → `[a, b]`.
pub fn module_path(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative
        .components()
        .map(|c| {
            c.as_os_str()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_string()
        })
        .collect();
    if parts.last().is_some_and(|last| last == "mod") {
        parts.pop();
    }
    if parts.len() == 1 && (parts[0] == "lib" || parts[0] == "main") {
        parts.clear();
    }
    parts
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            rust_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// Every crate under `crates_dir` that has a `src/`, in name order.
pub fn read_crates(crates_dir: &Path) -> std::io::Result<Vec<Crate>> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(crates_dir)?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("src").is_dir())
        .collect();
    dirs.sort();
    let mut crates = Vec::new();
    for dir in dirs {
        let src = dir.join("src");
        let mut paths = Vec::new();
        rust_files(&src, &mut paths)?;
        paths.sort();
        let mut files = Vec::new();
        for path in paths {
            let text = std::fs::read_to_string(&path)?;
            let relative = path.strip_prefix(&src).unwrap_or(&path);
            files.push(SourceFile::new(relative, &text));
        }
        let name = dir.file_name().map(|n| n.to_string_lossy().to_string());
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap_or_default();
        crates.push(Crate {
            name: name.unwrap_or_default(),
            files,
            dependencies: workspace_dependencies(&manifest),
        });
    }
    Ok(crates)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_become_module_paths() {
        let path = |p: &str| module_path(Path::new(p));
        assert!(path("lib.rs").is_empty());
        assert!(path("main.rs").is_empty());
        assert_eq!(path("plan.rs"), ["plan"]);
        assert_eq!(path("runner/mod.rs"), ["runner"]);
        assert_eq!(path("runner/answer.rs"), ["runner", "answer"]);
        assert_eq!(path("a/lib.rs"), ["a", "lib"]);
    }

    #[test]
    fn only_normal_dependencies_count() {
        let manifest = "[dependencies]\nunderstudy-core.workspace = true\nserde = \"1\"\nunderstudy-eval = { workspace = true }\n\n[dev-dependencies]\nunderstudy-backend = { workspace = true }\n";
        assert_eq!(
            workspace_dependencies(manifest),
            ["understudy-core", "understudy-eval"]
        );
    }
}
