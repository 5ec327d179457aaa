#!/usr/bin/env python3
"""Reference values for understudy's paired tests at a margin (TOST equivalence, regression,
share-of-reference non-inferiority), the flip table and McNemar's exact test, computed with
scipy and statsmodels so the Rust code is checked against an independent implementation.

    pip install scipy==1.17.1 statsmodels==0.15.0
    python3 scripts/reference/paired_tests_fixture.py \
        crates/understudy-report/tests/fixtures/paired_tests.json

Cases are drawn with a fixed seed: 0/1 scores (an equivalent pair, a clear regression, a small
sample) and graded scores in [0, 1] (ROUGE-like).
"""
import json
import sys

import numpy as np
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.weightstats import ttost_paired


def case(name, a, b, margin, share):
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    items = [f"item-{i}" for i in range(len(a))]
    d = b - a
    p_tost, (t1, p1, df1), (t2, p2, df2) = ttost_paired(b, a, -margin, margin)
    se = d.std(ddof=1) / np.sqrt(len(d))
    low, high = stats.t.interval(0.90, len(d) - 1, loc=d.mean(), scale=se)
    reg = stats.ttest_1samp(d, -margin, alternative="less")
    sh = stats.ttest_1samp(b - share * a, 0.0, alternative="greater")
    out = {
        "name": name,
        "a": a.tolist(),
        "b": b.tolist(),
        "margin": margin,
        "share": share,
        "tost": {"p": float(p_tost), "t_lower": float(t1), "p_lower": float(p1),
                 "t_upper": float(t2), "p_upper": float(p2), "df": float(df1),
                 "interval": [float(low), float(high)]},
        "regression": {"t": float(reg.statistic), "p": float(reg.pvalue)},
        "share_at_least": {"t": float(sh.statistic), "p": float(sh.pvalue)},
        "flips": {"worse": [items[i] for i in np.flatnonzero(b < a)],
                  "better": [items[i] for i in np.flatnonzero(b > a)],
                  "ties": int(np.sum(b == a))},
    }
    if set(np.unique(np.concatenate([a, b]))) <= {0.0, 1.0}:
        only_a = int(np.sum((a == 1) & (b == 0)))
        only_b = int(np.sum((a == 0) & (b == 1)))
        both = int(np.sum((a == 1) & (b == 1)))
        neither = int(np.sum((a == 0) & (b == 0)))
        table = [[both, only_a], [only_b, neither]]
        out["mcnemar_exact"] = {"only_a": only_a, "only_b": only_b,
                                "p": float(mcnemar(table, exact=True).pvalue)}
    return out


def main(path):
    rng = np.random.default_rng(2026)
    base = (rng.random(120) < 0.7).astype(float)
    flip = rng.random(120) < 0.06
    near = np.where(flip, 1 - base, base)
    worse = np.where(rng.random(120) < 0.2, 0.0, base)
    small_a = (rng.random(12) < 0.5).astype(float)
    small_b = (rng.random(12) < 0.5).astype(float)
    graded_a = np.round(rng.beta(4, 2, 80), 4)
    graded_b = np.round(np.clip(graded_a + rng.normal(-0.01, 0.05, 80), 0, 1), 4)
    wide = (rng.random(400) < 0.7).astype(float)
    wide_near = wide.copy()
    wide_near[rng.choice(np.flatnonzero(wide == 1), 12, replace=False)] = 0.0
    wide_near[rng.choice(np.flatnonzero(wide == 0), 10, replace=False)] = 1.0
    cases = [
        case("binary, 400 items, 12 flips down and 10 up", wide, wide_near, 0.05, 0.95),
        case("binary, nearly the same", base, near, 0.05, 0.95),
        case("binary, a regression", base, worse, 0.02, 0.95),
        case("binary, twelve items", small_a, small_b, 0.05, 0.9),
        case("graded, close", graded_a, graded_b, 0.03, 0.95),
    ]
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"generated_by": "scripts/reference/paired_tests_fixture.py",
                   "scipy": __import__("scipy").__version__,
                   "statsmodels": __import__("statsmodels").__version__,
                   "cases": cases}, f, indent=1)
        f.write("\n")
    print(f"wrote {len(cases)} cases to {path}")


if __name__ == "__main__":
    main(sys.argv[1])
