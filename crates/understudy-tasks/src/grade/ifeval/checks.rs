//! The 25 IFEval instruction checks, following the reference implementation's rules (Google's
//! `instructions.py`, as shipped with the prompts): same regular expressions, same thresholds.

use regex::{Regex, RegexBuilder};
use serde_json::{Map, Value};

use super::text;

/// The result of one check.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Pass,
    Fail,
    /// The instruction cannot be checked here (unknown type, unknown language, bad arguments).
    Unsupported(String),
}

impl From<bool> for Verdict {
    fn from(ok: bool) -> Self {
        if ok {
            Verdict::Pass
        } else {
            Verdict::Fail
        }
    }
}

type Args<'a> = &'a Map<String, Value>;

fn string<'a>(args: Args<'a>, key: &str) -> Result<&'a str, String> {
    args.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("missing string argument `{key}`"))
}

fn number(args: Args<'_>, key: &str) -> Result<usize, String> {
    args.get(key)
        .and_then(Value::as_u64)
        .map(|n| n as usize)
        .ok_or_else(|| format!("missing number argument `{key}`"))
}

fn strings(args: Args<'_>, key: &str) -> Result<Vec<String>, String> {
    args.get(key)
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .ok_or_else(|| format!("missing list argument `{key}`"))
}

/// "less than" → count < n; "at least" → count >= n.
fn relation(args: Args<'_>, key: &str, count: usize, n: usize) -> Result<bool, String> {
    match string(args, key)? {
        "less than" => Ok(count < n),
        "at least" => Ok(count >= n),
        other => Err(format!("unknown relation {other:?} in `{key}`")),
    }
}

fn regex(pattern: &str, case_insensitive: bool, multi_line: bool) -> Result<Regex, String> {
    RegexBuilder::new(pattern)
        .case_insensitive(case_insensitive)
        .multi_line(multi_line)
        .build()
        .or_else(|_| {
            RegexBuilder::new(&regex::escape(pattern))
                .case_insensitive(case_insensitive)
                .multi_line(multi_line)
                .build()
        })
        .map_err(|e| format!("bad pattern {pattern:?}: {e}"))
}

fn count(pattern: &str, value: &str) -> Result<usize, String> {
    Ok(regex(pattern, false, true)?.find_iter(value).count())
}

/// Checks `value` against instruction `id` with its `args`; `prompt` is the original prompt.
pub fn check(id: &str, args: Args<'_>, prompt: &str, value: &str) -> Verdict {
    match check_inner(id, args, prompt, value) {
        Ok(v) => v,
        Err(reason) => Verdict::Unsupported(format!("{id}: {reason}")),
    }
}

fn check_inner(id: &str, args: Args<'_>, prompt: &str, value: &str) -> Result<Verdict, String> {
    let _ = prompt;
    let (group, kind) = id.split_once(':').unwrap_or((id, ""));
    let ok = match group {
        "keywords" => keywords(kind, args, value)?,
        "language" => language(kind, args, value)?,
        "length_constraints" => length_constraints(kind, args, value)?,
        "detectable_content" => detectable_content(kind, args, value)?,
        "detectable_format" => detectable_format(kind, args, value)?,
        "combination" => combination(kind, args, value)?,
        "startend" => startend(kind, args, value)?,
        "change_case" => change_case(kind, args, value)?,
        "punctuation" => punctuation(kind, value)?,
        _ => return Err("unknown instruction type".into()),
    };
    Ok(ok.into())
}

/// Keywords present, counted, forbidden; one letter's frequency.
fn keywords(kind: &str, args: Args<'_>, value: &str) -> Result<bool, String> {
    Ok(match kind {
        "existence" => {
            let mut all = true;
            for keyword in strings(args, "keywords")? {
                all &= regex(&keyword, true, false)?.is_match(value);
            }
            all
        }
        "frequency" => {
            let keyword = string(args, "keyword")?.trim();
            let found = regex(keyword, true, false)?.find_iter(value).count();
            relation(args, "relation", found, number(args, "frequency")?)?
        }
        "forbidden_words" => {
            let mut none = true;
            for word in strings(args, "forbidden_words")? {
                none &= !regex(&format!(r"\b{word}\b"), true, false)?.is_match(value);
            }
            none
        }
        "letter_frequency" => {
            let letter = string(args, "letter")?.trim().to_lowercase();
            let mut chars = letter.chars();
            let (Some(wanted), None) = (chars.next(), chars.next()) else {
                return Err(format!("`letter` must be one letter, got {letter:?}"));
            };
            let found = value
                .to_lowercase()
                .chars()
                .filter(|c| *c == wanted)
                .count();
            relation(args, "let_relation", found, number(args, "let_frequency")?)?
        }
        _ => return Err("unknown instruction type".into()),
    })
}

