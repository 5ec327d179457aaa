#!/usr/bin/env bash
# Bench (not a test): `understudy eval` vs promptfoo on the same matrix — 2 prompts × 2 providers ×
# N tests (default 5,000: 20,000 cells) — against the same fast mock OpenAI-compatible upstream on
# loopback, with the same concurrency, caches off. Prints wall time and peak RSS of each, from
# GNU time, in one sitting.
#
#   bash bench/eval_vs_promptfoo.sh [TESTS] [CONCURRENCY]
#
# Needs: the release binary and the bench_gateway example built
# (cargo build --release -p understudy-cli && cargo build --release -p understudy-serve --example bench_gateway),
# and promptfoo installed with npm under ~/.cache/understudy/peers/promptfoo (npm install promptfoo@0.121.20 — the newest release that supports Node 20).
set -euo pipefail
cd "$(dirname "$0")/.."
TESTS="${1:-5000}"
CONC="${2:-4}"
TARGET="${CARGO_TARGET_DIR:-target}"
PEERS="${UNDERSTUDY_PEERS:-$HOME/.cache/understudy/peers}"
PROMPTFOO="$PEERS/promptfoo/node_modules/.bin/promptfoo"
work="$(mktemp -d)"
trap 'kill $mock 2>/dev/null || true; rm -rf "$work"' EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$TARGET/release/examples/bench_gateway" --mock-only "$port" >/dev/null &
mock=$!
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
base="http://127.0.0.1:$port/v1"

# The same items for both: "What is i + (4 - i)?" with gold answer 4.
python3 - "$work" "$TESTS" <<'PY'
import csv, json, sys
work, n = sys.argv[1], int(sys.argv[2])
with open(f"{work}/tests.csv", "w", newline="") as f:
    w = csv.writer(f); w.writerow(["question", "__expected"])
    for i in range(n): w.writerow([f"What is {i} + (4 - {i})?", "contains:4"])
with open(f"{work}/rows.jsonl", "w") as f:
    for i in range(n): f.write(json.dumps({"id": f"q{i}", "question": f"What is {i} + (4 - {i})?", "answer": "4"}) + "\n")
PY
cat > "$work/task.toml" <<TOML
name = "sums"
instruction = "Answer the question."
question = "{{ question }}"
target = "{{ answer }}"
[dataset]
path = "rows.jsonl"
id_field = "id"
few_shot_pool = 0
[answer]
kind = "number"
TOML
cat > "$work/promptfooconfig.yaml" <<YAML
prompts:
  - "Answer the question. {{question}} Reply with only the final number."
  - "You are a meticulous expert assistant. Answer the question. {{question}} Reply with only the final number."
providers:
  - id: openai:chat:m
    label: m
    config: { apiBaseUrl: "$base", apiKey: sk-none }
  - id: openai:chat:m2
    label: m2
    config: { apiBaseUrl: "$base", apiKey: sk-none }
tests: file://tests.csv
YAML

cells=$((TESTS * 4))
echo "eval_vs_promptfoo: $cells cells (2 prompts x 2 providers x $TESTS tests), concurrency $CONC, mock upstream on loopback, caches off"
measure() { # name, command...
  local name=$1; shift
  /usr/bin/time -f "%e %M" -o "$work/time.$name" "$@" >"$work/out.$name" 2>&1 || { echo "$name failed:"; tail -20 "$work/out.$name"; exit 1; }
  read -r wall rss_kb < "$work/time.$name"
  printf '%-10s wall %8.1f s  %8.0f cells/s  peak RSS %7.1f MiB\n' "$name" "$wall" "$(echo "$cells / $wall" | bc -l)" "$(echo "$rss_kb / 1024" | bc -l)"
  echo "$wall $rss_kb" > "$work/result.$name"
}
measure understudy env OPENAI_BASE_URL="$base" OPENAI_API_KEY=sk-none UNDERSTUDY_LOG=warn "$TARGET/release/understudy" eval \
  --models openai/m,openai/m2 --no-reference --tasks "$work/task.toml" --strategies zero-shot,role \
  --limit "$TESTS" --concurrency "$CONC" --no-cache --db "$work/u.db"
( cd "$work" && measure promptfoo env PROMPTFOO_DISABLE_TELEMETRY=1 PROMPTFOO_DISABLE_UPDATE=1 PROMPTFOO_CACHE_ENABLED=false \
  PROMPTFOO_CONFIG_DIR="$work/pf" "$PROMPTFOO" eval -c promptfooconfig.yaml -j "$CONC" --no-cache --no-progress-bar --no-table )
echo "understudy said: $(grep -E '^run [0-9]+' "$work/out.understudy" | tail -1)"
echo "promptfoo said: $(grep -iE 'passed|successes|failures|errors' "$work/out.promptfoo" | tr -s ' ' | tail -4 | tr '\n' ' ')"
read -r uw ur < "$work/result.understudy"
read -r pw pr < "$work/result.promptfoo"
printf 'ratio: understudy is %.1fx faster; peak RSS %.2fx of promptfoo\n' "$(echo "$pw / $uw" | bc -l)" "$(echo "$ur / $pr" | bc -l)"
