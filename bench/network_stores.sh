#!/usr/bin/env bash
# chatstore's Redis and PostgreSQL stores beside the raw servers, in one
# invocation: starts a throwaway redis-server and PostgreSQL 15 cluster on
# free loopback ports, runs store_bench's redis/postgres benchmarks against
# them, then redis-benchmark (LPUSH, LRANGE) and pgbench (one INSERT of a
# 500-byte row per transaction, and the matching reads) against the same
# servers, REPS times each, and prints medians. bench/README.md records
# the figures and explains the pairs.
# Usage: bench/network_stores.sh        (as root: PostgreSQL runs as postgres)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
REPS=${REPS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-5}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

work=$(mktemp -d /tmp/chatstore-netbench-XXXXXX)
chmod 755 "$work"
redis_port=$(free_port)
pg_port=$(free_port)
cleanup() {
  redis-cli -p "$redis_port" shutdown nosave >/dev/null 2>&1 || true
  runuser -u postgres -- "$PGBIN/pg_ctl" -D "$work/pg" -m fast stop \
    >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# Redis as the tests run it: in memory, no persistence.
redis-server --bind 127.0.0.1 --port "$redis_port" --save "" \
  --appendonly no --daemonize yes --dir "$work" --logfile "$work/redis.log"
until redis-cli -p "$redis_port" ping >/dev/null 2>&1; do sleep 0.05; done

# PostgreSQL with its defaults (fsync, synchronous_commit on): durable
# commits, as in production.
mkdir "$work/pg" && chown postgres "$work/pg"
runuser -u postgres -- "$PGBIN/initdb" -D "$work/pg" -A trust -U postgres \
  -E UTF8 >/dev/null
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$work/pg" -w -l "$work/pg/server.log" \
  -o "-p $pg_port -c listen_addresses=127.0.0.1 -k $work/pg" start >/dev/null
psql() { command psql -X -q -h 127.0.0.1 -p "$pg_port" -U postgres "$@"; }
psql -c "CREATE DATABASE chatstore" -c "CREATE DATABASE raw"

cmake --build "$BUILD" -j"$(nproc)" --target store_bench >/dev/null
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/'), PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}')"

echo "## chatstore (store_bench, medians of $REPS)"
CHATSTORE_BENCH_REDIS_URI="redis://127.0.0.1:$redis_port/0" \
CHATSTORE_BENCH_POSTGRES_URI="postgresql://postgres@127.0.0.1:$pg_port/chatstore" \
  "$BUILD/bench/store_bench" --benchmark_filter='/(redis|postgres)' \
  --benchmark_repetitions="$REPS" --benchmark_report_aggregates_only=true \
  --benchmark_display_aggregates_only=true 2>&1 |
  grep -E '(redis|postgres)|^Bench' | grep -Ev '_(mean|stddev|cv) '

echo "## redis-benchmark: 500-byte values (requests/s, p50 ms; medians of $REPS)"
for clients in 1 16; do
  for test in lpush lrange_100; do
    rps=(); p50=()
    for _ in $(seq "$REPS"); do
      redis-cli -p "$redis_port" flushall >/dev/null
      # LRANGE_100 reads a list that its own run fills first.
      line=$(redis-benchmark -p "$redis_port" -c "$clients" -n 20000 -d 500 \
               -t "$test" --csv | grep -i "\"${test%_100}" | tail -1)
      rps+=("$(echo "$line" | cut -d, -f2 | tr -d '"')")
      p50+=("$(echo "$line" | cut -d, -f5 | tr -d '"')")
    done
    echo "$test clients=$clients rps=$(printf '%s\n' "${rps[@]}" | median) p50_ms=$(printf '%s\n' "${p50[@]}" | median)"
  done
done

echo "## pgbench: the same rows without chatstore (tps, latency ms; medians of $REPS)"
psql -d raw <<'SQL'
CREATE TABLE messages (session_id bigint, seq bigint, content text,
                       PRIMARY KEY (session_id, seq));
CREATE SEQUENCE seqs;
INSERT INTO messages SELECT 0, g, repeat('x', 500) FROM generate_series(1, 1000) g;
SQL
echo "INSERT INTO messages VALUES (:client_id + 1, nextval('seqs'), repeat('x', 500));" \
  >"$work/insert.sql"
echo "\\set seq random(0, 880)
SELECT session_id, seq, content FROM messages WHERE session_id = 0 AND seq > :seq ORDER BY seq LIMIT 20;" \
  >"$work/read20.sql"
echo "\\set seq random(0, 880)
SELECT session_id, seq, content FROM messages WHERE session_id = 0 AND seq > :seq ORDER BY seq LIMIT 100;" \
  >"$work/read100.sql"
for run in "insert 1" "insert 16" "read20 1" "read100 1"; do
  set -- $run
  tps=(); lat=()
  for _ in $(seq "$REPS"); do
    out=$(command pgbench -h 127.0.0.1 -p "$pg_port" -U postgres -n -M prepared \
            -f "$work/$1.sql" -c "$2" -j "$2" -T "$SECONDS_PER_RUN" raw 2>&1)
    tps+=("$(echo "$out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p')")
    lat+=("$(echo "$out" | sed -n 's/^latency average = \([0-9.]*\) ms/\1/p')")
  done
  echo "$1 clients=$2 tps=$(printf '%s\n' "${tps[@]}" | median) latency_ms=$(printf '%s\n' "${lat[@]}" | median)"
done
