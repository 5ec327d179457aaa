//! Reads a model's answer for each answer kind and scores it against the gold value. An answer
//! that cannot be read is wrong and is also counted as a format failure.

use std::sync::OnceLock;

use regex::Regex;

use crate::strategy::FINAL_ANSWER_MARKER;
use crate::task::{AnswerSpec, Item};

/// The outcome of scoring one answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    /// What was read from the answer (`None`: nothing usable — a format failure).
    pub parsed: Option<String>,
    pub correct: bool,
}

impl Scored {
    pub fn format_failure(&self) -> bool {
        self.parsed.is_none()
    }
}

fn number_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+").unwrap_or_else(|_| unreachable!())
    })
}

fn parse_number(text: &str) -> Option<f64> {
    text.replace(',', "").parse().ok()
}

/// The first number in `text` (used for gold values like "9 apples").
pub fn first_number(text: &str) -> Option<f64> {
    number_re()
        .find_iter(text)
        .find_map(|m| parse_number(m.as_str()))
}

/// The last number in `text` (used for answers, which may show working first).
pub fn last_number(text: &str) -> Option<f64> {
    number_re()
        .find_iter(text)
        .filter_map(|m| parse_number(m.as_str()))
        .last()
}

/// The part of a chain-of-thought answer after the last final-answer marker; the whole text when
/// there is no marker.
pub fn final_answer(text: &str) -> &str {
    let lower = text.to_lowercase();
    let marker = FINAL_ANSWER_MARKER.to_lowercase();
    match lower.rfind(&marker) {
        // Lowercasing can change byte lengths; fall back to the whole text if it did.
        Some(at) if lower.len() == text.len() => text[at + marker.len()..].trim(),
        _ => text.trim(),
    }
}

fn normalise(text: &str) -> String {
    text.to_lowercase()
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn contains_word(haystack: &str, needle: &str) -> bool {
    format!(" {haystack} ").contains(&format!(" {needle} "))
}

fn read_label(
    answer: &str,
    labels: &[String],
    synonyms: &std::collections::BTreeMap<String, Vec<String>>,
) -> Option<String> {
    let text = normalise(answer);
    let names = |label: &String| -> Vec<String> {
        let mut all = vec![normalise(label)];
        if let Some(extra) = synonyms.get(label) {
            all.extend(extra.iter().map(|s| normalise(s)));
        }
        all
    };
    // Exact match first, then exactly one label mentioned as a word.
    for label in labels {
        if names(label).contains(&text) {
            return Some(label.clone());
        }
    }
    let mentioned: Vec<&String> = labels
        .iter()
        .filter(|label| names(label).iter().any(|n| contains_word(&text, n)))
        .collect();
    match mentioned.as_slice() {
        [one] => Some((*one).clone()),
        _ => None,
    }
}

fn letter_patterns() -> &'static [Regex] {
    static RES: OnceLock<Vec<Regex>> = OnceLock::new();
    RES.get_or_init(|| {
        [
            r"^\(?([A-J])\)?(?:[.:)]|\s|$)",
            r"(?i)answer\s*(?:is|:)?\s*:?\s*\(?([A-J])\b",
            r"(?i)option\s*\(?([A-J])\b",
            r"^\**\(?([A-J])\)?\**$",
        ]
        .iter()
        .filter_map(|p| Regex::new(p).ok())
        .collect()
    })
}

fn read_choice(answer: &str, item: &Item) -> Option<String> {
    let text = answer.trim();
    let valid = |c: char| item.options.iter().any(|(l, _)| *l == c);
    for re in letter_patterns() {
        if let Some(letter) = re
            .captures(text)
            .and_then(|c| c.get(1))
            .and_then(|m| m.as_str().chars().next())
        {
            if valid(letter) {
                return Some(letter.to_string());
            }
        }
    }
    // No letter: accept the answer if it names exactly one option's text.
    let norm = normalise(text);
    let named: Vec<char> = item
        .options
        .iter()
        .filter(|(_, t)| {
            let t = normalise(t);
            !t.is_empty() && (norm == t || contains_word(&norm, &t))
        })
        .map(|(l, _)| *l)
        .collect();
    match named.as_slice() {
        [one] => Some(one.to_string()),
        _ => None,
    }
}

