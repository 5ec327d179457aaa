#!/usr/bin/env python3
"""How often a default-suite-shaped run settles its headline findings, from pilot runs.

Resamples items (with replacement) from pilot runs stored by `understudy eval`, keeping each
item's scores under every row together, and for each run size counts how often:
  - each model's zero-shot row is settled against the reference's zero-shot row (paired exact
    McNemar test, Holm-corrected over every comparison the summary makes: each model's
    zero-shot vs the reference, each other strategy vs the model's zero-shot);
  - the reference is above its baseline on each choice or label task (exact binomial,
    one-sided; give the baseline as `task:rate`, e.g. openbookqa:0.25 for chance).
McNemar's exact test is more conservative than the exact unconditional score test understudy
uses, so these rates are lower bounds. Standard library only.

    python3 scripts/reference/default_suite_power.py --db pilot.db \
        --db docs/studies/reference-gap/cells.jsonl --reference qwen2.5-coder-1.5b \
        --models smollm2-135m,qwen2.5-coder-0.5b --tasks math,openbookqa:0.25 --n 20,30,40
"""

import argparse
import collections
import json
import random
import sqlite3
from math import comb


def load(paths):
    """Cells from stores (SQLite files) or a study's cells.jsonl."""
    scores = collections.defaultdict(dict)
    for path in paths:
        if path.endswith(".jsonl"):
            with open(path) as f:
                cells = [json.loads(line) for line in f]
            rows = [(c["model"], c["strategy"], c["task"], c["item_id"], c["score"]) for c in cells]
        else:
            rows = sqlite3.connect(path).execute(
                "SELECT model, strategy, task, item_id, score FROM cells"
            )
        for model, strategy, task, item, score in rows:
            scores[(model, strategy, task)][item] = score
    return scores


def mcnemar(b, c):
    n = b + c
    if n == 0:
        return 1.0
    return min(1.0, 2 * sum(comb(n, i) for i in range(min(b, c) + 1)) / 2**n)


def binomial_upper(k, n, p):
    return sum(comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1))


def holm(ps):
    order = sorted(range(len(ps)), key=lambda i: ps[i])
    out, running = [0.0] * len(ps), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(ps) - rank) * ps[i]))
        out[i] = running
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", action="append", required=True)
    ap.add_argument("--reference", required=True)
    ap.add_argument("--models", required=True)
    ap.add_argument("--strategies", default="zero-shot,few-shot:3")
    ap.add_argument("--tasks", required=True, help="name or name:baseline, comma-separated")
    ap.add_argument("--n", default="20,30,40")
    ap.add_argument("--reps", type=int, default=2000)
    args = ap.parse_args()
    scores = load(args.db)
    strategies = args.strategies.split(",")
    rows = [(m, s) for m in args.models.split(",") for s in strategies]
    rows.append((args.reference, strategies[0]))
    ref = len(rows) - 1
    pairs = []
    for i, (m, s) in enumerate(rows[:-1]):
        zero = rows.index((m, strategies[0]))
        pairs.append((i, ref if i == zero else zero))
    tasks = [t.split(":") for t in args.tasks.split(",")]
    items = {}
    for task, *_ in tasks:
        keys = set.intersection(*(set(scores[(m, s, task)]) for m, s in rows))
        items[task] = [tuple(scores[(m, s, task)][k] for m, s in rows) for k in sorted(keys)]
        print(f"{task}: {len(keys)} pilot items under all {len(rows)} rows")
    for n in map(int, args.n.split(",")):
        random.seed(1)
        settled = collections.Counter()
        for _ in range(args.reps):
            ps, labels, above = [], [], {}
            for task, *baseline in tasks:
                sample = [random.choice(items[task]) for _ in range(n)]
                for a, b in pairs:
                    wins = sum(1 for x in sample if x[a] >= 0.5 > x[b])
                    losses = sum(1 for x in sample if x[b] >= 0.5 > x[a])
                    ps.append(mcnemar(wins, losses))
                    labels.append((task, rows[a], rows[b]))
                if baseline:
                    k = sum(1 for x in sample if x[ref] >= 0.5)
                    above[task] = binomial_upper(k, n, float(baseline[0])) < 0.05
            for (task, a, b), p in zip(labels, holm(ps)):
                if b == rows[ref]:
                    settled[f"{task}: {' '.join(a)} below the reference"] += p < 0.05
            for task, ok in above.items():
                settled[f"{task}: the reference above its baseline"] += ok
        print(f"n = {n} items per task ({len(labels)} comparisons in the Holm family):")
        for key, hits in sorted(settled.items()):
            print(f"  {key}: settled in {hits / args.reps:.0%} of runs")


if __name__ == "__main__":
    main()