/// The language the reply is written in.
fn language(kind: &str, args: Args<'_>, value: &str) -> Result<bool, String> {
    Ok(match kind {
        "response_language" => {
            let language = string(args, "language")?;
            if !text::language_supported(language) {
                return Err(format!("no detector for language {language:?}"));
            }
            // The reference passes text the detector cannot classify; so do we.
            text::detect_language(value).is_none_or(|l| l == language)
        }
        _ => return Err("unknown instruction type".into()),
    })
}

/// Sentences, paragraphs and words counted.
fn length_constraints(kind: &str, args: Args<'_>, value: &str) -> Result<bool, String> {
    Ok(match kind {
        "number_sentences" => relation(
            args,
            "relation",
            text::count_sentences(value),
            number(args, "num_sentences")?,
        )?,
        "number_paragraphs" => {
            let paragraphs: Vec<&str> =
                regex(r"\s?\*\*\*\s?", false, false)?.split(value).collect();
            let mut n = paragraphs.len();
            for (i, p) in paragraphs.iter().enumerate() {
                if p.trim().is_empty() {
                    if i == 0 || i == paragraphs.len() - 1 {
                        n -= 1;
                    } else {
                        return Ok(false);
                    }
                }
            }
            n == number(args, "num_paragraphs")?
        }
        "number_words" => relation(
            args,
            "relation",
            text::count_words(value),
            number(args, "num_words")?,
        )?,
        "nth_paragraph_first_word" => nth_paragraph_first_word(args, value)?,
        _ => return Err("unknown instruction type".into()),
    })
}

/// Placeholders and a postscript.
fn detectable_content(kind: &str, args: Args<'_>, value: &str) -> Result<bool, String> {
    Ok(match kind {
        "number_placeholders" => count(r"\[.*?\]", value)? >= number(args, "num_placeholders")?,
        "postscript" => {
            let marker = string(args, "postscript_marker")?;
            let pattern = match marker {
                "P.P.S" => r"\s*p\.\s?p\.\s?s.*$".to_string(),
                "P.S." => r"\s*p\.\s?s\..*$".to_string(),
                other => format!(r"\s*{}.*$", other.to_lowercase()),
            };
            regex(&pattern, false, true)?.is_match(&value.to_lowercase())
        }
        _ => return Err("unknown instruction type".into()),
    })
}

/// Bullets, a fixed answer, highlights, sections, JSON, a title.
fn detectable_format(kind: &str, args: Args<'_>, value: &str) -> Result<bool, String> {
    Ok(match kind {
        "number_bullet_lists" => {
            count(r"^\s*\*[^\*].*$", value)? + count(r"^\s*-.*$", value)?
                == number(args, "num_bullets")?
        }
        "constrained_response" => {
            let value = value.trim();
            [
                "My answer is yes.",
                "My answer is no.",
                "My answer is maybe.",
            ]
            .iter()
            .any(|option| value.contains(option))
        }
        "number_highlighted_sections" => {
            let single = regex(r"\*[^\n\*]*\*", false, false)?
                .find_iter(value)
                .filter(|m| !m.as_str().trim_matches('*').trim().is_empty())
                .count();
            let double = regex(r"\*\*[^\n\*]*\*\*", false, false)?
                .find_iter(value)
                .filter(|m| {
                    let s = m.as_str();
                    !s[2..s.len() - 2].trim().is_empty()
                })
                .count();
            single + double >= number(args, "num_highlights")?
        }
        "multiple_sections" => {
            let splitter = string(args, "section_spliter")?.trim();
            let found = regex(&format!(r"\s?{splitter}\s?\d+\s?"), false, false)?
                .find_iter(value)
                .count();
            found >= number(args, "num_sections")?
        }
        "json_format" => {
            let mut v = value.trim();
            for prefix in ["```json", "```Json", "```JSON", "```"] {
                if let Some(rest) = v.strip_prefix(prefix) {
                    v = rest;
                    break;
                }
            }
            let v = v.strip_suffix("```").unwrap_or(v).trim();
            serde_json::from_str::<Value>(v).is_ok()
        }
        "title" => regex(r"<<[^\n]+>>", false, false)?
            .find_iter(value)
            .any(|m| {
                !m.as_str()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .trim()
                    .is_empty()
            }),
        _ => return Err("unknown instruction type".into()),
    })
}

