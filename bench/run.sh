#!/usr/bin/env bash
# Runs the store benchmarks the way bench/README.md records them: a release
# build, every benchmark repeated, medians reported.
# Usage: bench/run.sh [extra Google Benchmark flags]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
REPS=${REPS:-5}
cmake --build "$BUILD" -j"$(nproc)" --target store_bench >/dev/null
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p')"
"$BUILD/bench/store_bench" --benchmark_repetitions="$REPS" \
  --benchmark_report_aggregates_only=true --benchmark_display_aggregates_only=true \
  "$@"
