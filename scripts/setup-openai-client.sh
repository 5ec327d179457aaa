#!/usr/bin/env bash
# Installs the official `openai` Python package into a venv cached outside the clone, so the
# gateway's end-to-end test can drive `understudy serve` with an unmodified OpenAI client.
set -euo pipefail
VERSION="3.51.0"
HOME_DIR="${UNDERSTUDY_HOME:-$HOME/.cache/understudy}"
VENV="$HOME_DIR/openai-client-venv-$VERSION"
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import openai" 2>/dev/null; then
  echo "openai $VERSION already in $VENV"
  exit 0
fi
mkdir -p "$HOME_DIR"
rm -rf "$VENV"
python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q "openai==$VERSION"
echo "installed openai $VERSION into $VENV"
