//! Redaction of captured traffic before anything is written: built-in rules for e-mail
//! addresses, phone numbers, API keys and card numbers, a profile's own regular expressions, and
//! JSON field paths whose whole value is replaced. Every replacement is counted by rule, so a
//! capture says what was taken out of it. It runs on the request path, so one pass of a set of
//! all the rules decides whether a string needs any (most do not), and word boundaries are
//! ASCII ones, which the regex crate's fast engines handle.

use std::collections::BTreeMap;

use regex::{Regex, RegexSet};
use serde_json::Value;

/// The built-in rules, by the name a profile lists them under.
pub const BUILT_IN: [&str; 4] = ["email", "phone", "api_key", "card"];

/// What a bad redaction setting is, naming it.
#[derive(Debug, thiserror::Error)]
pub enum RedactError {
    #[error("`redact` names {0:?}, not a built-in rule (email, phone, api_key, card)")]
    UnknownRule(String),
    #[error("`patterns[{index}]` ({pattern:?}) is not a regular expression: {why}")]
    BadPattern {
        index: usize,
        pattern: String,
        why: String,
    },
    #[error("`fields[{index}]` ({path:?}): {why}")]
    BadField {
        index: usize,
        path: String,
        why: String,
    },
}

/// A check a rule's match must pass to be replaced (a card number's Luhn digit).
type Check = fn(&str) -> bool;

/// One rule: what it finds, what it writes instead, and an optional check a match must pass.
#[derive(Debug)]
struct Rule {
    name: String,
    regex: Regex,
    replacement: String,
    check: Option<Check>,
}

/// A step of a field path: a key, or every element of an array (`[*]`) or one (`[2]`).
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Key(String),
    Every,
    Index(usize),
}

/// The redaction a profile's capture applies.
#[derive(Debug)]
pub struct Redactor {
    rules: Vec<Rule>,
    /// Every rule's pattern, for the one pass that says which rules a text needs.
    any: RegexSet,
    fields: Vec<Vec<Step>>,
}

/// Replacements made, by rule (`field` for field paths, `pattern` for a profile's own).
pub type Counts = BTreeMap<String, u64>;

impl Redactor {
    /// The built-in rules named in `built_in`, then `patterns`, then `fields` (dotted paths with
    /// `[*]` or `[N]` for arrays, as `messages[*].name` or `metadata.user_id`).
    pub fn new(
        built_in: &[String],
        patterns: &[String],
        fields: &[String],
    ) -> Result<Self, RedactError> {
        let mut rules = Vec::new();
        // Cards before phones: a card number also looks like a long phone number.
        for name in ["api_key", "email", "card", "phone"] {
            if built_in.iter().any(|b| b == name) {
                rules.push(built_in_rule(name));
            }
        }
        if let Some(unknown) = built_in.iter().find(|b| !BUILT_IN.contains(&b.as_str())) {
            return Err(RedactError::UnknownRule(unknown.clone()));
        }
        for (index, pattern) in patterns.iter().enumerate() {
            let regex = Regex::new(pattern).map_err(|e| RedactError::BadPattern {
                index,
                pattern: pattern.clone(),
                why: e.to_string(),
            })?;
            rules.push(Rule {
                name: "pattern".into(),
                regex,
                replacement: "[REDACTED]".into(),
                check: None,
            });
        }
        let fields = fields
            .iter()
            .enumerate()
            .map(|(index, path)| {
                parse_path(path).map_err(|why| RedactError::BadField {
                    index,
                    path: path.clone(),
                    why,
                })
            })
            .collect::<Result<_, _>>()?;
        let any = RegexSet::new(rules.iter().map(|r| r.regex.as_str()))
            .unwrap_or_else(|e| unreachable!("each pattern compiled alone: {e}"));
        Ok(Self { rules, any, fields })
    }

    /// Whether anything in the JSON text `raw` could need redacting: field paths are set, a
    /// rule matches the text as written, or it holds an escape (`\`), under which a match could
    /// hide. When this is false the text is stored as it came.
    pub fn may_change(&self, raw: &str) -> bool {
        !self.fields.is_empty() || raw.contains('\\') || self.any.is_match(raw)
    }

    /// Redacts `value` in place: field paths first (the whole value becomes `"[REDACTED]"`),
    /// then every rule over every string value left (keys are the API's names, not data).
    pub fn apply(&self, value: &mut Value, counts: &mut Counts) {
        for path in &self.fields {
            blank(value, path, counts);
        }
        if !self.rules.is_empty() {
            self.walk(value, counts);
        }
    }