/// Two different replies; the prompt repeated first.
fn combination(kind: &str, args: Args<'_>, value: &str) -> Result<bool, String> {
    Ok(match kind {
        "two_responses" => {
            let parts: Vec<&str> = value.split("******").collect();
            let mut valid = Vec::new();
            for (i, part) in parts.iter().enumerate() {
                if part.trim().is_empty() {
                    if i != 0 && i != parts.len() - 1 {
                        return Ok(false);
                    }
                } else {
                    valid.push(part.trim());
                }
            }
            valid.len() == 2 && valid[0] != valid[1]
        }
        "repeat_prompt" => {
            let repeat = string(args, "prompt_to_repeat")?.trim().to_lowercase();
            value.trim().to_lowercase().starts_with(&repeat)
        }
        _ => return Err("unknown instruction type".into()),
    })
}

/// How the reply ends; whole in quotation marks.
fn startend(kind: &str, args: Args<'_>, value: &str) -> Result<bool, String> {
    Ok(match kind {
        "end_checker" => {
            let phrase = string(args, "end_phrase")?.trim().to_lowercase();
            value
                .trim()
                .trim_matches('"')
                .to_lowercase()
                .ends_with(&phrase)
        }
        "quotation" => {
            let v = value.trim();
            v.chars().count() > 1 && v.starts_with('"') && v.ends_with('"')
        }
        _ => return Err("unknown instruction type".into()),
    })
}

/// Capital words counted; all capitals or all lower case, in English.
fn change_case(kind: &str, args: Args<'_>, value: &str) -> Result<bool, String> {
    Ok(match kind {
        "capital_word_frequency" => {
            let found = text::word_tokens(value)
                .filter(|w| text::is_upper(w))
                .count();
            relation(
                args,
                "capital_relation",
                found,
                number(args, "capital_frequency")?,
            )?
        }
        "english_capital" => {
            text::is_upper(value) && text::detect_language(value).is_none_or(|l| l == "en")
        }
        "english_lowercase" => {
            text::is_lower(value) && text::detect_language(value).is_none_or(|l| l == "en")
        }
        _ => return Err("unknown instruction type".into()),
    })
}

/// No commas.
fn punctuation(kind: &str, value: &str) -> Result<bool, String> {
    Ok(match kind {
        "no_comma" => !value.contains(','),
        _ => return Err("unknown instruction type".into()),
    })
}

