//! Checkable rules for a reply (the system-prompt-retention study's): how it must begin and end.
//! Case is ignored, and so are markdown marks, quotes and spaces around the reply, so `**Answer:**`
//! keeps "begin with Answer:".

use serde::Deserialize;

/// One rule; exactly one of its keys is set.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub starts_with: Option<String>,
    pub ends_with: Option<String>,
}

/// Lower-cased, with markdown emphasis, quotes and backticks dropped and the ends trimmed.
fn plain(text: &str) -> String {
    text.chars()
        .filter(|c| !matches!(c, '*' | '_' | '`' | '"' | '\u{201c}' | '\u{201d}'))
        .collect::<String>()
        .trim()
        .to_lowercase()
}

impl Rule {
    pub fn check(&self) -> Result<(), String> {
        match (&self.starts_with, &self.ends_with) {
            (Some(s), None) | (None, Some(s)) if !s.trim().is_empty() => Ok(()),
            _ => Err("set exactly one of `starts_with` or `ends_with`, not empty".into()),
        }
    }

    /// Whether `reply` keeps this rule.
    pub fn kept(&self, reply: &str) -> bool {
        let reply = plain(reply);
        if let Some(start) = &self.starts_with {
            return reply.starts_with(&plain(start));
        }
        if let Some(end) = &self.ends_with {
            let end = plain(end);
            let end = end.trim_end_matches(|c: char| c.is_ascii_punctuation());
            return reply
                .trim_end_matches(|c: char| c.is_ascii_punctuation() || c.is_whitespace())
                .ends_with(end);
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_forgive_case_and_markdown_but_not_absence() {
        let start = Rule {
            starts_with: Some("Answer:".into()),
            ends_with: None,
        };
        let end = Rule {
            starts_with: None,
            ends_with: Some("Over and out.".into()),
        };
        assert!(start.kept("**Answer:** 4817"));
        assert!(start.kept("  answer: 4817"));
        assert!(!start.kept("The answer: 4817"));
        assert!(end.kept("4817. Over and out!"));
        assert!(end.kept("4817. over and out"));
        assert!(!end.kept("Over and out. The code is 4817."));
        assert!(Rule {
            starts_with: None,
            ends_with: None
        }
        .check()
        .is_err());
    }
}
