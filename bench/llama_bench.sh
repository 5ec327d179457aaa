#!/usr/bin/env bash
# Bench (not a test): understudy's embedded backend vs llama.cpp's own llama-bench, same GGUF,
# threads and lengths, alternating rounds in one sitting (examples/bench_llama.rs prints ratios).
#
# llama-bench is built against the exact llama.cpp sources llama-cpp-sys-2 vendors (the engine we
# embed), with the same CPU flags our build gives it. That crate ships without llama.cpp's tools/,
# so the llama-bench driver (tools/llama-bench/*.cpp, one file plus main) comes from the
# llama-cpp-python sdist on PyPI (nothing is fetched from a model hub or GitHub).
#
#   bash bench/llama_bench.sh [--rounds N] [--threads N] [--gen N] [MODEL...]
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/understudy/target}"
peers="${UNDERSTUDY_PEERS:-$HOME/.cache/understudy/peers}"
# shellcheck source=bench/vendored_llama.sh
source bench/vendored_llama.sh
bin="$peers/llama-bench-build/bin/llama-bench"

if [[ ! -x "$bin" ]]; then
  sys=$(vendored_llama_cpp)
  src="$peers/llama-bench-src"
  echo "== llama-bench from $sys + llama-cpp-python $lcp_version's tools/llama-bench"
  mkdir -p "$peers"
  tmp=$(mktemp -d)
  llama_cpp_python_sources "$tmp" tools/llama-bench
  rm -rf "$src" "$peers/llama-bench-build"
  cp -r "$sys" "$src"
  cp "$tmp/vendor/llama.cpp/tools/llama-bench/"{llama-bench.cpp,main.cpp,CMakeLists.txt} \
    "$src/tools/llama-bench/"
  printf 'find_package(Threads REQUIRED)\nllama_add_compile_flags()\nadd_subdirectory(llama-bench)\n' \
    >"$src/tools/CMakeLists.txt"
  rm -rf "$tmp"
  configure_like_the_crate "$src" "$peers/llama-bench-build" -DLLAMA_BUILD_SERVER=OFF
  cmake --build "$peers/llama-bench-build" --target llama-bench -j"${CARGO_BUILD_JOBS:-2}"
fi

args=("$@")
if ! printf '%s\n' "${args[@]}" | grep -qv -- '^--\|^[0-9]*$'; then
  args+=(smollm2-135m qwen2.5-coder-0.5b qwen2.5-coder-1.5b)
fi
cargo run --release --locked -q -p understudy-backend --example bench_llama -- \
  --llama-bench "$bin" "${args[@]}"
