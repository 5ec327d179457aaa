#!/bin/sh
# understudy grader in shell: 1 when the reply names the gold answer (case-insensitive), else 0.
# One JSON request on stdin, one verdict on stdout (docs/guide/graders.md); jq reads the JSON.
set -eu
request=$(cat)
reply=$(printf '%s' "$request" | jq -r '.extracted // ""')
gold=$(printf '%s' "$request" | jq -r '.target')
if [ -z "$reply" ]; then
  echo '{"score": 0, "format_failure": true, "reason": "empty reply"}'
elif printf '%s' "$reply" | grep -qiF -- "$gold"; then
  echo '{"score": 1}'
else
  jq -cn --arg gold "$gold" '{score: 0, reason: ("the reply does not name " + $gold)}'
fi
