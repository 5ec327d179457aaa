//! The paths a piece of Rust code names from given heads (`crate::a::b`, `super::x`, a child
//! module's `c::d`), with every leaf of a grouped `use` spelled out (`crate::{a::B, c::{d, e as f}}`).

/// One named path: its segments from the head on, and the name it is brought in as (`as f`).
#[derive(Debug, PartialEq, Eq, Clone)]
pub struct NamedPath {
    pub segments: Vec<String>,
    pub alias: Option<String>,
}

/// The code with `//` comments (doc comments too) removed, line by line.
pub fn without_comments(code: &str) -> String {
    code.lines()
        .map(|line| {
            let comment = line
                .match_indices("//")
                .map(|(at, _)| at)
                .find(|at| !inside_string(&line[..*at]));
            &line[..comment.unwrap_or(line.len())]
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether an odd number of unescaped quotes precede (so a `//` here sits inside a string).
fn inside_string(before: &str) -> bool {
    let quotes = before.matches('"').count() - before.matches("\\\"").count();
    quotes % 2 == 1
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Every path that starts with one of `heads` as a whole word followed by `::`.
pub fn paths_from(code: &str, heads: &[&str]) -> Vec<NamedPath> {
    let bytes = code.as_bytes();
    let mut out = Vec::new();
    for head in heads {
        let needle = format!("{head}::");
        for (at, _) in code.match_indices(&needle) {
            let before = at.checked_sub(1).map(|b| bytes[b]);
            if before.is_some_and(|c| is_ident(c) || c == b':') {
                continue;
            }
            let mut i = at;
            parse(bytes, &mut i, Vec::new(), &mut out);
        }
    }
    out
}

fn skip_space(s: &[u8], i: &mut usize) {
    while *i < s.len() && s[*i].is_ascii_whitespace() {
        *i += 1;
    }
}

fn ident(s: &[u8], i: &mut usize) -> String {
    let start = *i;
    while *i < s.len() && is_ident(s[*i]) {
        *i += 1;
    }
    String::from_utf8_lossy(&s[start..*i]).into_owned()
}

/// A path, or a `{…}` group of paths, after `prefix`.
fn parse(s: &[u8], i: &mut usize, prefix: Vec<String>, out: &mut Vec<NamedPath>) {
    skip_space(s, i);
    match s.get(*i) {
        Some(b'{') => {
            *i += 1;
            loop {
                skip_space(s, i);
                if s.get(*i).is_none_or(|c| *c == b'}') {
                    *i += 1;
                    return;
                }
                parse(s, i, prefix.clone(), out);
                skip_space(s, i);
                match s.get(*i) {
                    Some(b',') => *i += 1,
                    Some(b'}') => {
                        *i += 1;
                        return;
                    }
                    _ => return,
                }
            }
        }
        Some(b'*') => {
            *i += 1;
            out.push(NamedPath {
                segments: prefix,
                alias: Some("*".into()),
            });
        }
        _ => {
            let name = ident(s, i);
            if name.is_empty() {
                if !prefix.is_empty() {
                    out.push(NamedPath {
                        segments: prefix,
                        alias: None,
                    });
                }
                return;
            }
            let mut segments = prefix;
            segments.push(name);
            if s[*i..].starts_with(b"::") {
                *i += 2;
                return parse(s, i, segments, out);
            }
            let mut j = *i;
            skip_space(s, &mut j);
            let alias = if s[j..].starts_with(b"as ") {
                j += 3;
                skip_space(s, &mut j);
                *i = j;
                Some(ident(s, i))
            } else {
                None
            };
            out.push(NamedPath { segments, alias });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(code: &str, heads: &[&str]) -> Vec<String> {
        paths_from(code, heads)
            .into_iter()
            .map(|p| {
                let mut s = p.segments.join("::");
                if let Some(a) = p.alias {
                    s.push_str(&format!(" as {a}"));
                }
                s
            })
            .collect()
    }

    #[test]
    fn grouped_uses_are_spelled_out() {
        let code = "use crate::{plan::Plan, runner::{self, work::Work as W},\n    task};\nlet x = crate::grade::x();";
        assert_eq!(
            leaves(code, &["crate"]),
            [
                "crate::plan::Plan",
                "crate::runner::self",
                "crate::runner::work::Work as W",
                "crate::task",
                "crate::grade::x"
            ]
        );
    }

    #[test]
    fn heads_are_whole_words() {
        let code =
            "use super::super::a::B; my_super::x(); other::super::y; engine::run(); reengine::z();";
        assert_eq!(
            leaves(code, &["super", "engine"]),
            ["super::super::a::B", "engine::run"]
        );
    }

    #[test]
    fn comments_are_not_code() {
        let code = "//! uses crate::a\nlet s = \"http://x\"; // crate::b\nuse crate::c;";
        assert_eq!(leaves(&without_comments(code), &["crate"]), ["crate::c"]);
    }
}
