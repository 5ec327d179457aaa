#!/usr/bin/env bash
# The test suite's wall time on this machine, in two parts: building every test binary after
# all workspace sources are touched (dependencies stay cached), then running them. Run it in a
# fresh clone (a new path rebuilds every workspace crate, as CI's clean clone does).
# Usage: scripts/time-test-suite.sh [LOG]    (the run's output goes to LOG, default a temp file)
set -u
cd "$(dirname "$0")/.."
log="${1:-$(mktemp)}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/understudy/target}"
export UNDERSTUDY_HOME="${UNDERSTUDY_HOME:-$HOME/.cache/understudy}"
export CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-2}" CARGO_TERM_PROGRESS_WHEN=never
export UNDERSTUDY_REQUIRE_BROWSER=1 UNDERSTUDY_REQUIRE_SANDBOX=1 UNDERSTUDY_REQUIRE_LLAMA_SERVER=1
export UNDERSTUDY_REQUIRE_OPENAI=1 UNDERSTUDY_REQUIRE_ANTHROPIC=1 UNDERSTUDY_REQUIRE_POSTGRES=1
find crates xtask -name '*.rs' -exec touch {} +
start=$(date +%s)
cargo test --release --workspace --locked --no-run 2>&1 | tail -1
built=$(date +%s)
cargo test --release --workspace --locked --no-fail-fast >"$log" 2>&1
status=$?
end=$(date +%s)
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed;?$/) p += $i; if ($(i+1) ~ /^failed;?$/) f += $i } }
     END { printf "%d passed, %d failed\n", p, f }' "$log"
echo "test binaries run: $(grep -c '^     Running' "$log")"
echo "build: $((built - start)) s; run: $((end - built)) s; total: $((end - start)) s (exit $status)"
exit "$status"
