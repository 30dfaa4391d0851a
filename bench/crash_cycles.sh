#!/usr/bin/env bash
# The long crash-consistency run: the same test as make test's
# server_crash_test (tests/server/crash_test.cc) with many more SIGKILL
# cycles of chatstored under concurrent append load on SQLite.
# Usage: bench/crash_cycles.sh [cycles]   (default 500)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
cmake --build "$BUILD" -j2 --target server_crash_test chatstored >/dev/null
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p')"
CHATSTORE_CRASH_CYCLES=${1:-500} "$BUILD/tests/server/server_crash_test"
