#!/usr/bin/env bash
# Installs llama-cpp-python[server] (a real OpenAI-compatible server that no one here wrote) into a venv
# cached outside the clone, so the openai backend's conformance tests have a peer to talk to.
# It builds llama.cpp from source (~15 minutes on 2 cores the first time); later runs reuse the venv.
set -euo pipefail
VERSION="0.3.36"
HOME_DIR="${UNDERSTUDY_HOME:-$HOME/.cache/understudy}"
# AVX2 rather than -march=native: a native build on a VM whose CPU reports AMX and AVX-512 died
# with a general protection fault in libggml-cpu on its first completion (2026-12-04). The suffix
# keeps a venv built the old way from being reused.
BUILD="avx2"
VENV="$HOME_DIR/llama-server-venv-$VERSION-$BUILD"
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import llama_cpp.server" 2>/dev/null; then
  echo "llama-cpp-python[server] $VERSION already in $VENV"
  exit 0
fi
mkdir -p "$HOME_DIR"
rm -rf "$VENV.partial"
python3 -m venv "$VENV.partial"
echo "building llama-cpp-python[server]==$VERSION (compiles llama.cpp; several minutes)..."
CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON" "$VENV.partial/bin/pip" install --no-cache-dir "llama-cpp-python[server]==$VERSION"
mv "$VENV.partial" "$VENV"
echo "installed into $VENV"
