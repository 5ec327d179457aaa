//! ROUGE agrees with Google's `rouge-score` 0.1.2 within 0.001 on 72 pairs (fixture written by
//! scripts/reference/rouge_fixture.py from XSum summaries, article leads and edge cases).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use understudy_tasks::grade::rouge::rouge;

#[test]
fn rouge_matches_the_rouge_score_package() {
    let text = include_str!("../fixtures/rouge.jsonl");
    let mut checked = 0;
    let mut worst: f64 = 0.0;
    for line in text.lines() {
        let row: serde_json::Value = serde_json::from_str(line).unwrap();
        let ours = rouge(
            row["target"].as_str().unwrap(),
            row["prediction"].as_str().unwrap(),
        );
        for (key, value) in [
            ("rouge1", ours.rouge1.fmeasure),
            ("rouge2", ours.rouge2.fmeasure),
            ("rougeL", ours.rouge_l.fmeasure),
        ] {
            let reference = row[key].as_f64().unwrap();
            let diff = (value - reference).abs();
            worst = worst.max(diff);
            assert!(diff < 1e-3, "{key} {value} vs {reference} on {line}");
        }
        checked += 1;
    }
    assert!(checked >= 50, "only {checked} pairs");
    assert!(worst < 1e-9, "largest difference {worst}");
}
