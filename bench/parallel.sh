#!/usr/bin/env bash
# Bench (not a test): the embedded engine's parallel sequences, side by side with llama.cpp's own
# server, in one sitting. For each workload it runs the same eval (no response cache, so every
# cell calls the model) as
#   a        understudy embedded, cold and sequential (--no-prefix-cache --concurrency 1)
#   bN       understudy embedded, prefix reuse + N parallel sequences (--concurrency N)
#   bN-batch the same with batched decoding ([backends.embedded] batch_decode = true)
#   cN       llama-server --parallel N --cont-batching (prompt cache on), driven by understudy
#            eval through the OpenAI backend at --concurrency N
# and prints wall time, cells per second, completion tokens per second, the ratios b/a and b/c,
# and how many answers equal the cold sequential run's.
#
# llama-server is built from the llama.cpp sources llama-cpp-sys-2 vendors (the engine we embed)
# with the server's own sources, which that crate does not ship, taken from the llama-cpp-python
# sdist on PyPI (as bench/llama_bench.sh does for llama-bench; nothing comes from GitHub).
#
#   bash bench/parallel.sh [--workloads prefill,gen] [--ns 1,2,4] [--limit N] [--no-server] [--keep DIR]
# (--keep DIR keeps every run's store and the timings in DIR)
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/understudy/target}"
peers="${UNDERSTUDY_PEERS:-$HOME/.cache/understudy/peers}"
# shellcheck source=bench/vendored_llama.sh
source bench/vendored_llama.sh
server="$peers/llama-server-build/bin/llama-server"
workloads=prefill,gen ns=1,2,4 limit=10 with_server=1 model=qwen2.5-coder-0.5b keep=
while [[ $# -gt 0 ]]; do
  case "$1" in
    --workloads) workloads=$2; shift 2 ;;
    --ns) ns=$2; shift 2 ;;
    --limit) limit=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --no-server) with_server=0; shift ;;
    --keep) keep=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

build_server() {
  [[ -x "$server" ]] && return
  local sys tmp src="$peers/llama-server-src"
  sys=$(vendored_llama_cpp)
  echo "== llama-server from $sys + llama-cpp-python $lcp_version's tools/server"
  mkdir -p "$peers"
  tmp=$(mktemp -d)
  llama_cpp_python_sources "$tmp" tools/server tools/ui tools/mtmd scripts/ui-assets.cmake
  rm -rf "$src" "$peers/llama-server-build"
  cp -r "$sys" "$src"
  # The server and the multimodal library it links (mtmd) come as a pair from the sdist.
  rm -rf "$src/tools/server" "$src/tools/ui" "$src/tools/mtmd"
  cp -r "$tmp/vendor/llama.cpp/tools/"{server,ui,mtmd} "$src/tools/"
  mkdir -p "$src/scripts"
  cp "$tmp/vendor/llama.cpp/scripts/ui-assets.cmake" "$src/scripts/"
  # The one call the server makes into a common/ helper this llama.cpp does not have (opening
  # the MCP config file, unused here).
  sed -i 's/fs_open_ifstream(/std::ifstream(/' "$src/tools/server/server-mcp.cpp"
  printf 'find_package(Threads REQUIRED)\nllama_add_compile_flags()\nadd_subdirectory(mtmd)\nadd_subdirectory(ui)\nadd_subdirectory(server)\n' \
    >"$src/tools/CMakeLists.txt"
  rm -rf "$tmp"
  # No web UI (it would need npm or a download): the bench only calls the API.
  configure_like_the_crate "$src" "$peers/llama-server-build" -DLLAMA_BUILD_SERVER=ON \
    -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF
  cmake --build "$peers/llama-server-build" --target llama-server -j"${CARGO_BUILD_JOBS:-2}"
}

