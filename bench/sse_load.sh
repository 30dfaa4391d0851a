#!/usr/bin/env bash
# SSE fan-out load on a real chatstored (SQLite, synchronous=FULL): for each
# stream count, starts a fresh server, runs bench/sse_load.cc against it and
# stops it; REPS runs per count. bench/README.md records the medians.
# Usage: bench/sse_load.sh [seconds] [stream counts...]
#   defaults: 20 s measured (after a 5 s warm-up), 1000 and 10000 streams.
#   SERVER_ARGS adds chatstored flags, e.g. to take the fsync out of the
#   path: SERVER_ARGS='--store sqlite://./data/chatstore.db?synchronous=normal'.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
REPS=${REPS:-3}
SECONDS_PER_RUN=${1:-20}
shift || true
COUNTS=("${@:-1000 10000}")
COUNTS=(${COUNTS[@]})
cmake --build "$BUILD" -j2 --target chatstored sse_load >/dev/null
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), load $(cut -d' ' -f1-3 /proc/loadavg)"

dir=""
server_pid=""
stop_server() {
  if [[ -n "$server_pid" ]]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  server_pid=""
  [[ -n "$dir" ]] && rm -rf "$dir"
  dir=""
}
trap stop_server EXIT

for streams in "${COUNTS[@]}"; do
  # 100 streams per session, so each append fans out to 100 streams; the
  # append rate keeps deliveries at 20,000/s (1,000 streams) and 10,000/s
  # (10,000 streams) on this 2-core machine.
  sessions=$(( (streams + 99) / 100 ))
  rate=$(( streams >= 10000 ? 100 : 200 ))
  for rep in $(seq 1 "$REPS"); do
    dir=$(mktemp -d /tmp/chatstore-sse-XXXXXX)
    # chatstored raises its own soft descriptor limit to the hard one.
    (cd "$dir" && exec "$OLDPWD/$BUILD/src/server/chatstored" \
       --dev --listen 127.0.0.1:0 --rate-limit 0 ${SERVER_ARGS:-} \
       >"$dir/out" 2>"$dir/log") &
    server_pid=$!
    for _ in $(seq 1 200); do
      grep -q '^listening on ' "$dir/out" 2>/dev/null && break
      sleep 0.05
    done
    port=$(sed -n 's/^listening on http:\/\/127.0.0.1://p' "$dir/out")
    token=$(grep -o 'eyJ[A-Za-z0-9._-]*' "$dir/out" | head -1)
    "$BUILD/bench/sse_load" --port "$port" --token "$token" --server-pid "$server_pid" \
      --streams "$streams" --sessions "$sessions" --rate "$rate" \
      --seconds "$SECONDS_PER_RUN" || echo "run failed: streams=$streams rep=$rep"
    stop_server
  done
done