fn nth_paragraph_first_word(args: Args<'_>, value: &str) -> Result<bool, String> {
    let wanted_paragraphs = number(args, "num_paragraphs")?;
    let nth = number(args, "nth_paragraph")?;
    let first_word = string(args, "first_word")?.to_lowercase();
    let paragraphs: Vec<&str> = value.split("\n\n").collect();
    let n = paragraphs.iter().filter(|p| !p.trim().is_empty()).count();
    if nth == 0 || nth > n {
        return Ok(false);
    }
    let paragraph = paragraphs[nth - 1].trim();
    let Some(word) = paragraph.split_whitespace().next() else {
        return Ok(false);
    };
    let word = word.trim_start_matches('\'').trim_start_matches('"');
    let found: String = word
        .chars()
        .take_while(|c| !matches!(c, '.' | ',' | '?' | '!' | '\'' | '"'))
        .flat_map(char::to_lowercase)
        .collect();
    Ok(n == wanted_paragraphs && found == first_word)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn each_family_passes_and_fails() {
        let cases: &[(&str, Value, &str, bool)] = &[
            ("punctuation:no_comma", json!({}), "a, b", false),
            (
                "keywords:frequency",
                json!({"keyword": "cat", "frequency": 2, "relation": "at least"}),
                "Cat cat",
                true,
            ),
            (
                "keywords:forbidden_words",
                json!({"forbidden_words": ["bad"]}),
                "not badly",
                true,
            ),
            (
                "keywords:letter_frequency",
                json!({"letter": "z", "let_frequency": 2, "let_relation": "less than"}),
                "zz",
                false,
            ),
            (
                "length_constraints:number_words",
                json!({"num_words": 3, "relation": "less than"}),
                "one two",
                true,
            ),
            (
                "length_constraints:number_paragraphs",
                json!({"num_paragraphs": 2}),
                "a\n***\nb",
                true,
            ),
            (
                "length_constraints:number_paragraphs",
                json!({"num_paragraphs": 2}),
                "a\n***\n***\nb",
                false,
            ),
            (
                "detectable_content:number_placeholders",
                json!({"num_placeholders": 2}),
                "[name] at [address]",
                true,
            ),
            (
                "detectable_content:postscript",
                json!({"postscript_marker": "P.S."}),
                "Hi\nP.S. bye",
                true,
            ),
            (
                "detectable_content:postscript",
                json!({"postscript_marker": "P.P.S"}),
                "Hi\np. p. s more",
                true,
            ),
            (
                "detectable_format:number_bullet_lists",
                json!({"num_bullets": 2}),
                "* a\n* b",
                true,
            ),
            (
                "detectable_format:number_bullet_lists",
                json!({"num_bullets": 2}),
                "* a\n- b\n- c",
                false,
            ),
            (
                "detectable_format:number_highlighted_sections",
                json!({"num_highlights": 2}),
                "*a* and **b**",
                true,
            ),
            (
                "detectable_format:multiple_sections",
                json!({"section_spliter": "Section", "num_sections": 2}),
                "Section 1\nx\nSection 2\ny",
                true,
            ),
            (
                "detectable_format:json_format",
                json!({}),
                "```json\n{\"a\": 1}\n```",
                true,
            ),
            ("detectable_format:title", json!({}), "<<Poem>>\ntext", true),
            ("detectable_format:title", json!({}), "<< >>", false),
            (
                "detectable_format:constrained_response",
                json!({}),
                "My answer is no.",
                true,
            ),
            (
                "combination:two_responses",
                json!({}),
                "one\n******\ntwo",
                true,
            ),
            (
                "combination:two_responses",
                json!({}),
                "one\n******\none",
                false,
            ),
            (
                "combination:repeat_prompt",
                json!({"prompt_to_repeat": "Say hi."}),
                "say hi. Hi!",
                true,
            ),
            (
                "startend:end_checker",
                json!({"end_phrase": "Any questions?"}),
                "Done. any questions?\"",
                true,
            ),
            ("startend:quotation", json!({}), "\"quoted\"", true),
            (
                "change_case:capital_word_frequency",
                json!({"capital_frequency": 2, "capital_relation": "at least"}),
                "THE big DOG",
                true,
            ),
            (
                "change_case:english_capital",
                json!({}),
                "THIS IS ALL IN CAPITAL LETTERS AND IN ENGLISH.",
                true,
            ),
            (
                "change_case:english_lowercase",
                json!({}),
                "this is all lowercase english text about the sea.",
                true,
            ),
            (
                "change_case:english_lowercase",
                json!({}),
                "This is not.",
                false,
            ),
            (
                "language:response_language",
                json!({"language": "ru"}),
                "Это предложение написано на русском языке.",
                true,
            ),
            (
                "length_constraints:nth_paragraph_first_word",
                json!({"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "then"}),
                "First.\n\n\"Then, more.",
                true,
            ),
            (
                "length_constraints:number_sentences",
                json!({"num_sentences": 2, "relation": "at least"}),
                "One. Two.",
                true,
            ),
        ];
        for (id, a, value, expected) in cases {
            let verdict = check(id, &args(a.clone()), "prompt", value);
            assert_eq!(verdict, Verdict::from(*expected), "{id} on {value:?}");
        }
        assert!(matches!(
            check(
                "language:response_language",
                &args(json!({"language": "sw"})),
                "",
                "Habari"
            ),
            Verdict::Unsupported(_)
        ));
        assert!(matches!(
            check("keywords:frequency", &args(json!({})), "", "x"),
            Verdict::Unsupported(_)
        ));
    }
}
