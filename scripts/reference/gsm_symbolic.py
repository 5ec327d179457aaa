"""Generates the built-in GSM-style math set with reasoning-gym's gsm_symbolic generators (GSM8K
templates with fresh numbers; Apache-2.0), offline and reproducibly: same version and seed, same
file. The output is committed (crates/understudy-eval/src/tasks/data/gsm_symbolic.jsonl) and its
sha256 pinned in builtin.rs.

Usage: python gsm_symbolic.py OUT_JSONL [SIZE] [SEED]
Needs: pip install reasoning-gym==0.1.25
"""
import json
import sys

import reasoning_gym


def main(out_path, size=300, seed=2026):
    dataset = reasoning_gym.create_dataset("gsm_symbolic", size=int(size), seed=int(seed))
    suffix = " Give the result as your final answer. Do not include units."
    with open(out_path, "w", encoding="utf-8") as out:
        for i, row in enumerate(dataset):
            question = row["question"]
            if question.endswith(suffix):
                question = question[: -len(suffix)]
            out.write(json.dumps({
                "id": f"gsm-{i}",
                "question": question.strip(),
                "answer": row["answer"],
                "template": row["metadata"].get("source_index"),
            }, ensure_ascii=False) + "\n")
    print(f"wrote {size} problems to {out_path}")


if __name__ == "__main__":
    main(*sys.argv[1:4])
