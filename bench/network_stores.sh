#!/usr/bin/env bash
# chatstore's Redis and PostgreSQL stores beside the raw servers, in one
# invocation: starts a throwaway redis-server and PostgreSQL 15 cluster on
# free loopback ports, then runs ROUNDS rounds of, back to back,
#   store_bench's redis/postgres benchmarks (appends of a 500-byte message,
#     reads of 20 messages and of 100 events),
#   redis-benchmark LPUSH and LRANGE_100 with 500-byte values,
#   pgbench: one INSERT of a 500-byte row per transaction, and SELECTs of 20
#     and 100 such rows by (session_id, seq),
# on fresh data each round, and prints the median of each figure with the
# ratio chatstore / raw server. Rounds interleave the two sides so that a
# noisy machine slows both alike. bench/README.md records the results.
# Usage: bench/network_stores.sh      (as root: PostgreSQL runs as postgres)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
ROUNDS=${ROUNDS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-5}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

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

cmake --build "$BUILD" -j"$(nproc)" --target store_bench >/dev/null
echo "# $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/'), PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}'), $ROUNDS rounds"

# Every measurement is appended as "name value" to $work/figures.
record() { echo "$1 $2" >>"$work/figures"; }

# pgbench scripts: the raw rows chatstore's statements are compared with.
echo "INSERT INTO messages VALUES (:client_id + 1, nextval('seqs'), repeat('x', 500));" \
  >"$work/insert.sql"
for n in 20 100; do
  echo "\\set seq random(0, 880)
SELECT session_id, seq, content FROM messages WHERE session_id = 0 AND seq > :seq ORDER BY seq LIMIT $n;" \
    >"$work/read$n.sql"
done

for round in $(seq "$ROUNDS"); do
  echo "round $round: $(date -u +%H:%M:%SZ), load $(cut -d' ' -f1 /proc/loadavg)" >&2
  redis-cli -p "$redis_port" flushall >/dev/null
  psql -c "DROP DATABASE IF EXISTS chatstore" -c "DROP DATABASE IF EXISTS raw" \
    -c "CREATE DATABASE chatstore" -c "CREATE DATABASE raw"
  psql -d raw <<'SQL'
CREATE TABLE messages (session_id bigint, seq bigint, content text,
                       PRIMARY KEY (session_id, seq));
CREATE SEQUENCE seqs;
INSERT INTO messages SELECT 0, g, repeat('x', 500) FROM generate_series(1, 1000) g;
SQL

  # chatstore: the console report ("items_per_second=3.5k/s", "p50_us=197").
  CHATSTORE_BENCH_REDIS_URI="redis://127.0.0.1:$redis_port/0" \
  CHATSTORE_BENCH_POSTGRES_URI="postgresql://postgres@127.0.0.1:$pg_port/chatstore" \
    "$BUILD/bench/store_bench" \
    --benchmark_filter='^(AppendMessage|ReadSession20|Replay100)/(redis|postgres)' \
    2>/dev/null | awk '
      function number(text,   unit) {
        sub(/\/s$/, "", text); unit = substr(text, length(text));
        if (unit == "k") return substr(text, 1, length(text) - 1) * 1e3;
        if (unit == "M") return substr(text, 1, length(text) - 1) * 1e6;
        return text + 0 }
      /^(Append|Read|Replay)/ {
        split($1, p, "/"); name = p[1] "/" p[2];
        if (p[1] ~ /Append/) name = name "/" ($1 ~ /threads:16/ ? 16 : 1);
        for (i = 2; i <= NF; ++i) {
          if ($i ~ /^items_per_second=/) { sub(/^[^=]*=/, "", $i); print name, number($i) }
          if ($i ~ /^p50_us=/) { sub(/^[^=]*=/, "", $i); print name "/p50_us", number($i) }
        } }' >>"$work/figures"

  for clients in 1 16; do
    line=$(redis-benchmark -p "$redis_port" -c "$clients" -n 20000 -d 500 \
             -t lpush --csv | grep '"LPUSH"')
    record "LPUSH/$clients" "$(echo "$line" | cut -d, -f2 | tr -d '"')"
  done
  line=$(redis-benchmark -p "$redis_port" -c 1 -n 20000 -d 500 \
           -t lrange_100 --csv | grep '"LRANGE_100')
  record "LRANGE_100/p50_us" "$(echo "$line" | cut -d, -f5 | tr -d '"' |
                                awk '{print $1 * 1000}')"

  for run in "insert 1" "insert 16" "read20 1" "read100 1"; do
    set -- $run
    out=$(command pgbench -h 127.0.0.1 -p "$pg_port" -U postgres -n -M prepared \
            -f "$work/$1.sql" -c "$2" -j "$2" -T "$SECONDS_PER_RUN" raw 2>&1)
    if [ "$1" = insert ]; then
      record "pgbench-insert/$2" "$(echo "$out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p')"
    else
      record "pgbench-$1/latency_us" "$(echo "$out" |
        sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' | awk '{print $1 * 1000}')"
    fi
  done
done

median() {  # median of the values recorded under name $1
  awk -v n="$1" '$1 == n {print $2}' "$work/figures" | sort -g |
    awk '{a[NR] = $1} END {if (NR) print a[int((NR + 1) / 2)]}'
}
row() {  # label, chatstore name, raw name, unit
  local ours raw
  ours=$(median "$2"); raw=$(median "$3")
  awk -v l="$1" -v o="$ours" -v r="$raw" -v u="$4" 'BEGIN {
    printf "| %s | %.0f %s | %.0f %s | %.2f |\n", l, o, u, r, u, o / r }'
}
echo "| pair (chatstore vs raw server) | chatstore | raw | ratio |"
echo "|---|---|---|---|"
row "Redis: append 500 B, 1 client vs LPUSH -c 1" AppendMessage/redis/1 LPUSH/1 "/s"
row "Redis: append 500 B, 16 clients vs LPUSH -c 16" AppendMessage/redis/16 LPUSH/16 "/s"
row "Redis: Replay100 p50 vs LRANGE_100 p50" Replay100/redis/p50_us LRANGE_100/p50_us "µs"
row "Redis: ReadSession20 p50 vs LRANGE_100 p50" ReadSession20/redis/p50_us LRANGE_100/p50_us "µs"
row "PostgreSQL: append 500 B, 1 client vs INSERT" AppendMessage/postgres/1 pgbench-insert/1 "/s"
row "PostgreSQL: append 500 B, 16 clients vs INSERT" AppendMessage/postgres/16 pgbench-insert/16 "/s"
row "PostgreSQL: ReadSession20 p50 vs SELECT 20 rows (mean)" ReadSession20/postgres/p50_us pgbench-read20/latency_us "µs"
row "PostgreSQL: Replay100 p50 vs SELECT 100 rows (mean)" Replay100/postgres/p50_us pgbench-read100/latency_us "µs"
echo "(every figure: median of $ROUNDS rounds; raw values in the order recorded:)"
sort "$work/figures" | awk '{v[$1] = v[$1] " " $2} END {for (k in v) print "  " k ":" v[k]}' | sort
