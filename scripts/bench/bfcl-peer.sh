#!/usr/bin/env bash
# BFCL tool-call accuracy and latency: understudy's embedded engine against llama.cpp's
# `llama-server --jinja` on the same GGUF, in one sitting, one system at a time (the peer's run
# takes the embedded answers as its reference from the response cache, so nothing else computes
# while either is timed). Both greedy, 2 threads, one request at a time.
# Usage: scripts/bench/bfcl-peer.sh LLAMA_SERVER_BINARY [ITEMS_PER_CATEGORY]
# Build the peer from llama-cpp-python's sdist, which vendors llama.cpp with its server:
#   pip download --no-deps --no-binary :all: llama-cpp-python==0.3.36 && tar xzf llama_cpp_python-0.3.36.tar.gz
#   cmake -S llama_cpp_python-0.3.36/vendor/llama.cpp -B build -DGGML_NATIVE=OFF -DGGML_AVX2=ON \
#     -DLLAMA_CURL=OFF -DLLAMA_BUILD_SERVER=ON -DCMAKE_BUILD_TYPE=Release && cmake --build build --target llama-server -j2
set -euo pipefail
server="$1"
limit="${2:-20}"
home="${UNDERSTUDY_HOME:-$HOME/.cache/understudy}"
bin="${UNDERSTUDY_BIN:-understudy}"
gguf="$home/models/qwen2.5-coder-0.5b-instruct.gguf"
work="$(mktemp -d)"
port=18977
tasks=bfcl-simple,bfcl-multiple,bfcl-parallel,bfcl-parallel-multiple,bfcl-irrelevance
"$server" -m "$gguf" --jinja -c 4096 -t 2 --parallel 1 --port "$port" --alias qwen2.5-coder-0.5b \
  >"$work/llama-server.log" 2>&1 &
peer=$!
trap 'kill $peer 2>/dev/null' EXIT
for _ in $(seq 60); do curl -sf "localhost:$port/health" >/dev/null && break; sleep 1; done
printf '[backends.peer]\nkind = "openai"\nbase_url = "http://127.0.0.1:%s/v1"\n' "$port" >"$work/peer.toml"
common=(--strategies zero-shot --tasks "$tasks" --limit "$limit" --concurrency 1 --threads 2 --db "$work/bfcl.db")
# The embedded model alone (the peer idles), then the peer alone (the reference cells are the
# embedded answers, read from the cache: marked cached, never timed).
"$bin" --config "$work/peer.toml" eval --models qwen2.5-coder-0.5b --reference qwen2.5-coder-0.5b "${common[@]}" --json >"$work/embedded.json"
"$bin" --config "$work/peer.toml" eval --models peer/qwen2.5-coder-0.5b --reference qwen2.5-coder-0.5b "${common[@]}" --json >"$work/peer.json"
echo "results in $work (embedded.json, peer.json, bfcl.db)"
