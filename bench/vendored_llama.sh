# Sourced by the bench scripts that build llama.cpp's own tools as peers: the llama.cpp sources
# llama-cpp-sys-2 vendors (the engine understudy embeds), tool sources that crate does not ship
# (from the llama-cpp-python sdist on PyPI; nothing comes from GitHub), and the CMake flags the
# crate's build.rs passes on x86-64, so a peer runs the very kernels the engine runs.

lcp_version=0.3.36

# The vendored llama.cpp directory of the locked llama-cpp-sys-2.
vendored_llama_cpp() {
  local version
  version=$(cargo metadata --format-version 1 --locked |
    python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"]=="llama-cpp-sys-2"))')
  echo "$(ls -d "$HOME"/.cargo/registry/src/*/llama-cpp-sys-2-"$version" | head -1)/llama.cpp"
}

# Extracts PATHS (relative to the sdist's vendor/llama.cpp) into DIR/vendor/llama.cpp.
llama_cpp_python_sources() { # DIR PATHS...
  local dir=$1
  shift
  pip download --quiet --no-deps --no-binary :all: "llama-cpp-python==$lcp_version" -d "$dir"
  tar xzf "$dir/llama_cpp_python-$lcp_version.tar.gz" -C "$dir" --strip-components=1 \
    "${@/#/llama_cpp_python-$lcp_version/vendor/llama.cpp/}"
}

# Configures SRC into BUILD with the flags llama-cpp-sys-2's build.rs passes on x86-64 (see its
# CMakeCache under target/), plus EXTRA flags.
configure_like_the_crate() { # SRC BUILD EXTRA...
  local src=$1 build=$2
  shift 2
  cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release \
    -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_BMI2=ON -DGGML_F16C=ON -DGGML_FMA=ON \
    -DGGML_SSE42=ON -DGGML_OPENMP=ON -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF \
    -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF -DLLAMA_BUILD_TOOLS=ON \
    -DBUILD_SHARED_LIBS=OFF -DCMAKE_C_FLAGS=-march=x86-64 -DCMAKE_CXX_FLAGS=-march=x86-64 \
    "$@" >/dev/null
}
