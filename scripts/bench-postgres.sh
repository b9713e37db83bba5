#!/usr/bin/env bash
# The PostgreSQL benchmarks of BENCHMARKS.md, in one run on one server:
#
#   1. pgbench TPC-B-like, 32 clients, at scale 1 (one branch row: every
#      transaction updates the same hot row, the baseline of one hot account)
#      and at scale 64 (64 branches: the baseline of 64 accounts), each in a
#      fresh database (pgbench -i), run before each of tally's runs of that
#      scale and after the last: pgbench, tally, pgbench, tally, …, pgbench;
#   2. the ledger through two `tally serve` nodes over HTTP
#      (BenchmarkTwoNodes, ./cmd/tally/) and in process
#      (BenchmarkGenerationCycle, ./internal/postgres/): on 1 account with
#      scale 1; on 64 accounts, in turn and (two nodes) at random, with
#      scale 64;
#   3. a markdown table: each scenario's ops/s and its ratio to the mean
#      of the two pgbench runs just before and just after it, with the
#      ratio's range (to each of them): a wide range says the machine's
#      load moved during that scenario.
#
# While it runs, a sampler records pg_stat_activity every 20 ms (state and
# wait event of every backend of the benchmark databases) and prints where
# the backends of each scenario spent their time. It runs the tree it is in,
# committed or not: the commit (and "-dirty") is printed first.
#
#   TALLY_TEST_POSTGRES  a postgres:// URL of the server (a database to
#                        connect to first; the benchmarks create and drop
#                        their own). Default below.
#   BENCH_PGBENCH_TIME   seconds of each pgbench run (20)
#   BENCH_TWONODES_TIME  -benchtime of BenchmarkTwoNodes (20s)
#   BENCH_CYCLE_TIME     -benchtime of BenchmarkGenerationCycle (10s)
#
# Everything shares the machine: pgbench, PostgreSQL, the nodes and the
# clients. Load from anything else running shows in the ratios; the load
# average is printed before and after.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"

DSN=${TALLY_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
export TALLY_TEST_POSTGRES=$DSN
PGBENCH_TIME=${BENCH_PGBENCH_TIME:-20}
TWONODES_TIME=${BENCH_TWONODES_TIME:-20s}
CYCLE_TIME=${BENCH_CYCLE_TIME:-10s}
CLIENTS=32

case $DSN in
  postgres://* | postgresql://*) ;;
  *) echo "TALLY_TEST_POSTGRES must be a postgres:// URL (tally serve --db needs one): $DSN" >&2; exit 2 ;;
esac
for tool in psql pgbench go; do
  command -v "$tool" >/dev/null || { echo "bench-postgres: $tool not found" >&2; exit 2; }
done

