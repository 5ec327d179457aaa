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
lcp_version=0.3.36
bin="$peers/llama-bench-build/bin/llama-bench"

if [[ ! -x "$bin" ]]; then
  sys=$(ls -d "$HOME"/.cargo/registry/src/*/llama-cpp-sys-2-"$(
    cargo metadata --format-version 1 --locked |
      python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"]=="llama-cpp-sys-2"))'
  )" | head -1)
  echo "== llama-bench from $sys/llama.cpp + llama-cpp-python $lcp_version's tools/llama-bench"
  mkdir -p "$peers"
  tmp=$(mktemp -d)
  pip download --quiet --no-deps --no-binary :all: "llama-cpp-python==$lcp_version" -d "$tmp"
  tar xzf "$tmp/llama_cpp_python-$lcp_version.tar.gz" -C "$tmp" \
    "llama_cpp_python-$lcp_version/vendor/llama.cpp/tools/llama-bench"
  rm -rf "$peers/llama-bench-src" "$peers/llama-bench-build"
  cp -r "$sys/llama.cpp" "$peers/llama-bench-src"
  cp "$tmp/llama_cpp_python-$lcp_version/vendor/llama.cpp/tools/llama-bench/"{llama-bench.cpp,main.cpp,CMakeLists.txt} \
    "$peers/llama-bench-src/tools/llama-bench/"
  printf 'find_package(Threads REQUIRED)\nllama_add_compile_flags()\nadd_subdirectory(llama-bench)\n' \
    >"$peers/llama-bench-src/tools/CMakeLists.txt"
  rm -rf "$tmp"
  # The flags llama-cpp-sys-2's build.rs passes on x86-64 (see its CMakeCache under target/).
  cmake -S "$peers/llama-bench-src" -B "$peers/llama-bench-build" -DCMAKE_BUILD_TYPE=Release \
    -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_BMI2=ON -DGGML_F16C=ON -DGGML_FMA=ON \
    -DGGML_SSE42=ON -DGGML_OPENMP=ON -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF \
    -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF -DLLAMA_BUILD_TOOLS=ON \
    -DBUILD_SHARED_LIBS=OFF -DCMAKE_C_FLAGS=-march=x86-64 -DCMAKE_CXX_FLAGS=-march=x86-64 >/dev/null
  cmake --build "$peers/llama-bench-build" --target llama-bench -j"${CARGO_BUILD_JOBS:-2}"
fi

args=("$@")
if ! printf '%s\n' "${args[@]}" | grep -qv -- '^--\|^[0-9]*$'; then
  args+=(smollm2-135m qwen2.5-coder-0.5b qwen2.5-coder-1.5b)
fi
cargo run --release --locked -q -p understudy-backend --example bench_llama -- \
  --llama-bench "$bin" "${args[@]}"
