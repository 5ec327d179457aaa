//! File and function limits: no file over 400 lines of code (blank and comment lines not
//! counted), no function over 80 lines except data tables named here.

use crate::sources::SourceFile;

pub const MAX_FILE_LINES: usize = 400;
pub const MAX_FUNCTION_LINES: usize = 80;

/// Functions that are data tables (one entry per line), allowed past the function limit.
pub const DATA_TABLES: &[&str] = &["understudy-models/src/catalog.rs::known_models"];

/// Lines of code: not blank, not a comment.
pub fn code_lines(code: &str) -> usize {
    code.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("//"))
        .count()
}

/// (name, lines) of each function in rustfmt-formatted code: from `fn` to the closing brace at
/// the same indentation.
pub fn functions(code: &str) -> Vec<(String, usize)> {
    let lines: Vec<&str> = code.lines().collect();
    let mut found = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        let qualifiers = [
            "pub(crate) ",
            "pub(super) ",
            "pub ",
            "async ",
            "const ",
            "unsafe ",
        ];
        let signature = qualifiers
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

/// Each file and function of a crate over its limit, as a line.
pub fn over_limits(krate: &str, files: &[SourceFile]) -> Vec<String> {
    let mut problems = Vec::new();
    for file in files {
        let path = format!("{krate}/src/{}", file.relative.display());
        let lines = code_lines(&file.code);
        if lines > MAX_FILE_LINES {
            problems.push(format!(
                "{path}: {lines} lines (limit {MAX_FILE_LINES}); split it by job"
            ));
        }
        for (name, n) in functions(&file.code) {
            let key = format!("{path}::{name}");
            if n > MAX_FUNCTION_LINES && !DATA_TABLES.contains(&key.as_str()) {
                problems.push(format!(
                    "{key}: {n} lines (limit {MAX_FUNCTION_LINES}); split it by job"
                ));
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn long_functions_and_files_are_named() {
        let long = format!("fn big() {{\n{}}}\n", "    x();\n".repeat(90));
        assert_eq!(functions(&long), vec![("big".to_string(), 92)]);
        let declared = "trait T {\n    fn f(\n        a: u8,\n    ) -> u8;\n    fn g() {\n        h();\n    }\n}\n";
        assert_eq!(functions(declared), vec![("g".to_string(), 3)]);
        let file = SourceFile::new(Path::new("big.rs"), &long);
        assert_eq!(over_limits("c", &[file]).len(), 1);
        let file = SourceFile::new(Path::new("f.rs"), &"// note\n\nx();\n".repeat(401));
        assert_eq!(code_lines(&file.code), 401);
        assert_eq!(over_limits("c", &[file]).len(), 1);
    }
}
