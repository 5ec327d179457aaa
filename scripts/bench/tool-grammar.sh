#!/usr/bin/env bash
# What the tool-call grammar costs and gains on the embedded engine: the same BFCL items with
# `[backends.embedded] tool_call_grammar` on and off, alternated on/off/on/off in one sitting
# (each run its own store, so nothing comes from the response cache), one request at a time,
# 2 threads, greedy. Prints per run the decode speed over the answer's tokens after the first
# (where the lazy grammar works: it switches on at `<tool_call>`) and the accuracy per task.
# Usage: scripts/bench/tool-grammar.sh [ITEMS_PER_TASK] [TASKS]
set -euo pipefail
limit="${1:-20}"
tasks="${2:-bfcl-simple,bfcl-multiple}"
bin="${UNDERSTUDY_BIN:-understudy}"
work="$(mktemp -d)"
printf '[backends.embedded]\ntool_call_grammar = true\n' >"$work/on.toml"
printf '[backends.embedded]\ntool_call_grammar = false\n' >"$work/off.toml"
for run in on1 off1 on2 off2; do
  "$bin" --config "$work/${run%?}.toml" eval --models qwen2.5-coder-0.5b --strategies zero-shot \
    --tasks "$tasks" --limit "$limit" --concurrency 1 --threads 2 --db "$work/$run.db" --json \
    >"$work/$run.json"
done
python3 - "$work" <<'PY'
import sqlite3, statistics, sys
work = sys.argv[1]
rows = {}
for run in ["on1", "off1", "on2", "off2"]:
    db = sqlite3.connect(f"{work}/{run}.db")
    cells = db.execute(
        "select task, score, decode_tps, completion_tokens, cached from cells").fetchall()
    assert not any(c[4] for c in cells), "a cell came from the cache"
    rates = [c[2] for c in cells if c[2] and c[3] > 1]
    by_task = {}
    for task, score, *_ in cells:
        by_task.setdefault(task, []).append(score or 0.0)
    rows[run] = statistics.median(rates)
    acc = ", ".join(f"{t} {sum(s)/len(s):.0%} (n={len(s)})" for t, s in sorted(by_task.items()))
    print(f"{run}: decode p50 {rows[run]:.1f} tok/s over {len(rates)} answers; {acc}")
on = statistics.mean([rows["on1"], rows["on2"]])
off = statistics.mean([rows["off1"], rows["off2"]])
print(f"grammar on / off decode: {on:.1f} / {off:.1f} tok/s = {on/off:.3f}x")
PY
echo "stores and summaries in $work"
