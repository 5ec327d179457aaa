//! Errors in TOML files as a user needs them: the file and line, the dotted key, and what was
//! expected in words ("a whole number of 0 or more", not "usize"), for tables checked after the
//! file was parsed (`[eval]`, `[serve]`, `[profiles.*]`) as much as for whole files.

use std::path::Path;

/// Where an error is: `key` (dotted, as serde_path_to_error prints it) under the table
/// `prefix`, or the table itself when serde had no key (`.` at the root).
pub fn place(prefix: &str, key: &str) -> String {
    match (prefix.is_empty(), key.is_empty() || key == ".") {
        (true, true) => "the top-level table".into(),
        (true, false) => format!("key `{key}`"),
        (false, true) => format!("table `{prefix}`"),
        (false, false) => format!("key `{prefix}.{key}`"),
    }
}

/// The line of the dotted `key` in TOML `text` (the key's value, or its table's header); for
/// a key the file lacks, the line of its nearest enclosing table.
pub fn line_of_key(text: &str, key: &str) -> Option<usize> {
    let doc = toml_edit::ImDocument::parse(text).ok()?;
    let mut span = None;
    let mut table = Some(doc.as_table());
    for part in key.split('.').filter(|p| !p.is_empty() && *p != "?") {
        let Some(item) = table.and_then(|t| t.get(part)) else {
            break;
        };
        span = item.span().or(span);
        table = item.as_table();
    }
    let start = span?.start.min(text.len());
    Some(text[..start].matches('\n').count() + 1)
}

/// serde's message in the words of a config file: Rust type names become what to write, and
/// the trailing "in `key`" the TOML error adds (the key is named separately) is dropped.
pub fn in_words(message: &str) -> String {
    let message = message.trim_end();
    let message = match message.rsplit_once("\nin `") {
        Some((head, _)) => head.trim_end(),
        None => message,
    };
    let mut out = message.to_string();
    for (rust, words) in [
        ("usize", "a whole number of 0 or more"),
        ("u64", "a whole number of 0 or more"),
        ("u32", "a whole number of 0 or more"),
        ("u16", "a whole number of 0 or more"),
        ("u8", "a whole number of 0 or more"),
        ("i64", "a whole number"),
        ("i32", "a whole number"),
        ("f64", "a number"),
        ("f32", "a number"),
        ("a map", "a table"),
        ("a sequence", "a list"),
        ("a boolean", "true or false"),
    ] {
        let from = format!("expected {rust}");
        if out.ends_with(&from) {
            out.truncate(out.len() - from.len());
            out.push_str(&format!("expected {words}"));
        }
    }
    out
}

/// "FILE:LINE: key `K`: MESSAGE" for an error at `key` under `prefix` of the file at `path`
/// (read again for the line; without a readable file, no line).
pub fn describe(path: &Path, prefix: &str, key: &str, message: &str) -> String {
    let full = if prefix.is_empty() {
        key.to_string()
    } else if key.is_empty() || key == "." {
        prefix.to_string()
    } else {
        format!("{prefix}.{key}")
    };
    let line = std::fs::read_to_string(path)
        .ok()
        .and_then(|text| line_of_key(&text, &full));
    format!(
        "{}{}: {}: {}",
        path.display(),
        line.map(|l| format!(":{l}")).unwrap_or_default(),
        place(prefix, key),
        in_words(message)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# top\n[eval]\nlimit = 5\nsamples = 1.5\n\n[profiles.x]\nmodel = \"m\"\ntemperature = \"hot\"\n";

    #[test]
    fn keys_are_found_on_their_lines() {
        assert_eq!(line_of_key(TEXT, "eval.samples"), Some(4));
        assert_eq!(line_of_key(TEXT, "profiles.x.temperature"), Some(8));
        // A key the file lacks: its table's header.
        assert_eq!(line_of_key(TEXT, "profiles.x.model_path"), Some(6));
        assert_eq!(line_of_key(TEXT, "nothing"), None);
    }

    #[test]
    fn messages_name_what_to_write() {
        assert_eq!(
            in_words("invalid type: floating point `1.5`, expected usize\nin `samples`\n"),
            "invalid type: floating point `1.5`, expected a whole number of 0 or more"
        );
        assert_eq!(
            in_words("invalid type: string \"hot\", expected f32"),
            "invalid type: string \"hot\", expected a number"
        );
        assert_eq!(place("", "."), "the top-level table");
        assert_eq!(place("eval", ""), "table `eval`");
        assert_eq!(place("eval", "limit"), "key `eval.limit`");
    }
}