cargo build --release --locked -q -p understudy-cli
bin="$CARGO_TARGET_DIR/release/understudy"
((with_server)) && build_server
gguf=$("$bin" models 2>/dev/null | awk -v m="$model" '$1 == m {print $NF}')
[[ -f "$gguf" ]] || { echo "no GGUF for $model (understudy models --install)" >&2; exit 1; }
threads=$(nproc)
work=$(mktemp -d)
server_pid=
cleanup() {
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null
  [[ -n $keep ]] && mkdir -p "$keep" && cp "$work"/*.db "$work"/times "$keep"/ 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
printf '[backends.embedded]\nbatch_decode = true\n' >"$work/batched.toml"

workload_args() {
  case "$1" in
    prefill) echo "--tasks sentiment,mmlu,math --strategies zero-shot,few-shot:3 --limit $limit" ;;
    gen) echo "--tasks gsm --strategies cot --limit $((limit + limit / 2))" ;;
  esac
}

run() { # name workload model-name extra-args...
  local name=$1 workload=$2 name_model=$3
  shift 3
  local start end
  start=$(date +%s.%N)
  # shellcheck disable=SC2046
  "$bin" eval --models "$name_model" $(workload_args "$workload") --threads "$threads" \
    --no-reference --no-cache --db "$work/$workload-$name.db" --json "$@" \
    >"$work/$workload-$name.json" 2>"$work/$workload-$name.err" || {
    echo "$name $workload failed:" >&2
    tail -5 "$work/$workload-$name.err" >&2
    return 0
  }
  end=$(date +%s.%N)
  echo "$name $workload $start $end" >>"$work/times"
}

start_server() { # N
  local port=$((18000 + RANDOM % 1000))
  "$server" -m "$gguf" --alias "$model" --host 127.0.0.1 --port "$port" -t "$threads" \
    -c $((4096 * $1)) --parallel "$1" --cont-batching --no-webui >"$work/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 120); do
    curl -sf "http://127.0.0.1:$port/health" >/dev/null && break
    sleep 0.5
  done
  printf '[backends.llama]\nkind = "openai"\nbase_url = "http://127.0.0.1:%s/v1"\ntimeout_secs = 1200\n' \
    "$port" >"$work/server.toml"
}

stop_server() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=
}

IFS=, read -ra wl <<<"$workloads"
IFS=, read -ra nl <<<"$ns"
for w in "${wl[@]}"; do
  echo "== $w: $model $(workload_args "$w")"
  run a "$w" "$model" --no-prefix-cache --concurrency 1
  for n in "${nl[@]}"; do
    run "b$n" "$w" "$model" --concurrency "$n"
    ((n > 1)) && run "b$n-batch" "$w" "$model" --concurrency "$n" --config "$work/batched.toml"
    if ((with_server)); then
      start_server "$n"
      run "c$n" "$w" "llama/$model" --concurrency "$n" --config "$work/server.toml"
      stop_server
    fi
  done
done

python3 - "$work" <<'PY'
import sqlite3, sys
work = sys.argv[1]
runs = {}
for line in open(f"{work}/times"):
    name, workload, start, end = line.split()
    db = sqlite3.connect(f"{work}/{workload}-{name}.db")
    cells, completion = db.execute("SELECT COUNT(*), SUM(completion_tokens) FROM cells").fetchone()
    answers = dict(db.execute("SELECT model || task || strategy || item_id, answer FROM cells"))
    runs[(workload, name)] = (float(end) - float(start), cells, completion or 0, answers)
for workload in sorted({w for w, _ in runs}):
    base = runs.get((workload, "a"))
    print(f"\n{workload}: {'run':9} {'wall s':>8} {'cells':>6} {'cells/s':>8} {'tok/s':>7} {'vs a':>6} {'vs cN':>6}  same as a")
    for (w, name), (wall, cells, completion, answers) in sorted(runs.items(), key=lambda kv: kv[0][1]):
        if w != workload:
            continue
        rate = cells / wall
        vs_a = f"{rate / (base[1] / base[0]):.2f}x" if base else "-"
        n = name[1:].split("-")[0]
        peer = runs.get((workload, f"c{n}")) if name.startswith("b") else None
        vs_c = f"{rate / (peer[1] / peer[0]):.2f}x" if peer else "-"
        if base and not name.startswith("c"):
            same = sum(base[3].get(k) == v for k, v in answers.items())
            same = f"{same} of {len(answers)}"
        else:
            same = "-"
        print(f"{'':{len(workload) + 2}}{name:9} {wall:8.1f} {cells:6} {rate:8.3f} {completion / wall:7.1f} {vs_a:>6} {vs_c:>6}  {same}")
PY
