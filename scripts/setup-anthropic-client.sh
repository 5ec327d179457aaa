#!/usr/bin/env bash
# Installs the official `anthropic` Python package into a venv cached outside the clone, so the
# gateway's end-to-end test can drive `understudy serve` with an unmodified Anthropic client (the Messages API).
set -euo pipefail
VERSION="2.10.0"
HOME_DIR="${UNDERSTUDY_HOME:-$HOME/.cache/understudy}"
VENV="$HOME_DIR/anthropic-client-venv-$VERSION"
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import anthropic" 2>/dev/null; then
  echo "anthropic $VERSION already in $VENV"
  exit 0
fi
mkdir -p "$HOME_DIR"
rm -rf "$VENV"
python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q "anthropic==$VERSION"
echo "installed anthropic $VERSION into $VENV"
