#!/usr/bin/env bash
# Bench (not a test): understudy's gateway against litellm-rs (Rust, crates.io) and the LiteLLM
# proxy (Python, PyPI), every gateway in one sitting in front of the same mock upstream, repeats
# in rotated order (examples/bench_gateway/peers.rs prints the tables). Peers are installed once,
# pinned, into ~/.cache/understudy/peers.
#
#   bash bench/gateway_peers.sh [--repeats N] [--requests N] [--litellm-requests N] [--soak SECS]
#                               [--mock-process] [--one-worker] [--litellm-rs-bare] [--understudy-nolog]
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/understudy/target}"
peers="${UNDERSTUDY_PEERS:-$HOME/.cache/understudy/peers}"
litellm_rs_version=0.9.0
litellm_version=1.108.7
mkdir -p "$peers"

# litellm-rs's gateway binary needs a storage feature; sqlite is the lightest. Its own target dir
# keeps a rebuild incremental and out of ours.
litellm_rs="$peers/litellm-rs-$litellm_rs_version/bin/gateway"
if [[ ! -x "$litellm_rs" ]]; then
  echo "== litellm-rs $litellm_rs_version (cargo install, ~9 min on 2 cores)"
  CARGO_TARGET_DIR="$peers/litellm-rs-target" cargo install litellm-rs --version "$litellm_rs_version" \
    --locked --bin gateway --no-default-features --features sqlite,metrics -j2 \
    --root "$peers/litellm-rs-$litellm_rs_version"
fi

litellm="$peers/litellm-venv-$litellm_version/bin/litellm"
if [[ ! -x "$litellm" ]]; then
  echo "== litellm[proxy] $litellm_version (PyPI)"
  python3 -m venv "$peers/litellm-venv-$litellm_version"
  "$peers/litellm-venv-$litellm_version/bin/pip" install -q "litellm[proxy]==$litellm_version"
fi

# Two builds: `--example` would restrict the first one to examples and skip the binary.
cargo build --release --locked -j2 -p understudy-cli
cargo build --release --locked -j2 -p understudy-serve --example bench_gateway
"$CARGO_TARGET_DIR/release/examples/bench_gateway" --understudy "$CARGO_TARGET_DIR/release/understudy" \
  --litellm-rs "$litellm_rs" --litellm "$litellm" "$@"
