#!/usr/bin/env bash
# Bench (not a test): the pairwise judge checked against gold labels, through the same judge
# path traffic tasks use. A model answers a labelled task (its answers graded right or wrong by
# the task's own grader); the same prompts, each with the gold answer as "the reference's",
# are made into a reference task with `understudy dataset import`; the same model answers them
# again (greedy, same messages: the same answers) and the judge compares each answer with the
# gold. A right answer should be judged a win or tie, a wrong one a loss: the script prints
# the agreement with its exact interval, Cohen's kappa, the confusion table, the judge's
# position flips and the items it gave no verdict on.
#
#   bash bench/judge_agreement.sh [--model M] [--judge J] [--task T] [--strategy S] [--limit N]
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/understudy/target}"
model=qwen2.5-coder-0.5b judge=qwen2.5-coder-1.5b task=gsm strategy=cot limit=30
while [[ $# -gt 0 ]]; do
  case "$1" in
    --model) model=$2; shift 2 ;;
    --judge) judge=$2; shift 2 ;;
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

"$bin" eval --tasks "$task" --models "$model" --strategies "$strategy" --formats plain \
  --limit "$limit" --no-reference --db "$work/labelled.db" >/dev/null
python3 bench/judge_agreement.py export "$work/labelled.db" > "$work/gold.jsonl"
"$bin" dataset import "$work/gold.jsonl" --name vs-gold --out "$work" --dedup 1 --split 0,0,100
# Room for the labelled run's longest answer, so the same greedy answers come back.
sed -i 's/^max_tokens = .*/max_tokens = 1200/' "$work/vs-gold.toml"
"$bin" eval --tasks "$work/vs-gold.toml" --models "$model" --strategies zero-shot \
  --no-reference --judge "$judge" --db "$work/judged.db" >/dev/null
python3 bench/judge_agreement.py agree "$work/labelled.db" "$work/judged.db" "$judge"