# with_db URL NAME: URL with its database replaced by NAME.
with_db() {
  local url=$1 name=$2 base query=""
  base=${url%%\?*}
  [ "$base" != "$url" ] && query="?${url#*\?}"
  local rest=${base#*://}
  local scheme=${base%%://*}
  local authority=${rest%%/*}
  printf '%s://%s/%s%s' "$scheme" "$authority" "$name" "$query"
}

sql() { psql "$DSN" -X -q -v ON_ERROR_STOP=1 -At "$@"; }

tag=$$
DB_S1=tally_pgbench_s1_$tag
DB_S64=tally_pgbench_s64_$tag
DB_WAITS=tally_pgwaits_$tag
WORK=$(mktemp -d)
SAMPLER_PID=

cleanup() {
  local rc=$?
  if [ -n "$SAMPLER_PID" ]; then
    psql "$(with_db "$DSN" "$DB_WAITS")" -X -q -c 'INSERT INTO stop VALUES (true)' >/dev/null 2>&1 || true
    kill "$SAMPLER_PID" 2>/dev/null || true
    wait "$SAMPLER_PID" 2>/dev/null || true
  fi
  for db in "$DB_S1" "$DB_S64" "$DB_WAITS"; do
    psql "$DSN" -X -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 ||
      echo "bench-postgres: could not drop database $db" >&2
  done
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== machine"
echo "cpus: $(nproc); $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'); load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "PostgreSQL: $(sql -c 'SHOW server_version')," \
  "fsync=$(sql -c 'SHOW fsync') synchronous_commit=$(sql -c 'SHOW synchronous_commit')" \
  "wal_sync_method=$(sql -c 'SHOW wal_sync_method') commit_delay=$(sql -c 'SHOW commit_delay')" \
  "shared_buffers=$(sql -c 'SHOW shared_buffers') max_connections=$(sql -c 'SHOW max_connections')"
echo "$(go version); $(pgbench --version)"
echo "tree: $(git describe --always --dirty 2>/dev/null || echo 'not a git checkout')"

# The wait-event sampler: a procedure in its own database that, every 20 ms,
# copies the state of the backends of the other benchmark databases into a
# table, until a row appears in stop. Each sample is its own transaction
# (pg_stat_activity is read once per transaction).
sql -c "CREATE DATABASE $DB_WAITS"
WAITS_DSN=$(with_db "$DSN" "$DB_WAITS")
psql "$WAITS_DSN" -X -q -v ON_ERROR_STOP=1 <<'SQL'
CREATE TABLE stop (b boolean);
CREATE TABLE samples (at timestamptz, datname text, state text, wait text);
CREATE TABLE phases (at timestamptz, phase text);
CREATE TABLE deadlocks (datname text PRIMARY KEY, d bigint);
CREATE PROCEDURE sample() LANGUAGE plpgsql AS $$
BEGIN
  WHILE NOT EXISTS (SELECT FROM stop) LOOP
    INSERT INTO samples
      SELECT clock_timestamp(), datname, state, coalesce(wait_event_type || ':' || wait_event, 'CPU')
      FROM pg_stat_activity
      WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
        AND (datname LIKE 'tally_pgbench_%' OR datname LIKE 'tally_test_%' OR datname LIKE 'tally_twonodes_%')
        AND datname <> current_database();
    INSERT INTO deadlocks
      SELECT datname, deadlocks FROM pg_stat_database
      WHERE datname LIKE 'tally_twonodes_%' OR datname LIKE 'tally_pgbench_%'
      ON CONFLICT (datname) DO UPDATE SET d = greatest(deadlocks.d, excluded.d);
    COMMIT;
    PERFORM pg_sleep(0.02);
  END LOOP;
END
$$;
SQL
psql "$WAITS_DSN" -X -q -c 'CALL sample()' >/dev/null 2>"$WORK/sampler.err" &
SAMPLER_PID=$!

# mark PHASE: the samples from now on belong to PHASE.
mark() { psql "$WAITS_DSN" -X -q -v ON_ERROR_STOP=1 -c "INSERT INTO phases VALUES (clock_timestamp(), '$1')" >/dev/null; }

# pgbench_run URL SCALE N: the scale's Nth TPC-B-like run; prints its TPS.
pgbench_run() {
  local url=$1 scale=$2 n=$3 log="$WORK/pgbench_$2_$3.log"
  echo "== pgbench -b tpcb-like -c $CLIENTS -j 2 -T $PGBENCH_TIME -n (scale $scale, run $n)" >&2
  mark "pgbench scale $scale"
  pgbench -b tpcb-like -c "$CLIENTS" -j 2 -T "$PGBENCH_TIME" -n "$url" >"$log" 2>&1 || { cat "$log" >&2; return 1; }
  mark setup
  grep -E '^(number of transactions actually processed|number of failed|latency average|tps)' "$log" | sed 's/^/   /' >&2
  local tps
  tps=$(awk '/^tps = / && $3 > 0 { printf "%.1f", $3; exit }' "$log")
  [ -n "$tps" ] || { echo "bench-postgres: no TPS in pgbench's output:" >&2; cat "$log" >&2; return 1; }
  printf '%s' "$tps"
}

# gobench LABEL OUT PACKAGE PATTERN BENCHTIME: one go test -bench run,
# appended to OUT.
gobench() {
  echo "== go test -run '^\$' -bench '$4' -benchtime $5 $3"
  mark "$1"
  go test -run '^$' -bench "$4" -benchtime "$5" "$3" | tee -a "$2"
  mark setup
}

# Each scale's pgbench runs before every tally run of that scale and after
# the last, and a scenario's baseline is the mean of the runs just before and
# just after it: minutes apart on a shared machine, one pair of runs around
# all of a scale's scenarios would let the later ones drift with the load.
# BEFORE and AFTER are keyed by the Go benchmark's name; RUNS lists a
# scale's pgbench runs in order.
declare -A BEFORE AFTER RUNS
# bracketed LABEL OUT PACKAGE NAME BENCHTIME: gobench, then the scale's next
# pgbench run, which is this scenario's after and the next one's before
# (url, scale, n and prev are the loop's below).
bracketed() {
  gobench "$1" "$2" "$3" "$4\$" "$5"
  n=$((n + 1))
  local next
  next=$(pgbench_run "$url" "$scale" $n)
  BEFORE[$4]=$prev
  AFTER[$4]=$next
  RUNS[$scale]+=", $next"
  prev=$next
}
for scale in 1 64; do
  db=$DB_S1
  [ "$scale" = 64 ] && db=$DB_S64
  url=$(with_db "$DSN" "$db")
  sql -c "CREATE DATABASE $db"
  echo "== pgbench -i -s $scale"
  mark setup
  pgbench -i -s "$scale" -q "$url" >"$WORK/init_$scale.log" 2>&1 || { cat "$WORK/init_$scale.log" >&2; exit 1; }
  n=1
  prev=$(pgbench_run "$url" "$scale" $n)
  RUNS[$scale]=$prev
  bracketed "two nodes, accounts=$scale" "$WORK/twonodes.txt" ./cmd/tally/ "BenchmarkTwoNodes/accounts=$scale" "$TWONODES_TIME"
  if [ "$scale" = 64 ]; then
    bracketed "two nodes, accounts=64, random" "$WORK/twonodes.txt" ./cmd/tally/ "BenchmarkTwoNodes/accounts=64,pick=random" "$TWONODES_TIME"
  fi
  bracketed "in process, accounts=$scale" "$WORK/cycle.txt" ./internal/postgres/ "BenchmarkGenerationCycle/accounts=$scale" "$CYCLE_TIME"
  sql -c "DROP DATABASE $db WITH (FORCE)"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

# Stop the sampler (it ends its loop at the next sample).
sql_waits() { psql "$WAITS_DSN" -X -q -v ON_ERROR_STOP=1 -At "$@"; }
sql_waits -c 'INSERT INTO stop VALUES (true)'
wait "$SAMPLER_PID" || { echo "bench-postgres: the wait sampler failed:" >&2; cat "$WORK/sampler.err" >&2; }
SAMPLER_PID=

# ops_per_s FILE NAME: ops/s of one sub-benchmark: its cycles/s metric if it
# reports one, else 1e9 / ns/op.
ops_per_s() {
  awk -v name="$2" '
    $1 ~ "^" name "(-[0-9]+)?$" {
      for (i = 3; i < NF; i++) {
        if ($(i + 1) == "cycles/s") { printf "%.1f", $i; exit }
        if ($(i + 1) == "ns/op") ns = $i
      }
      if (ns > 0) { printf "%.1f", 1e9 / ns; exit }
    }' "$1"
}
metric() { # metric FILE NAME UNIT
  awk -v name="$2" -v unit="$3" '
    $1 ~ "^" name "(-[0-9]+)?$" { for (i = 3; i < NF; i++) if ($(i + 1) == unit) { print $i; exit } }' "$1"
}

# ratio OPS BEFORE AFTER [FACTOR]: FACTOR × OPS over the mean of the two
# pgbench runs around it, and the range over each of them.
ratio() {
  awk -v a="$1" -v b="$2" -v c="$3" -v f="${4:-1}" 'BEGIN {
    if (a == "" || b <= 0 || c <= 0) { print "– | –"; exit }
    lo = b > c ? b : c; hi = b > c ? c : b
    printf "%.3f× | %.3f–%.3f×", f * a / ((b + c) / 2), f * a / lo, f * a / hi
  }'
}
row() { # row SCENARIO NAME OPS [P50 P99]
  local before=${BEFORE[$2]:-} after=${AFTER[$2]:-} per
  per=$(ratio "$3" "$before" "$after" 2)
  printf '| %s | %s | %s / %s | %s | %s | %s |\n' "$1" "${3:-–}" "${before:-–}" "${after:-–}" "$(ratio "$3" "$before" "$after")" \
    "${per%% |*}" "${4:-}"
}

echo
echo "== results (each ratio to the mean of the pgbench runs of the matching scale just before and just after it, this run)"
echo
echo "| scenario | ops/s | pgbench TPS before / after | vs. pgbench TPS | range (vs. each run) | per DB transaction (2 per cycle) | cycle latency p50 / p99 |"
echo "|---|---:|---:|---:|---:|---:|---|"
for accounts in 1 64; do
  what="64 branches"
  [ "$accounts" = 1 ] && what="one hot branch row"
  printf '| pgbench tpcb-like, scale %s (%s), %d clients: runs in order | %s | | | | | |\n' \
    "$accounts" "$what" "$CLIENTS" "${RUNS[$accounts]}"
  name="BenchmarkTwoNodes/accounts=$accounts"
  p50=$(metric "$WORK/twonodes.txt" "$name" p50-ms)
  p99=$(metric "$WORK/twonodes.txt" "$name" p99-ms)
  row "generation cycle over HTTP, two nodes, $accounts account(s), $CLIENTS clients" "$name" "$(ops_per_s "$WORK/twonodes.txt" "$name")" \
    "${p50:-?} ms / ${p99:-?} ms"
  if [ "$accounts" = 64 ]; then
    name="BenchmarkTwoNodes/accounts=64,pick=random"
    p50=$(metric "$WORK/twonodes.txt" "$name" p50-ms)
    p99=$(metric "$WORK/twonodes.txt" "$name" p99-ms)
    row "generation cycle over HTTP, two nodes, 64 accounts picked at random, $CLIENTS clients" "$name" "$(ops_per_s "$WORK/twonodes.txt" "$name")" \
      "${p50:-?} ms / ${p99:-?} ms"
  fi
  name="BenchmarkGenerationCycle/accounts=$accounts"
  row "generation cycle in process, $accounts account(s), $CLIENTS goroutines" "$name" "$(ops_per_s "$WORK/cycle.txt" "$name")"
done
echo
echo "retries (5xx or transport errors retried with the same Idempotency-Key):" \
  "accounts=1: $(metric "$WORK/twonodes.txt" BenchmarkTwoNodes/accounts=1 retries)," \
  "accounts=64: $(metric "$WORK/twonodes.txt" BenchmarkTwoNodes/accounts=64 retries)," \
  "accounts=64,pick=random: $(metric "$WORK/twonodes.txt" BenchmarkTwoNodes/accounts=64,pick=random retries)"
# Deadlocks PostgreSQL detected in this run's benchmark databases (each one
# stalled its transactions for deadlock_timeout before one was rolled back).
echo "deadlocks PostgreSQL detected in this run's pgbench and two-node databases (pg_stat_database, sampled; at least):" \
  "$(sql_waits -c "SELECT coalesce(sum(d), 0) FROM deadlocks")"

# Wait events, per scenario: each database belongs to the phase (mark) it was
# first seen in. Only backends inside a transaction count: idle pool
# connections are not working.
echo
echo "== where the backends were (pg_stat_activity every 20 ms; share of samples of backends in a transaction)"
echo
sql_waits <<'SQL' | column -t -s '|'
WITH tagged AS (
  SELECT s.*, (SELECT p.phase FROM phases p WHERE p.at <= s.at ORDER BY p.at DESC LIMIT 1) AS phase
  FROM samples s
), born AS ( -- a database belongs to the phase it was first seen busy in
  SELECT DISTINCT ON (datname) datname, phase AS scenario
  FROM tagged WHERE phase <> 'setup' ORDER BY datname, at
), big AS ( -- not the short-lived databases of a benchmark's first rounds,
            -- nor those of tests someone else runs meanwhile (tally_test_*)
  SELECT datname FROM tagged WHERE state <> 'idle' AND phase <> 'setup'
  GROUP BY datname HAVING count(*) >= 100
), busy AS (
  SELECT b.scenario, t.state || ' ' || t.wait AS what
  FROM tagged t JOIN born b USING (datname) JOIN big USING (datname)
  WHERE t.state <> 'idle' AND t.phase <> 'setup'
), counted AS (
  SELECT scenario, what, count(*) AS k,
         sum(count(*)) OVER (PARTITION BY scenario) AS total,
         row_number() OVER (PARTITION BY scenario ORDER BY count(*) DESC) AS r
  FROM busy WHERE scenario IS NOT NULL AND scenario <> 'setup' GROUP BY scenario, what
)
SELECT 'scenario|backend state and wait event|share|samples'
UNION ALL
SELECT scenario || '|' || what || '|' || round(100.0 * k / total, 1) || '%|' || k
FROM (SELECT * FROM counted WHERE r <= 6 ORDER BY scenario, r) x;
SQL
