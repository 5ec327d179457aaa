"""The judge-agreement bench's two steps (see judge_agreement.sh).

export LABELLED_DB: each graded cell as an OpenAI chat line, the messages it was sent followed
by the gold answer as the assistant's turn.
agree LABELLED_DB JUDGED_DB JUDGE: joins the two runs on the messages sent and prints how often
the judge's verdict (win or tie = right, loss = wrong) agrees with the task's own grade.
"""
import json
import math
import sqlite3
import sys


def cells(db):
    rows = sqlite3.connect(db).execute(
        "select prompt_json, answer, gold, score, detail from cells"
    )
    return [
        {"prompt": p, "answer": a, "gold": g, "score": s, "detail": json.loads(d or "null")}
        for p, a, g, s, d in rows
    ]


def export(db):
    for c in cells(db):
        messages = json.loads(c["prompt"])
        messages.append({"role": "assistant", "content": f"The answer is {c['gold']}."})
        print(json.dumps({"messages": messages}))


def tail_at_least(k, n, p):
    return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1))


def solve(f, target):
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if f(mid) < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def clopper_pearson(k, n):
    """The exact 95% interval, by bisection on the binomial tails (no scipy needed)."""
    low = solve(lambda p: tail_at_least(k, n, p), 0.025) if k > 0 else 0.0
    high = solve(lambda p: -(1 - tail_at_least(k + 1, n, p)), -0.025) if k < n else 1.0
    return low, high


def agree(labelled_db, judged_db, judge):
    right = {c["prompt"]: c["score"] >= 1.0 for c in cells(labelled_db)}
    table = {(r, v): 0 for r in (True, False) for v in (True, False)}
    flips = ungraded = same_answer = n = 0
    for c in cells(judged_db):
        d = c["detail"] or {}
        if c["prompt"] not in right:
            continue
        if d.get("ungraded"):
            ungraded += 1
            continue
        verdict = d.get("vs_reference")
        if verdict not in ("win", "tie", "loss"):
            continue
        n += 1
        flips += bool(d.get("position_flip"))
        table[(right[c["prompt"]], verdict != "loss")] += 1
    agreed = table[(True, True)] + table[(False, False)]
    po = agreed / n
    p_right = (table[(True, True)] + table[(True, False)]) / n
    p_judged = (table[(True, True)] + table[(False, True)]) / n
    pe = p_right * p_judged + (1 - p_right) * (1 - p_judged)
    kappa = (po - pe) / (1 - pe) if pe < 1 else float("nan")
    low, high = clopper_pearson(agreed, n)
    print(f"judge {judge}: n = {n} judged items ({ungraded} ungraded, left out)")
    print(f"  agreement with the gold grade: {po:.0%} [{low:.0%}–{high:.0%}] (Clopper–Pearson)")
    print(f"  Cohen's kappa: {kappa:.2f}")
    print(f"  right answers judged win/tie {table[(True, True)]}, judged loss {table[(True, False)]}")
    print(f"  wrong answers judged win/tie {table[(False, True)]}, judged loss {table[(False, False)]}")
    print(f"  position flips: {flips} of {n}")


if __name__ == "__main__":
    if sys.argv[1] == "export":
        export(sys.argv[2])
    else:
        agree(sys.argv[2], sys.argv[3], sys.argv[4])
