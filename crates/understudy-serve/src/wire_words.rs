//! serde's messages about a request body in the client's words: JSON types instead of Rust
//! ones, and no parser positions.

/// Drops serde_json's " at line 1 column 87".
pub(crate) fn without_position(text: &str) -> String {
    match text.rfind(" at line ") {
        Some(i) if text[i..].contains(" column ") => text[..i].to_string(),
        _ => text.to_string(),
    }
}

/// Rust type names in serde's messages, in JSON words.
pub(crate) fn json_words(text: &str) -> String {
    let mut out = text.to_string();
    for (rust, json) in [
        ("expected f32", "expected a number"),
        ("expected f64", "expected a number"),
        ("expected u32", "expected a whole number ≥ 0"),
        ("expected u64", "expected a whole number ≥ 0"),
        ("expected usize", "expected a whole number ≥ 0"),
        ("expected a sequence", "expected a list"),
        ("expected a boolean", "expected true or false"),
        (
            "expected struct WireMessage",
            "expected a {\"role\", \"content\"} object",
        ),
        ("expected struct StreamOptions", "expected an object"),
        ("expected struct Extension", "expected an object"),
        ("expected struct TemplateKwargs", "expected an object"),
        ("expected struct JsonSchemaSpec", "expected an object"),
        ("expected struct WireRequest", "expected an object"),
        (
            "expected struct Part",
            "expected a {\"type\", \"text\"} object",
        ),
        (
            "expected internally tagged enum WireResponseFormat",
            "expected {\"type\": \"text\" | \"json_object\" | \"json_schema\"}",
        ),
        (
            "did not match any variant of untagged enum Content",
            "expected a string or a list of text parts",
        ),
        (
            "did not match any variant of untagged enum Stop",
            "expected a string or a list of strings",
        ),
        ("invalid value: integer", "invalid value"),
        ("invalid type: ", "got "),
    ] {
        out = out.replace(rust, json);
    }
    out
}
