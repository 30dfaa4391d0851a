#!/usr/bin/env bash
# The long soak: the same test as make test's server_soak_test
# (tests/server/soak_test.cc: 1,000 SSE subscribers, 200 appends/s, every
# event delivered in order, RSS at the end within 10% of after warm-up),
# measured for longer.
# Usage: bench/soak.sh [seconds]   (default 600)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
cmake --build "$BUILD" -j2 --target server_soak_test chatstored >/dev/null
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p')"
CHATSTORE_SOAK_SECONDS=${1:-600} "$BUILD/tests/server/server_soak_test"
