#!/usr/bin/env python3
"""DSPy beside `understudy optimize`, on the same items and models.

Reads the split `understudy optimize` wrote (split.jsonl: train, validation and test items,
the input as a client sends it, the gold answer, and on test items each understudy row's
score), optimizes a DSPy program for the same student with the same teacher — both served by
`understudy serve`'s OpenAI-compatible endpoint — under the same call budget, scores the
result on the test items, and compares it item by item with understudy's optimized prompt
(McNemar's exact test). Writes one JSON file; prints a summary line.

    python bench/dspy_optimize.py --split optimize/mmlu/split.jsonl \
        --base-url http://127.0.0.1:8099/v1 --student qwen2.5-coder-0.5b \
        --teacher qwen2.5-coder-1.5b --optimizer bootstrap --budget 400 \
        --instruction "Answer the multiple-choice question." --out dspy-mmlu.json

Number tasks (math, gsm) read the last number, as understudy's number contract does
(`--answer number`); `--program cot` compiles a ChainOfThought program instead of Predict.
"""
import argparse
import json
import math
import random
import re
import time

import dspy


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--split", required=True)
    p.add_argument("--base-url", required=True)
    p.add_argument("--student", required=True)
    p.add_argument("--teacher", required=True)
    p.add_argument("--optimizer", choices=["bootstrap", "gepa"], required=True)
    p.add_argument("--budget", type=int, required=True, help="student metric calls (GEPA's max_metric_calls)")
    p.add_argument("--instruction", required=True, help="the task's instruction (the signature's docstring)")
    p.add_argument("--answer", choices=["choice", "number"], default="choice",
                   help="how the answer is read: an option letter, or the last number (understudy's contracts)")
    p.add_argument("--program", choices=["predict", "cot"], default="predict",
                   help="DSPy's program: Predict, or ChainOfThought (a reasoning field before the answer)")
    p.add_argument("--out", required=True)
    return p.parse_args()


def letter(text):
    """The answer's option letter, read as understudy's choice contract reads it (first standalone A-J)."""
    m = re.search(r"\b([A-J])\b", text or "")
    return m.group(1) if m else ""


NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")


def last_number(text):
    """The answer's last number, read as understudy's number contract reads it (commas dropped)."""
    values = []
    for m in NUMBER.finditer(text or ""):
        try:
            values.append(float(m.group(0).replace(",", "")))
        except ValueError:
            pass
    return values[-1] if values else None


ANSWER_KIND = "choice"


def score(gold, pred):
    said = getattr(pred, "answer", "")
    if ANSWER_KIND == "number":
        value, target = last_number(str(said)), float(gold.answer)
        # understudy's number scorer: relative tolerance 1e-6, at least absolute below 1
        return 1.0 if value is not None and abs(value - target) <= 1e-6 * max(abs(target), 1.0) else 0.0
    return 1.0 if letter(said) == gold.answer.strip() else 0.0


def feedback_metric(gold, pred, trace=None, pred_name=None, pred_trace=None):
    s = score(gold, pred)
    said = getattr(pred, "answer", "")
    return dspy.Prediction(
        score=s,
        feedback=f"The correct answer is {gold.answer}. The model answered {said!r}"
        + (" (right)." if s else " (wrong)."),
    )


def safe_call(program, ex):
    try:
        return program(question=ex.question)
    except Exception:  # a reply DSPy cannot parse scores 0, as on the test items
        return dspy.Prediction(answer="")


def mcnemar(only_a, only_b):
    n = only_a + only_b
    if n == 0:
        return 1.0
    k = min(only_a, only_b)
    return min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2**n)


def bootstrap_ci(xs, rounds=2000, seed=0x5EED):
    rng = random.Random(seed)
    means = sorted(sum(rng.choice(xs) for _ in xs) / len(xs) for _ in range(rounds))
    return means[int(0.025 * rounds)], means[int(0.975 * rounds) - 1]


