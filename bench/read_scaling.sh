#!/usr/bin/env bash
# Reads that scale with the workers (docs/reading.md): server rows visited and catch-up time
# of `noop` (all defaults) with 1, 2, 4, 8 and 16 workers (READ_SCALING_WORKERS), reading through the per-partition index
# (after) and walking the primary key (before: the same run with the index dropped), then
# what the index costs appends (`projd seed`, and single appends by pgbench at 200/s).
# Rows visited = heap rows fetched from events (pg_stat_user_tables idx_tup_fetch +
# seq_tup_read) during the catch-up; server CPU = the CPU seconds of every server process
# meanwhile (all statements: reads, checkpoints, coordination). Run under a private server:
#
#   build/tests/projd-testpg -- bash bench/read_scaling.sh build/cmd/projd [EVENTS]
set -euo pipefail
projd=$1
events=${2:-5000000}
: "${DATABASE_URL:?run under projd-testpg}"
export DATABASE_SCHEMA=read_scaling LOG_LEVEL=warn HTTP_ADDR=off PROJECTIONS=noop
index=events_projd_partition_64
q() { PGOPTIONS="-c search_path=$DATABASE_SCHEMA" psql "$DATABASE_URL" -qAtc "$1"; }
visited() {
  q "SELECT coalesce(idx_tup_fetch, 0) + coalesce(seq_tup_read, 0) FROM pg_stat_user_tables
     WHERE schemaname = '$DATABASE_SCHEMA' AND relname = 'events'"
}
# CPU seconds the server spent so far: the postmaster, its live backends, and the backends
# that ended (reaped into the postmaster's cutime/cstime).
server_cpu() {
  local pm
  pm=$(head -1 "$(q "SHOW data_directory")/postmaster.pid")
  { awk '{ print $14 + $15 + $16 + $17 }' "/proc/$pm/stat"
    for c in $(pgrep -P "$pm"); do awk '{ print $14 + $15 }' "/proc/$c/stat" 2>/dev/null || true; done
  } | awk -v hz="$(getconf CLK_TCK)" '{ t += $1 } END { printf "%.1f", t / hz }'
}
pgbench=$(command -v pgbench || ls -d /usr/lib/postgresql/*/bin/pgbench | sort -V | tail -1)

"$projd" migrate | grep index
seeded=$( { /usr/bin/time -f %e "$projd" seed --events "$events" --aggregates 10000 >/dev/null; } 2>&1 )
q "VACUUM ANALYZE events" >/dev/null
echo "seeded $events events in $seeded s (with the index)"

# One catch-up of a fresh replica set by N workers: seconds from the first checkpoint row to
# all 64 at the last position, and the rows the server visited meanwhile.
catch_up() {
  local n=$1 rs=$2 pids=() first="" now before after cpu_before cpu_after
  q "SELECT pg_stat_reset()" >/dev/null
  sleep 1  # the statistics reset reaches the collector asynchronously
  before=$(visited)
  cpu_before=$(server_cpu)
  for i in $(seq 1 "$n"); do REPLICA_SET=$rs WORKER_NAME=w$i "$projd" run >/dev/null 2>&1 & pids+=($!); done
  while true; do
    r=$(q "SELECT count(*), coalesce(min(position), 0) FROM projd_checkpoints WHERE replica_set = '$rs'")
    now=$(date +%s.%N)
    [[ -z "$first" && "${r%%|*}" != "0" ]] && first=$now
    [[ "$r" == "64|$events" ]] && break
    sleep 0.1
  done
  # Backends report their counters when they end: stop the workers first.
  kill -TERM "${pids[@]}"; wait "${pids[@]}" || true
  sleep 1
  after=$(visited)
  cpu_after=$(server_cpu)
  awk -v n="$n" -v s="$(echo "$now - $first" | bc)" -v v="$((after - before))" -v e="$events" -v plan="$3" \
    -v cpu="$(echo "$cpu_after - $cpu_before" | bc)" \
    'BEGIN { printf "%-18s %2d worker%s %6.1f s %8.0f events/s  rows visited %10d = %5.2f x the events  server CPU %5.1f s\n",
             plan, n, (n > 1 ? "s" : " "), s, e / s, v, v / e, cpu }'
}

echo
echo "catch-up of noop, all defaults, 64 partitions:"
workers=${READ_SCALING_WORKERS:-1 2 4 8 16}
for n in $workers; do catch_up "$n" "merge$n" "partition index"; done
q "DROP INDEX $index"
for n in $workers; do catch_up "$n" "walk$n" "primary-key walk"; done

# Appends: single INSERTs at 200/s for 10 s without and with the index (pgbench latency log).
append_latency() {
  local dir
  dir=$(mktemp -d /tmp/projd-read-scaling-XXXXXX)
  cat >"$dir/append.sql" <<'SQL'
INSERT INTO events (bounded_context, aggregate_type, aggregate_id, aggregate_version, event_type)
VALUES ('bench', 'append', md5(random()::text), 1, 'Appended');
SQL
  (cd "$dir" && PGOPTIONS="-c search_path=$DATABASE_SCHEMA" "$pgbench" -n -c 1 -R 200 -T 10 -f append.sql \
     --log --log-prefix=lat "$DATABASE_URL" >/dev/null 2>&1)
  cat "$dir"/lat.* | awk '{ print $3 / 1000 }' | sort -n |
    awk -v label="$1" '{ a[NR] = $1 } END { printf "single appends %-14s p50 %.2f ms  p99 %.2f ms  (%d appends)\n",
                        label, a[int(NR * 0.5) + 1], a[int(NR * 0.99) + 1], NR }'
  rm -rf "$dir"
}
echo
append_latency "without index"
"$projd" migrate | grep index
append_latency "with index"
