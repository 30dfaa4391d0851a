#!/usr/bin/env bash
# Runs every fuzz target for a set time (make fuzz). New interesting inputs
# go to <build>/fuzz-corpus/<name> (the seed corpus in fuzz/corpus is only
# read); crashes are written to fuzz/crashes/<name>/, where the
# fuzz_regression_<name> test of make test replays them once committed.
# Usage: fuzz/run.sh BUILD_DIR SECONDS_PER_TARGET [target...]
set -uo pipefail
cd "$(dirname "$0")/.."
build=$1
seconds=$2
shift 2
targets=("$@")
if ((${#targets[@]} == 0)); then
  targets=(http_request json_request merge_patch jwt_verify sse_format mutation_prepare)
fi
summary="$build/fuzz-summary.txt"
: >"$summary"
status=0
for name in "${targets[@]}"; do
  corpus="$build/fuzz-corpus/$name"
  crashes="fuzz/crashes/$name"
  mkdir -p "$corpus" "$crashes"
  log="$build/fuzz-$name.log"
  echo "== $name: ${seconds}s" >&2
  "$build/fuzz/fuzz_$name" -max_total_time="$seconds" -print_final_stats=1 \
      -artifact_prefix="$crashes/" -timeout=10 -rss_limit_mb=2048 \
      "$corpus" "fuzz/corpus/$name" >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
  ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1)
  corpus_size=$(ls "$corpus" | wc -l)
  line="$name: exit $rc, $execs executions in ${seconds}s, $cov, $ft, corpus $corpus_size"
  echo "$line" | tee -a "$summary"
  if ((rc != 0)); then
    status=1
    grep -m5 -E 'ERROR|property failed|Test unit written' "$log" >&2
  fi
done
exit $status