def main():
    args = parse_args()
    global ANSWER_KIND
    ANSWER_KIND = args.answer
    rows = [json.loads(line) for line in open(args.split)]

    def examples(part):
        return [
            dspy.Example(question=r["input"], answer=r["target"], id=r["id"]).with_inputs("question")
            for r in rows
            if r["part"] == part
        ]

    train, val, test = examples("train"), examples("validation"), examples("test")
    common = dict(api_base=args.base_url, api_key="unused", temperature=0.0, cache=False)
    student = dspy.LM(f"openai/{args.student}", max_tokens=256, **common)
    teacher = dspy.LM(f"openai/{args.teacher}", max_tokens=1000, **common)
    dspy.configure(lm=student)
    signature = dspy.Signature("question -> answer", args.instruction)
    program = dspy.ChainOfThought(signature) if args.program == "cot" else dspy.Predict(signature)
    started = time.time()
    if args.optimizer == "bootstrap":
        optimizer = dspy.BootstrapFewShot(
            metric=lambda g, p, trace=None: score(g, p) >= 1.0,
            max_bootstrapped_demos=3,
            max_labeled_demos=3,
            teacher_settings=dict(lm=teacher),
        )
        optimized = optimizer.compile(program, trainset=train)
    else:
        optimizer = dspy.GEPA(
            metric=feedback_metric,
            max_metric_calls=args.budget,
            reflection_lm=teacher,
            num_threads=1,
            seed=0,
        )
        optimized = optimizer.compile(program, trainset=train, valset=val)
    search_seconds = time.time() - started
    calls = {"student": len(student.history), "teacher": len(teacher.history)}
    results = []
    for ex in test:
        try:
            pred = optimized(question=ex.question)
            s = score(ex, pred)
            said = getattr(pred, "answer", "")
        except Exception as e:  # a reply DSPy cannot parse scores 0, as a format failure would
            s, said = 0.0, f"error: {e}"
        results.append({"id": ex.id, "score": s, "answer": said})
    test_calls = len(student.history) - calls["student"]
    # The optimized program on the validation items too (after the test, so it cannot steer the
    # search): understudy chooses its winner there, so this says whether DSPy's program would
    # have been chosen over understudy's candidates on the items understudy saw.
    validation = [score(ex, safe_call(optimized, ex)) for ex in val]
    scores = [r["score"] for r in results]
    ours = {r["id"]: r["scores"].get("optimized") for r in rows if r["part"] == "test"}
    only_dspy = sum(1 for r in results if r["score"] > (ours.get(r["id"]) or 0))
    only_ours = sum(1 for r in results if r["score"] < (ours.get(r["id"]) or 0))
    low, high = bootstrap_ci(scores)
    ours_scores = [ours[r["id"]] for r in results]
    summary = {
        "optimizer": args.optimizer,
        "program": args.program,
        "dspy_version": dspy.__version__,
        "budget": args.budget,
        "search_calls": calls,
        "search_seconds": round(search_seconds, 1),
        "test_calls": test_calls,
        "validation_score": sum(validation) / len(validation),
        "validation_n": len(validation),
        "test_score": sum(scores) / len(scores),
        "test_ci": [low, high],
        "n": len(scores),
        "understudy_optimized_score": sum(ours_scores) / len(ours_scores),
        "only_understudy_right": only_ours,
        "only_dspy_right": only_dspy,
        "mcnemar_p": mcnemar(only_ours, only_dspy),
        "items": results,
    }
    with open(args.out, "w") as f:
        json.dump(summary, f, indent=1)
    print(
        f"dspy {args.optimizer} ({args.program}): test {summary['test_score']:.1%} [{low:.1%}–{high:.1%}] n={len(scores)}; "
        f"understudy optimized {summary['understudy_optimized_score']:.1%}; only understudy right {only_ours}, "
        f"only DSPy right {only_dspy}, McNemar p = {summary['mcnemar_p']:.3f}; search calls {calls} in {search_seconds:.0f} s; "
        f"validation {sum(validation):.0f}/{len(validation)}"
    )


if __name__ == "__main__":
    main()
