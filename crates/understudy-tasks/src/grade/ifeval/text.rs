//! Text measures the IFEval checks share: words, sentences, Python's `isupper`/`islower`, and
//! language identification (whatlang, mapped to the ISO 639-1 codes IFEval uses).

use std::sync::OnceLock;

use regex::Regex;

fn word_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"\w+").unwrap_or_else(|_| unreachable!()))
}

fn sentence_end_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r#"[.?!]+["'”’)\]]*\s+\S"#).unwrap_or_else(|_| unreachable!()))
}

/// Words as the reference counts them (`\w+` runs).
pub fn count_words(text: &str) -> usize {
    word_re().find_iter(text).count()
}

/// Sentences: breaks after `.`, `?` or `!` (with closing quotes or brackets) followed by
/// whitespace and more text — what an untrained Punkt tokenizer does.
pub fn count_sentences(text: &str) -> usize {
    if text.trim().is_empty() {
        return 0;
    }
    sentence_end_re().find_iter(text).count() + 1
}

/// Word tokens for the capital-word count: `\w+` runs, with `'` contractions kept apart.
pub fn word_tokens(text: &str) -> impl Iterator<Item = &str> {
    word_re().find_iter(text).map(|m| m.as_str())
}

/// Python's `str.isupper`: at least one cased character and no lowercase one.
pub fn is_upper(text: &str) -> bool {
    text.chars().any(|c| c.is_uppercase()) && !text.chars().any(|c| c.is_lowercase())
}

/// Python's `str.islower`: at least one cased character and no uppercase one.
pub fn is_lower(text: &str) -> bool {
    text.chars().any(|c| c.is_lowercase()) && !text.chars().any(|c| c.is_uppercase())
}

/// ISO 639-1 for whatlang's ISO 639-3 codes (the languages both know).
const LANGUAGES: &[(&str, &str)] = &[
    ("afr", "af"),
    ("aka", "ak"),
    ("amh", "am"),
    ("ara", "ar"),
    ("aze", "az"),
    ("bel", "be"),
    ("ben", "bn"),
    ("bul", "bg"),
    ("cat", "ca"),
    ("ces", "cs"),
    ("cmn", "zh"),
    ("dan", "da"),
    ("deu", "de"),
    ("ell", "el"),
    ("eng", "en"),
    ("epo", "eo"),
    ("est", "et"),
    ("fin", "fi"),
    ("fra", "fr"),
    ("guj", "gu"),
    ("heb", "he"),
    ("hin", "hi"),
    ("hrv", "hr"),
    ("hun", "hu"),
    ("hye", "hy"),
    ("ind", "id"),
    ("ita", "it"),
    ("jav", "jv"),
    ("jpn", "ja"),
    ("kan", "kn"),
    ("kat", "ka"),
    ("khm", "km"),
    ("kor", "ko"),
    ("lat", "la"),
    ("lav", "lv"),
    ("lit", "lt"),
    ("mal", "ml"),
    ("mar", "mr"),
    ("mkd", "mk"),
    ("mya", "my"),
    ("nep", "ne"),
    ("nld", "nl"),
    ("nob", "no"),
    ("ori", "or"),
    ("pan", "pa"),
    ("pes", "fa"),
    ("pol", "pl"),
    ("por", "pt"),
    ("ron", "ro"),
    ("rus", "ru"),
    ("sin", "si"),
    ("slk", "sk"),
    ("slv", "sl"),
    ("sna", "sn"),
    ("spa", "es"),
    ("srp", "sr"),
    ("swe", "sv"),
    ("tam", "ta"),
    ("tel", "te"),
    ("tgl", "tl"),
    ("tha", "th"),
    ("tuk", "tk"),
    ("tur", "tr"),
    ("ukr", "uk"),
    ("urd", "ur"),
    ("uzb", "uz"),
    ("vie", "vi"),
    ("yid", "yi"),
    ("zul", "zu"),
];

/// Whether `code` (ISO 639-1) is a language the detector knows.
pub fn language_supported(code: &str) -> bool {
    LANGUAGES.iter().any(|(_, two)| *two == code)
}

/// The detected language as ISO 639-1, or `None` when the text gives no signal.
pub fn detect_language(text: &str) -> Option<&'static str> {
    let info = whatlang::detect(text)?;
    let three = info.lang().code();
    LANGUAGES
        .iter()
        .find(|(t, _)| *t == three)
        .map(|(_, two)| *two)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_cases_behave_like_the_reference() {
        assert_eq!(count_words("Hello, world! It's 2024."), 5);
        assert_eq!(count_sentences("One. Two? Three!\"  Four"), 4);
        assert_eq!(count_sentences("Pi is 3.14 exactly."), 1);
        assert!(is_upper("HELLO, 123") && !is_upper("123"));
        assert!(is_lower("hello, 123") && !is_lower("Hello"));
        assert_eq!(
            detect_language("This is clearly an English sentence about the weather."),
            Some("en")
        );
        assert_eq!(
            detect_language("Это предложение написано на русском языке."),
            Some("ru")
        );
        assert!(!language_supported("sw"));
    }
}