    /// Redacts one text with the rules (no field paths apply to free text).
    pub fn text(&self, text: &str, counts: &mut Counts) -> String {
        let needed = self.any.matches(text);
        if !needed.matched_any() {
            return text.to_string();
        }
        let mut out = text.to_string();
        for (i, rule) in self.rules.iter().enumerate() {
            if !needed.matched(i) {
                continue;
            }
            let mut n = 0;
            let replaced = rule.regex.replace_all(&out, |c: &regex::Captures<'_>| {
                let found = &c[0];
                if rule.check.is_some_and(|check| !check(found)) {
                    return found.to_string();
                }
                n += 1;
                rule.replacement.clone()
            });
            let replaced = replaced.into_owned();
            if n > 0 {
                *counts.entry(rule.name.clone()).or_default() += n;
                out = replaced;
            }
        }
        out
    }

    fn walk(&self, value: &mut Value, counts: &mut Counts) {
        match value {
            Value::String(s) if self.any.is_match(s) => *s = self.text(s, counts),
            Value::Array(items) => items.iter_mut().for_each(|v| self.walk(v, counts)),
            Value::Object(map) => map.values_mut().for_each(|v| self.walk(v, counts)),
            _ => {}
        }
    }
}

fn built_in_rule(name: &str) -> Rule {
    let (pattern, replacement, check): (&str, &str, Option<Check>) = match name {
        "email" => (
            r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
            "[EMAIL]",
            None,
        ),
        "api_key" => (
            r"(?-u:\b)(?:sk-(?:proj-|ant-)?[A-Za-z0-9_-]{16,}|AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{30,}|xox[abprs]-[A-Za-z0-9-]{10,}|AIza[0-9A-Za-z_-]{35})|(?-u:\b)[Bb]earer[ \t]+[A-Za-z0-9._~+/-]{16,}=*",
            "[API_KEY]",
            None,
        ),
        "card" => (
            r"(?-u:\b)[0-9](?:[ -]?[0-9]){12,18}(?-u:\b)",
            "[CARD]",
            Some(luhn_valid),
        ),
        _ => (
            r"(?:\+[0-9]{1,3}[ .-]?(?:\([0-9]{1,4}\)[ .-]?)?[0-9]{1,4}(?:[ .-]?[0-9]{2,4}){1,4}|\([0-9]{3}\)[ .-]?[0-9]{3}[ .-][0-9]{4}|(?-u:\b)[0-9]{3}[ .-][0-9]{3}[ .-][0-9]{4})(?-u:\b)",
            "[PHONE]",
            Some(phone_digits),
        ),
    };
    Rule {
        name: name.to_string(),
        regex: Regex::new(pattern).unwrap_or_else(|e| unreachable!("built-in rule {name}: {e}")),
        replacement: replacement.to_string(),
        check,
    }
}

/// A card number passes the Luhn check (13 to 19 digits).
fn luhn_valid(found: &str) -> bool {
    let digits: Vec<u32> = found.chars().filter_map(|c| c.to_digit(10)).collect();
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| match i % 2 {
            1 if d * 2 > 9 => d * 2 - 9,
            1 => d * 2,
            _ => d,
        })
        .sum();
    sum.is_multiple_of(10)
}

/// A phone number has 7 to 15 digits (E.164's most).
fn phone_digits(found: &str) -> bool {
    (7..=15).contains(&found.chars().filter(char::is_ascii_digit).count())
}

fn parse_path(path: &str) -> Result<Vec<Step>, String> {
    let mut steps = Vec::new();
    for part in path.split('.') {
        let (key, mut rest) = match part.find('[') {
            Some(at) => (&part[..at], &part[at..]),
            None => (part, ""),
        };
        if key.is_empty() && (steps.is_empty() || rest.is_empty()) {
            return Err("an empty key (write `a.b`, `a[*].b` or `a[0]`)".into());
        }
        if !key.is_empty() {
            steps.push(Step::Key(key.to_string()));
        }
        while !rest.is_empty() {
            let close = rest
                .find(']')
                .ok_or_else(|| "a `[` without its `]`".to_string())?;
            let inside = &rest[1..close];
            steps.push(match inside {
                "*" => Step::Every,
                n => Step::Index(
                    n.parse()
                        .map_err(|_| format!("`[{n}]` is neither `[*]` nor an index"))?,
                ),
            });
            rest = &rest[close + 1..];
            if !rest.is_empty() && !rest.starts_with('[') {
                return Err(format!("{rest:?} after `]` (separate keys with `.`)"));
            }
        }
    }
    Ok(steps)
}

