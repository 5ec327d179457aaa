//! Reads a model's answer for each answer kind and scores it against the gold value. An answer
//! that cannot be read is wrong and is also counted as a format failure.

use regex::Regex;
use understudy_prompt::contract::normalise;
pub use understudy_prompt::contract::{first_number, last_number};
use understudy_prompt::Input;

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

/// The part of a chain-of-thought answer after the last final-answer marker (any case); the
/// whole text when there is no marker. The one splitter, shared with the gateway.
pub fn final_answer(text: &str) -> &str {
    understudy_prompt::cot::answer(text)
}

/// Scores `answer` for `item` under `spec`; `cot` answers are read after the final-answer marker.
pub fn score(spec: &AnswerSpec, item: &Item, answer: &str, cot: bool) -> Scored {
    let text = if cot {
        final_answer(answer)
    } else {
        answer.trim()
    };
    // Read as the gateway reads it: the contract's extractor on the input as sent.
    let input = Input::parse(&crate::strategy::input(item).text());
    let parsed = crate::strategy::contract(spec).extract(text, &input);
    match spec {
        AnswerSpec::Label { .. } | AnswerSpec::Choice { .. } => {
            let correct = parsed.as_deref() == Some(item.target.as_str());
            Scored { parsed, correct }
        }
        AnswerSpec::Number { tolerance } => {
            let value = parsed.as_deref().and_then(|v| v.parse::<f64>().ok());
            let gold = item.target.parse::<f64>().ok();
            let correct = match (value, gold) {
                (Some(v), Some(g)) => (v - g).abs() <= *tolerance * g.abs().max(1.0),
                _ => false,
            };
            Scored { parsed, correct }
        }
        AnswerSpec::Exact => {
            let correct = normalise(text) == normalise(&item.target);
            Scored { parsed, correct }
        }
        AnswerSpec::Json => {
            let value = |text: &str| serde_json::from_str::<serde_json::Value>(text).ok();
            let answer = parsed.as_deref().and_then(value);
            let correct = answer.is_some() && answer == value(&item.target);
            Scored { parsed, correct }
        }
        AnswerSpec::Regex { pattern, .. } => {
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
        | AnswerSpec::Judge { .. }
        | AnswerSpec::Command(_)
        | AnswerSpec::ToolCalls(_)
        | AnswerSpec::Reference(_)
        | AnswerSpec::Structured(_) => Scored {
            parsed: None,
            correct: false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn json_answers_are_compared_as_values() {
        let item = item(r#"{"name": "Ada", "year": 1843}"#, &[]);
        let right = score(
            &AnswerSpec::Json,
            &item,
            "```json\n{\"year\": 1843, \"name\": \"Ada\"}\n```",
            false,
        );
        assert!(right.correct);
        let wrong = score(
            &AnswerSpec::Json,
            &item,
            r#"{"name": "Ada", "year": 1842}"#,
            false,
        );
        assert!(!wrong.correct && !wrong.format_failure());
        let broken = score(&AnswerSpec::Json, &item, "name: Ada", false);
        assert!(!broken.correct && broken.format_failure());
    }

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
