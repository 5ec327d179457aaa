//! The answer contract: what an answer must be (a label, an option letter, a number, or free
//! text), how the prompt says so, and the one extractor that reads it — eval scores what it
//! returns, and a gateway profile with a contract answers with it.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::input::Input;

/// What an answer must be.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AnswerContract {
    /// One label from a fixed set; answers may use synonyms.
    Label {
        labels: Vec<String>,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        synonyms: BTreeMap<String, Vec<String>>,
    },
    /// The letter of one of the input's options.
    Choice,
    /// A number: the last one in the answer.
    Number,
    /// A JSON document (code fences around it are allowed and dropped).
    Json,
    /// Free text; `describe` says what it should look like, in words, for the prompt.
    Free { describe: String },
}

impl AnswerContract {
    /// What the answer must look like, in words ("exactly one of: positive, negative").
    pub fn describe(&self, input: &Input) -> String {
        match self {
            Self::Label { labels, .. } => format!("exactly one of: {}", labels.join(", ")),
            Self::Choice => {
                let letters: Vec<String> =
                    input.options.iter().map(|(l, _)| l.to_string()).collect();
                format!(
                    "only the letter of the correct option ({})",
                    letters.join(", ")
                )
            }
            Self::Number => "only the final number".to_string(),
            Self::Json => "only a JSON object, nothing else".to_string(),
            Self::Free { describe } => describe.clone(),
        }
    }

    /// Reads the answer from `text` (already past any chain of thought): the label, the option
    /// letter, the number as written by Rust's `f64` display, the JSON document as written, or
    /// the trimmed text. `None` when
    /// nothing usable is there (a format failure).
    pub fn extract(&self, text: &str, input: &Input) -> Option<String> {
        let text = text.trim();
        match self {
            Self::Label { labels, synonyms } => read_label(text, labels, synonyms),
            Self::Choice => read_choice(text, &input.options),
            Self::Number => last_number(text).map(|v| v.to_string()),
            Self::Json => read_json(text),
            Self::Free { .. } => (!text.is_empty()).then(|| text.to_string()),
        }
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

/// The last number in `text` (answers may show working first).
pub fn last_number(text: &str) -> Option<f64> {
    number_re()
        .find_iter(text)
        .filter_map(|m| parse_number(m.as_str()))
        .last()
}

/// Lowercase words separated by single spaces, punctuation dropped.
pub fn normalise(text: &str) -> String {
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
    synonyms: &BTreeMap<String, Vec<String>>,
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
            // A letter first, after at most one "=", ":", ">" or "-" (a model that writes its
            // answer field as "= B").
            r"^(?:[=:>-]\s*)?\(?([A-J])\)?(?:[.:)]|\s|$)",
            r"(?i)answer\s*(?:is|:)?\s*:?\s*\(?([A-J])\b",
            r"(?i)option\s*\(?([A-J])\b",
            r"^\**\(?([A-J])\)?\**$",
        ]
        .iter()
        .filter_map(|p| Regex::new(p).ok())
        .collect()
    })
}

/// The JSON document in `text`, with a Markdown code fence around it dropped; None when it does
/// not parse.
fn read_json(text: &str) -> Option<String> {
    let unfenced = match text
        .strip_prefix("```")
        .and_then(|rest| rest.strip_suffix("```"))
    {
        // The fence's language tag (`json`) is a word before the document.
        Some(inner) => match inner.trim().split_once(char::is_whitespace) {
            Some((tag, body)) if tag.chars().all(|c| c.is_ascii_alphanumeric()) => body,
            _ => inner,
        },
        None => text,
    }
    .trim();
    serde_json::from_str::<serde_json::Value>(unfenced)
        .ok()
        .map(|_| unfenced.to_string())
}

fn read_choice(text: &str, options: &[(char, String)]) -> Option<String> {
    let valid = |c: char| options.iter().any(|(l, _)| *l == c);
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
    let named: Vec<char> = options
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_answers_are_read_with_or_without_a_fence() {
        let input = Input::default();
        let json = AnswerContract::Json;
        assert_eq!(
            json.extract(" {\"a\": 1} ", &input).as_deref(),
            Some("{\"a\": 1}")
        );
        assert_eq!(
            json.extract("```json\n{\"a\": [1, 2]}\n```", &input)
                .as_deref(),
            Some("{\"a\": [1, 2]}")
        );
        assert_eq!(
            json.extract("```\n[1]\n```", &input).as_deref(),
            Some("[1]")
        );
        assert_eq!(json.extract("{\"a\": 1", &input), None);
        assert_eq!(json.extract("Sure! {\"a\": 1}", &input), None);
        let back: AnswerContract = serde_json::from_str(r#"{"kind":"json"}"#).unwrap();
        assert_eq!(back, AnswerContract::Json);
    }

    fn labels() -> AnswerContract {
        let mut synonyms = BTreeMap::new();
        synonyms.insert("positive".to_string(), vec!["good".to_string()]);
        AnswerContract::Label {
            labels: vec!["positive".into(), "negative".into()],
            synonyms,
        }
    }

    #[test]
    fn labels_are_normalised_and_ambiguity_reads_nothing() {
        let none = Input::default();
        let read = |t: &str| labels().extract(t, &none);
        assert_eq!(read("Positive.").as_deref(), Some("positive"));
        assert_eq!(
            read("The sentiment is POSITIVE!").as_deref(),
            Some("positive")
        );
        assert_eq!(read("good").as_deref(), Some("positive"));
        assert_eq!(read("positive and negative"), None);
        assert_eq!(read("I cannot tell"), None);
    }

    #[test]
    fn choices_accept_letters_and_option_text() {
        let input = Input::new(
            "q",
            vec![
                ('A', "3 lines".into()),
                ('B', "9 lines".into()),
                ('C', "5 lines".into()),
            ],
        );
        for answer in [
            "B",
            "B.",
            "(B)",
            "B) 9 lines",
            "The answer is B",
            "Answer: (B)",
            "= B",
            ": (B)",
            "9 lines",
        ] {
            assert_eq!(
                AnswerContract::Choice.extract(answer, &input).as_deref(),
                Some("B"),
                "{answer}"
            );
        }
        assert_eq!(AnswerContract::Choice.extract("I think so", &input), None);
        assert_eq!(
            AnswerContract::Choice.describe(&input),
            "only the letter of the correct option (A, B, C)"
        );
    }

    #[test]
    fn numbers_take_the_last_one() {
        let none = Input::default();
        assert_eq!(
            AnswerContract::Number
                .extract("6 + 9 = 15", &none)
                .as_deref(),
            Some("15")
        );
        assert_eq!(
            AnswerContract::Number
                .extract("1,5 no: 15.5", &none)
                .as_deref(),
            Some("15.5")
        );
        assert_eq!(AnswerContract::Number.extract("no idea", &none), None);
        assert_eq!(first_number("9 apples"), Some(9.0));
        assert_eq!(last_number("-3 and 1,200"), Some(1200.0));
    }
}