/// Replaces the value at `path` (every match of it) with `"[REDACTED]"`.
fn blank(value: &mut Value, path: &[Step], counts: &mut Counts) {
    let Some((step, rest)) = path.split_first() else {
        if !value.is_null() {
            *value = Value::String("[REDACTED]".into());
            *counts.entry("field".into()).or_default() += 1;
        }
        return;
    };
    match (step, value) {
        (Step::Key(key), Value::Object(map)) => {
            if let Some(v) = map.get_mut(key) {
                blank(v, rest, counts);
            }
        }
        (Step::Every, Value::Array(items)) => {
            items.iter_mut().for_each(|v| blank(v, rest, counts));
        }
        (Step::Index(i), Value::Array(items)) => {
            if let Some(v) = items.get_mut(*i) {
                blank(v, rest, counts);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Redactor {
        let names: Vec<String> = BUILT_IN.iter().map(|s| s.to_string()).collect();
        Redactor::new(&names, &[], &[]).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn built_in_rules_take_out_addresses_numbers_keys_and_cards() {
        let r = all();
        let mut counts = Counts::new();
        let text = "Mail jane.doe+x@mail.example.co.uk or call +1 415-555-0132, (212) 555-0199 \
                    or 030 1234 5678? Key sk-proj-AbCdEf0123456789xyz, Bearer abcdefghijklmnop1234. \
                    Card 4111 1111 1111 1111, order 1234567890123 and 2026-12-07, pi 3.14159.";
        let out = r.text(text, &mut counts);
        assert!(
            !out.contains("jane.doe") && out.contains("[EMAIL]"),
            "{out}"
        );
        assert!(
            !out.contains("415-555") && !out.contains("555-0199"),
            "{out}"
        );
        assert!(
            !out.contains("sk-proj") && !out.contains("abcdefghijklmnop"),
            "{out}"
        );
        assert!(!out.contains("4111") && out.contains("[CARD]"), "{out}");
        // A number that fails Luhn is no card; dates and decimals are no phones.
        assert!(
            out.contains("1234567890123") || out.contains("[PHONE]"),
            "{out}"
        );
        assert!(
            out.contains("2026-12-07") && out.contains("3.14159"),
            "{out}"
        );
        assert_eq!(counts["email"], 1);
        assert_eq!(counts["card"], 1);
        assert_eq!(counts["api_key"], 2);
        assert!(counts["phone"] >= 2, "{counts:?}");
    }

    #[test]
    fn fields_and_patterns_apply_to_json_and_bad_settings_are_named() {
        let r = Redactor::new(
            &[],
            &[r"ACME-\d+".into()],
            &["messages[*].name".into(), "metadata.user_id".into()],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let mut body = serde_json::json!({
            "messages": [{"role": "user", "name": "Jane", "content": "ticket ACME-42"},
                         {"role": "user", "content": "hi"}],
            "metadata": {"user_id": 7, "plan": "pro"}
        });
        let mut counts = Counts::new();
        r.apply(&mut body, &mut counts);
        assert_eq!(body["messages"][0]["name"], "[REDACTED]");
        assert_eq!(body["messages"][0]["content"], "ticket [REDACTED]");
        assert!(body["messages"][1].get("name").is_none());
        assert_eq!(body["metadata"]["user_id"], "[REDACTED]");
        assert_eq!(body["metadata"]["plan"], "pro");
        assert_eq!(counts["field"], 2);
        assert_eq!(counts["pattern"], 1);

        let err = |b: &[&str], p: &[&str], f: &[&str]| {
            let own = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
            Redactor::new(&own(b), &own(p), &own(f))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert!(err(&["ssn"], &[], &[]).contains("\"ssn\""));
        assert!(err(&[], &["ok", "(unclosed"], &[]).contains("`patterns[1]`"));
        assert!(err(&[], &[], &["a[x]"]).contains("`fields[0]`"));
        assert!(err(&[], &[], &["a..b"]).contains("empty key"));
    }
}
