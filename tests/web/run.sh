#!/bin/sh
# Runs the session browser's tests:
#   tests/web/run.sh units                          node unit tests of web/
#   tests/web/run.sh browser path/to/chatstored DIR  chromium end-to-end;
#                                                    screenshots into DIR
# Installs the pinned npm dependencies (npm ci) on first use.
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
case "${1:-}" in
  units)
    exec node --test "$here/units.test.mjs"
    ;;
  browser)
    chatstored="${2:?usage: $0 browser path/to/chatstored artifacts-dir}"
    artifacts="${3:?usage: $0 browser path/to/chatstored artifacts-dir}"
    case "$chatstored" in
      /*) ;;
      *) chatstored="$(pwd)/$chatstored" ;;
    esac
    case "$artifacts" in
      /*) ;;
      *) artifacts="$(pwd)/$artifacts" ;;
    esac
    cd "$here"
    if [ ! -d node_modules/playwright-core ]; then
      npm ci --no-audit --no-fund
    fi
    CHATSTORED="$chatstored" WEB_ARTIFACTS_DIR="$artifacts" \
      exec node --test --test-concurrency=1 browser.test.mjs
    ;;
  *)
    echo "usage: $0 units | browser path/to/chatstored artifacts-dir" >&2
    exit 2
    ;;
esac
