//! Turns a model's answer to a HumanEval-style prompt into a test program: the code is read from a
//! fenced block when there is one (preferring the block that defines the entry point), else the
//! raw answer; a full definition is appended after the prompt (so helpers and imports defined in
//! the prompt stay available), a body continues the prompt.

use std::sync::OnceLock;

use regex::Regex;

fn fence_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?s)```[ \t]*(?:[A-Za-z0-9_+-]*)[ \t]*\r?\n(.*?)(?:```|\z)")
            .unwrap_or_else(|_| unreachable!())
    })
}

/// The code in `answer`: the fenced block defining `entry_point`, else the longest fenced block,
/// else the whole answer.
pub fn extract_code(answer: &str, entry_point: &str) -> String {
    let blocks: Vec<&str> = fence_re()
        .captures_iter(answer)
        .filter_map(|c| c.get(1).map(|m| m.as_str()))
        .collect();
    let defines = format!("def {entry_point}(");
    if let Some(block) = blocks.iter().find(|b| b.contains(&defines)) {
        return block.to_string();
    }
    if let Some(block) = blocks.iter().max_by_key(|b| b.len()) {
        return block.to_string();
    }
    answer.to_string()
}

/// A function body whose first line lost its indentation (a trimmed answer) or that was written
/// flush left gets the function's indentation back.
fn indent_body(code: &str) -> String {
    let mut lines = code.lines().skip_while(|l| l.trim().is_empty());
    let Some(first) = lines.next() else {
        return code.to_string();
    };
    if first.starts_with([' ', '\t']) {
        return code.to_string();
    }
    let rest: Vec<&str> = lines.collect();
    let rest_indented = rest
        .iter()
        .any(|l| !l.trim().is_empty() && l.starts_with([' ', '\t']));
    let mut out = format!("    {first}\n");
    for line in rest {
        if rest_indented || line.trim().is_empty() {
            out.push_str(line);
        } else {
            out.push_str("    ");
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// The program that runs the item's tests against the answer.
pub fn build_program(prompt: &str, answer: &str, test: &str, entry_point: &str) -> String {
    let code = extract_code(answer, entry_point);
    let defines = format!("def {entry_point}(");
    let solution = if code.contains(&defines) {
        // Keep the prompt's imports and helpers; the stub gets a body so the prompt parses.
        format!("{prompt}    pass\n\n{code}")
    } else {
        format!("{prompt}{}", indent_body(&code))
    };
    format!("{solution}\n\n{test}\n\ncheck({entry_point})\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROMPT: &str = "import math\n\ndef add(a, b):\n    \"\"\"Add.\"\"\"\n";

    #[test]
    fn fenced_full_definitions_follow_the_prompt() {
        let answer = "Here you go:\n```python\ndef add(a, b):\n    return a + b\n```\nDone.";
        let program = build_program(
            PROMPT,
            answer,
            "def check(f):\n    assert f(1, 2) == 3",
            "add",
        );
        assert!(program.contains("    pass\n\ndef add(a, b):\n    return a + b"));
        assert!(program.ends_with("check(add)\n"));
    }

    #[test]
    fn bodies_continue_the_prompt_and_unclosed_fences_count() {
        let program = build_program(PROMPT, "    return a + b\n", "", "add");
        assert!(program.starts_with(&format!("{PROMPT}    return a + b")));
        assert_eq!(
            extract_code("```py\ndef add(a, b):\n    return 1", "add"),
            "def add(a, b):\n    return 1"
        );
        assert!(build_program(PROMPT, "return a + b", "", "add").contains("    return a + b"));
        let trimmed = "x = a\n    return x + b";
        assert!(build_program(PROMPT, trimmed, "", "add").contains("    x = a\n    return x + b"));
        let two = "```\nprint(1)\n```\n```python\ndef add(a,b):\n  return 0\n```";
        assert!(extract_code(two, "add").starts_with("def add"));
    }
}
