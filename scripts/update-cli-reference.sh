#!/usr/bin/env bash
# Rewrites the command-line reference (docs/reference/cli.md) from the built binary's --help
# (a test fails when they drift).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${CARGO_TARGET_DIR:-target}/release/understudy"
# A separate assignment, so that a missing binary stops the script (set -e) instead of
# writing an empty block.
HELP="$("$BIN" --help)"
export HELP
python3 - <<'PY'
import os, re
text = open("docs/reference/cli.md").read()
block = "# Command-line reference\n\n```\n" + os.environ["HELP"] + "\n```\n"
text = re.sub(r"# Command-line reference\n\n```\n.*?\n```\n", lambda _: block, text, flags=re.S)
open("docs/reference/cli.md", "w").write(text)
PY
