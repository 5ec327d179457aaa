//! Turns a model's answer to a HumanEval-style prompt into a test program: the code is read from a
//! fenced block when there is one (preferring the block that defines the entry point), else the
//! raw answer; a full definition is appended after the prompt (so helpers and imports defined in
//! the prompt stay available), a body continues the prompt. The tests stay a separate piece: the
//! sandbox's harness runs them apart from the sample (see sandbox.rs).

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

/// What the sandbox runs: the sample's code and, for a graded sample, the tests that judge it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    /// The prompt and the sample's code: run first, in a namespace of its own.
    pub solution: String,
    /// The tests and the function `check()` is called with; `None` for a plain script, which
    /// passes by running to its end.
    pub check: Option<Check>,
}

/// The tests of a graded sample: `test` defines `check(candidate)`, called with `entry_point`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub test: String,
    pub entry_point: String,
}

impl Program {
    /// A plain script with no tests.
    pub fn script(code: impl Into<String>) -> Self {
        Self {
            solution: code.into(),
            check: None,
        }
    }
}

/// The program that runs the item's tests against the answer.
pub fn build_program(prompt: &str, answer: &str, test: &str, entry_point: &str) -> Program {
    let code = extract_code(answer, entry_point);
    let defines = format!("def {entry_point}(");
    let solution = if code.contains(&defines) {
        // Keep the prompt's imports and helpers; the stub gets a body so the prompt parses.
        format!("{prompt}    pass\n\n{code}\n")
    } else {
        format!("{prompt}{}\n", indent_body(&code))
    };
    Program {
        solution,
        check: Some(Check {
            test: test.to_string(),
            entry_point: entry_point.to_string(),
        }),
    }
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
        assert!(program
            .solution
            .contains("    pass\n\ndef add(a, b):\n    return a + b"));
        let check = program.check.unwrap();
        assert_eq!(check.entry_point, "add");
        assert!(check.test.starts_with("def check(f)"));
    }

    #[test]
    fn bodies_continue_the_prompt_and_unclosed_fences_count() {
        let program = build_program(PROMPT, "    return a + b\n", "", "add");
        assert!(program
            .solution
            .starts_with(&format!("{PROMPT}    return a + b")));
        assert_eq!(
            extract_code("```py\ndef add(a, b):\n    return 1", "add"),
            "def add(a, b):\n    return 1"
        );
        assert!(build_program(PROMPT, "return a + b", "", "add")
            .solution
            .contains("    return a + b"));
        let trimmed = "x = a\n    return x + b";
        assert!(build_program(PROMPT, trimmed, "", "add")
            .solution
            .contains("    x = a\n    return x + b"));
        let two = "```\nprint(1)\n```\n```python\ndef add(a,b):\n  return 0\n```";
        assert!(extract_code(two, "add").starts_with("def add"));
    }
}