/// Scores `answer` for `item` under `spec`; `cot` answers are read after the final-answer marker.
pub fn score(spec: &AnswerSpec, item: &Item, answer: &str, cot: bool) -> Scored {
    let text = if cot {
        final_answer(answer)
    } else {
        answer.trim()
    };
    match spec {
        AnswerSpec::Label {
            labels, synonyms, ..
        } => {
            let parsed = read_label(text, labels, synonyms);
            let correct = parsed.as_deref() == Some(item.target.as_str());
            Scored { parsed, correct }
        }
        AnswerSpec::Choice { .. } => {
            let parsed = read_choice(text, item);
            let correct = parsed.as_deref() == Some(item.target.as_str());
            Scored { parsed, correct }
        }
        AnswerSpec::Number { tolerance } => {
            let value = last_number(text);
            let gold = item.target.parse::<f64>().ok();
            let correct = match (value, gold) {
                (Some(v), Some(g)) => (v - g).abs() <= *tolerance * g.abs().max(1.0),
                _ => false,
            };
            Scored {
                parsed: value.map(|v| v.to_string()),
                correct,
            }
        }
        AnswerSpec::Exact => {
            let parsed = (!text.is_empty()).then(|| text.to_string());
            let correct = normalise(text) == normalise(&item.target);
            Scored { parsed, correct }
        }
        AnswerSpec::Regex { pattern, .. } => {
            let parsed = (!text.is_empty()).then(|| text.to_string());
            let correct = Regex::new(pattern)
                .map(|re| re.is_match(text))
                .unwrap_or(false);
            Scored { parsed, correct }
        }
        // Graded in `grade` (sandbox, IFEval, ROUGE, judge); nothing to read here.
        AnswerSpec::Code { .. }
        | AnswerSpec::Ifeval
        | AnswerSpec::Rules { .. }
        | AnswerSpec::Rouge
        | AnswerSpec::Judge { .. } => Scored {
            parsed: None,
            correct: false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn item(target: &str, options: &[(char, &str)]) -> Item {
        Item {
            id: "x".into(),
            line: 1,
            question: "q".into(),
            target: target.into(),
            options: options.iter().map(|(l, t)| (*l, t.to_string())).collect(),
            ..Item::default()
        }
    }

    fn label_spec() -> AnswerSpec {
        let mut synonyms = BTreeMap::new();
        synonyms.insert("positive".to_string(), vec!["good".to_string()]);
        AnswerSpec::Label {
            labels: vec!["positive".into(), "negative".into()],
            target_map: BTreeMap::new(),
            synonyms,
        }
    }

    #[test]
    fn labels_are_normalised_and_ambiguity_is_a_format_failure() {
        let it = item("positive", &[]);
        assert!(score(&label_spec(), &it, "Positive.", false).correct);
        assert!(score(&label_spec(), &it, "The sentiment is POSITIVE!", false).correct);
        assert!(score(&label_spec(), &it, "good", false).correct);
        let both = score(&label_spec(), &it, "positive and negative", false);
        assert!(both.format_failure() && !both.correct);
        assert!(score(&label_spec(), &it, "I cannot tell", false).format_failure());
        let wrong = score(&label_spec(), &it, "negative", false);
        assert!(!wrong.correct && !wrong.format_failure());
    }

    #[test]
    fn choices_accept_letters_and_option_text() {
        let it = item("B", &[('A', "3 lines"), ('B', "9 lines"), ('C', "5 lines")]);
        let spec = AnswerSpec::Choice {
            options: String::new(),
        };
        for answer in [
            "B",
            "B.",
            "(B)",
            "B) 9 lines",
            "The answer is B",
            "Answer: (B)",
            "9 lines",
        ] {
            assert!(score(&spec, &it, answer, false).correct, "{answer}");
        }
        assert!(score(&spec, &it, "I think so", false).format_failure());
        assert!(!score(&spec, &it, "A", false).correct);
    }

    #[test]
    fn numbers_take_the_last_one_and_cot_reads_after_the_marker() {
        let it = item("15", &[]);
        let spec = AnswerSpec::Number { tolerance: 1e-6 };
        assert!(score(&spec, &it, "6 + 9 = 15", false).correct);
        assert!(score(&spec, &it, "1,5 no: 15.0", false).correct);
        assert!(
            score(
                &spec,
                &it,
                "Marin has 9, so 9+6.\nFinal answer: 15 balls",
                true
            )
            .correct
        );
        assert!(score(&spec, &it, "no idea", false).format_failure());
        assert_eq!(first_number("9 apples"), Some(9.0));
        assert_eq!(last_number("-3 and 1,200"), Some(1200.0));
    }
}
