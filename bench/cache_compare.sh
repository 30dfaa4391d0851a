#!/usr/bin/env bash
# The persistent cache beside python's diskcache, in one invocation on one
# disk: REPS rounds, each running bench/cache_bench (C++) and then
# bench/cache_diskcache.py on the same workloads, with their cache
# directories under the same parent. Prints a Markdown table of the medians
# over the rounds and the ratios (diskcache time / chatstore time; > 1 means
# chatstore is faster), as recorded in bench/README.md.
# Usage: bench/cache_compare.sh   (env: BUILD=build REPS=5 BENCH_DIR=...)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
REPS=${REPS:-5}
BENCH_DIR=${BENCH_DIR:-$BUILD/cache-bench}
# Debian's python3-diskcache is installed for Debian's python.
PYTHON=${PYTHON:-/usr/bin/python3}

cmake --build "$BUILD" -j"$(nproc)" --target cache_bench >/dev/null
mkdir -p "$BENCH_DIR"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p')," \
     "$(df -T "$BENCH_DIR" | awk 'NR==2 {print $2}') at $BENCH_DIR, load $(cut -d' ' -f1-3 /proc/loadavg)"
for ((i = 1; i <= REPS; i++)); do
  CHATSTORE_BENCH_DIR="$BENCH_DIR" "$BUILD/bench/cache_bench" \
    --benchmark_format=json >"$out/chatstore.$i.json"
  "$PYTHON" bench/cache_diskcache.py "$BENCH_DIR" >"$out/diskcache.$i.json"
done

"$PYTHON" - "$out" "$REPS" <<'PY'
import json, statistics, sys
out, reps = sys.argv[1], int(sys.argv[2])
ours, theirs = {}, {}
for i in range(1, reps + 1):
    for b in json.load(open(f"{out}/chatstore.{i}.json"))["benchmarks"]:
        name = b["name"].split("/")[0]
        ours.setdefault(name, []).append((b["p50_us"], b["p99_us"]))
    for name, r in json.load(open(f"{out}/diskcache.{i}.json")).items():
        theirs.setdefault(name, []).append((r["p50_us"], r["p99_us"]))
med = lambda xs, k: statistics.median(x[k] for x in xs)
print(f"medians of {reps} rounds; µs per operation; ratio = diskcache / chatstore")
print()
print("| benchmark | chatstore p50 | p99 | diskcache p50 | p99 | ratio p50 | ratio p99 |")
print("|---|---|---|---|---|---|---|")
for name in ours:
    o50, o99 = med(ours[name], 0), med(ours[name], 1)
    t50, t99 = med(theirs[name], 0), med(theirs[name], 1)
    print(f"| {name.removeprefix('BM_Cache')} | {o50:.1f} | {o99:.1f} | "
          f"{t50:.1f} | {t99:.1f} | **{t50 / o50:.1f}×** | {t99 / o99:.1f}× |")
PY
