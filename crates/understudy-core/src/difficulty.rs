//! The `thinking = "auto"` difficulty signal: does a request ask for multi-step work? Cheap by
//! design (no model call). Matching is on whole words and word sequences, never substrings
//! ("decode" is not "code", "zip code" is not a coding task); a cue ending in `*` matches words
//! that start with it ("optimi*": optimize, optimise, optimization).
//!
//! The rule, as docs/concepts/techniques.md states it: a request that asks for a rewrite or a classification
//! (translate, summarise, rephrase, proofread, classify, label, sentiment…) never thinks, whatever
//! numbers it holds; otherwise it thinks on one strong cue (prove, derive, solve, implement, debug,
//! step by step…), on two weak cues (why, how many, compare, sql, average…), on one weak cue with a
//! number, or on three numbers. Measured on a labelled set in tests/thinking_auto.rs.

use crate::message::Role;
use crate::request::ChatRequest;

/// Asking for these (in the first words of the request, or `sentiment` anywhere) is a rewrite or
/// a classification: no thinking.
const REWRITE_OR_CLASSIFY: &[&str] = &[
    "classify",
    "categorize",
    "categorise",
    "label",
    "translate",
    "summarize",
    "summarise",
    "rewrite",
    "rephrase",
    "paraphrase",
    "proofread",
    "fix the grammar",
    "shorten",
    "capitalize",
    "capitalise",
    "extract",
    "detect the language",
    "turn this into",
    "convert this sentence",
];

/// How many leading words the rewrite/classification intent is looked for in.
const INTENT_WORDS: usize = 6;

/// One of these alone asks for multi-step work.
const STRONG: &[&str] = &[
    "prove",
    "derive",
    "derivative",
    "solve",
    "calculat*",
    "comput*",
    "estimate",
    "implement",
    "debug",
    "refactor",
    "optimi*",
    "algorithm",
    "complexity",
    "design",
    "plan",
    "schedule",
    "itinerary",
    "probability",
    "justify",
    "trace",
    "step by step",
    "walk me through",
    "explain why",
    "show the working",
    "show your work",
    "work out",
    "determine whether",
];

/// Two of these, or one with a number, ask for multi-step work.
const WEAK: &[&str] = &[
    "why",
    "how many",
    "how much",
    "how long",
    "how old",
    "total",
    "sum",
    "percent",
    "average",
    "median",
    "equation",
    "area",
    "perimeter",
    "twice",
    "ratio",
    "prime",
    "minimum",
    "maximum",
    "number of",
    "compare",
    "difference between",
    "which is larger",
    "which is faster",
    "what would happen",
    "reason",
    "reasoning",
    "explain",
    "function",
    "query",
    "sql",
    "regex",
    "script",
    "expected value",
];

/// The lower-cased words of `text` (letters, digits and apostrophes).
fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// Whether the word sequence `cue` occurs in `words` (a trailing `*` on a cue word matches any
/// word starting with it).
fn has(words: &[String], cue: &str) -> bool {
    let cue: Vec<&str> = cue.split(' ').collect();
    let matches = |word: &str, pattern: &str| match pattern.strip_suffix('*') {
        Some(stem) => word.starts_with(stem),
        None => word == pattern,
    };
    words
        .windows(cue.len())
        .any(|window| window.iter().zip(&cue).all(|(w, p)| matches(w, p)))
}

/// Whether `text` (a user turn) asks for multi-step work.
pub fn text_looks_hard(text: &str) -> bool {
    let all = words(text);
    let lead = &all[..all.len().min(INTENT_WORDS)];
    if REWRITE_OR_CLASSIFY.iter().any(|cue| has(lead, cue)) || has(&all, "sentiment") {
        return false;
    }
    let numbers = text
        .split(|c: char| !c.is_ascii_digit() && c != '.')
        .filter(|t| t.chars().any(|c| c.is_ascii_digit()))
        .count();
    let strong = STRONG.iter().filter(|cue| has(&all, cue)).count();
    let weak = WEAK.iter().filter(|cue| has(&all, cue)).count();
    strong >= 1 || weak >= 2 || (weak >= 1 && numbers >= 1) || numbers >= 3
}

/// Whether the request's last user turn asks for multi-step work.
pub fn looks_hard(request: &ChatRequest) -> bool {
    request
        .messages
        .iter()
        .rev()
        .find(|m| m.role == Role::User)
        .is_some_and(|m| text_looks_hard(&m.content))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cues_are_words_not_substrings() {
        assert!(!text_looks_hard("Decode this base64 string: aGVsbG8="));
        assert!(!text_looks_hard("What is the zip code of the White House?"));
        assert!(text_looks_hard("Optimise this loop for speed."));
        assert!(text_looks_hard("Walk me through the proof."));
    }

    #[test]
    fn rewrites_and_classifications_never_think() {
        assert!(!text_looks_hard(
            "Translate into German: I have 3 cats, 2 dogs and 5 fish."
        ));
        assert!(!text_looks_hard(
            "Classify these reviews: 1) great, 2) awful, 3) fine."
        ));
        assert!(text_looks_hard("What is 12 plus 30 minus 7?"));
    }
}
