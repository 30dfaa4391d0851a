#!/bin/sh
# Runs the end-to-end tests against a chatstored binary:
#   tests/e2e/run.sh path/to/chatstored
# Installs the pinned npm dependencies (npm ci) on first use.
set -eu
chatstored="${1:?usage: $0 path/to/chatstored}"
case "$chatstored" in
  /*) ;;
  *) chatstored="$(pwd)/$chatstored" ;;
esac
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
if [ ! -d node_modules/eventsource ]; then
  npm ci --no-audit --no-fund
fi
CHATSTORED="$chatstored" exec node --test eventsource.test.mjs
