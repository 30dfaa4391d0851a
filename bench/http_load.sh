#!/usr/bin/env bash
# HTTP load on a real chatstored: wrk appending messages (durable, SQLite
# synchronous=FULL) and reading a session, on keep-alive connections.
# Usage: bench/http_load.sh [seconds] [connections]
# Starts its own chatstored on a free loopback port in a temp dir and stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SECONDS_PER_RUN=${1:-10}
CONNECTIONS=${2:-32}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
cmake --build "$BUILD" -j"$(nproc)" --target chatstored >/dev/null

dir=$(mktemp -d /tmp/chatstore-load-XXXXXX)
server_pid=""
cleanup() {
  [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT

# --dev prints a token; the rate limit is off so wrk measures the server.
(cd "$dir" && exec "$OLDPWD/$BUILD/src/server/chatstored" --dev --listen 127.0.0.1:0 \
   --rate-limit 0 >"$dir/out" 2>"$dir/log") &
server_pid=$!
for _ in $(seq 1 200); do
  grep -q '^listening on ' "$dir/out" 2>/dev/null && break
  sleep 0.05
done
base=$(sed -n 's/^listening on //p' "$dir/out")
token=$(grep -o 'eyJ[A-Za-z0-9._-]*' "$dir/out" | head -1)
[[ -n "$base" && -n "$token" ]] || { echo "chatstored did not start" >&2; cat "$dir/log" >&2; exit 1; }

sid=$(curl -s -X POST -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d '{"title":"load"}' "$base/v1/sessions" | sed -n 's/^{"id":"\([^"]*\)".*/\1/p')

cat >"$dir/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer $token"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"role":"user","content":"The quick brown fox jumps over the lazy dog while the assistant plans a trip to Kyoto."}'
LUA
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) cores; ${SECONDS_PER_RUN}s, ${CONNECTIONS} connections, 2 wrk threads"
echo "## POST /v1/sessions/{id}/messages (durable: SQLite, synchronous=FULL)"
wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --latency -s "$dir/post.lua" \
  "$base/v1/sessions/$sid/messages"
echo "## GET /v1/sessions/{id}"
wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --latency \
  -H "Authorization: Bearer $token" "$base/v1/sessions/$sid"
