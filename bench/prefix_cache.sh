#!/usr/bin/env bash
# Bench (not a test): the embedded engine's prefix cache, warm against cold, in one sitting.
# Runs the same eval (no response cache, so every cell calls the model) with and without
# `--no-prefix-cache`, alternating which goes first, and prints per row the wall time per cell,
# TTFT p50, the share of prompt tokens reused, and the warm/cold ratios.
#
#   bash bench/prefix_cache.sh [--rounds N] [--model M] [--task T] [--strategy S] [--limit N]
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/understudy/target}"
rounds=2 model=qwen2.5-coder-0.5b task=sentiment strategy=few-shot:3 limit=10
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --task) task=$2; shift 2 ;;
    --strategy) strategy=$2; shift 2 ;;
    --limit) limit=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
cargo build --release --locked -q -p understudy-cli
bin="$CARGO_TARGET_DIR/release/understudy"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

run() { # mode round
  local db="$work/$1-$2.db" flag=()
  [[ $1 == cold ]] && flag=(--no-prefix-cache)
  local start end
  start=$(date +%s.%N)
  "$bin" eval --models "$model" --tasks "$task" --strategies "$strategy" --limit "$limit" \
    --no-reference --no-cache --db "$db" --json "${flag[@]}" >"$work/$1-$2.json" 2>/dev/null
  end=$(date +%s.%N)
  python3 - "$1" "$2" "$start" "$end" "$work/$1-$2.json" <<'PY'
import json, sys
mode, rnd, start, end, path = sys.argv[1:]
s = json.load(open(path))
row = s["rows"][0]
cells = row["cells"]
share = row["cached_prompt_tokens"] / max(row["prompt_tokens"], 1)
print(f"{mode:5} round {rnd}: {cells} cells, {(float(end) - float(start)) / cells:6.2f} s/cell wall, "
      f"latency p50 {row['latency_p50_ms']:7.0f} ms, TTFT p50 {row['ttft_p50_ms']:7.0f} ms, "
      f"{100 * share:4.0f}% of prompt tokens reused, score {100 * row['pooled']['value']:.0f}%")
with open(sys.argv[5] + ".line", "w") as f:
    json.dump({"mode": mode, "latency": row["latency_p50_ms"], "ttft": row["ttft_p50_ms"],
               "wall": (float(end) - float(start)) / cells}, f)
PY
}

echo "== $model · $task · $strategy · $limit items · $rounds rounds (order alternates)"
for ((r = 1; r <= rounds; r++)); do
  if ((r % 2)); then run cold "$r"; run warm "$r"; else run warm "$r"; run cold "$r"; fi
done
python3 - "$work" <<'PY'
import glob, json, sqlite3, statistics, sys
def answers(db):
    return dict(sqlite3.connect(db).execute("SELECT item_id, answer FROM cells"))
cold, warm = answers(sys.argv[1] + "/cold-1.db"), answers(sys.argv[1] + "/warm-1.db")
same = [k for k in cold if cold[k] == warm.get(k)]
print(f"same answer warm and cold (round 1): {len(same)} of {len(cold)} cells")
for k in sorted(set(cold) - set(same)):
    print(f"  differs: {k}: cold {cold[k]!r} / warm {warm.get(k)!r}")
lines = [json.load(open(p)) for p in glob.glob(sys.argv[1] + "/*.json.line")]
def med(mode, key):
    return statistics.median(l[key] for l in lines if l["mode"] == mode)
for key, name in [("wall", "wall time per cell"), ("latency", "latency p50"), ("ttft", "TTFT p50")]:
    print(f"cold / warm {name}: {med('cold', key) / med('warm', key):.2f}x")
PY
