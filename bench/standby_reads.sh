#!/usr/bin/env bash
# Event reads from a hot standby (EVENTS_READ_URL): the catch-up of `noop` by 4 workers, all
# other settings default, reading events (a) from the primary and (b) from a streaming hot
# standby, and what the event reads cost the primary meanwhile:
#   - catch-up seconds (first checkpoint row to all 64 at the last position) and events/s;
#   - primary: pg_stat_statements of the statements that read events (query text with
#     `FROM events`: batch reads and high-water-mark proofs): calls, execution time, shared
#     blocks hit + read;
#   - rows visited (pg_stat_user_tables idx_tup_fetch + seq_tup_read of events) on the
#     primary and on the standby.
# Checkpoints and coordination stay on the primary (DATABASE_URL) in both runs. Before each
# run the standby has replayed the primary's WAL up to its insert position. Run under a
# private primary and standby (projd-testpg --standby also loads pg_stat_statements):
#
#   build/tests/projd-testpg --standby -- bash bench/standby_reads.sh build/cmd/projd [EVENTS]
set -euo pipefail
projd=$1
events=${2:-5000000}
: "${DATABASE_URL:?run under projd-testpg --standby}"
: "${PROJD_TEST_STANDBY_URL:?run under projd-testpg --standby}"
export DATABASE_SCHEMA=standby_reads LOG_LEVEL=warn HTTP_ADDR=off PROJECTIONS=noop
unset EVENTS_READ_URL
standby=$PROJD_TEST_STANDBY_URL
timeout=${STANDBY_READS_TIMEOUT:-3600}  # bound of every wait, seconds
q() { PGOPTIONS="-c search_path=$DATABASE_SCHEMA" psql "$DATABASE_URL" -qAtc "$1"; }
qs() { PGOPTIONS="-c search_path=$DATABASE_SCHEMA" psql "$standby" -qAtc "$1"; }
dir=$(mktemp -d /tmp/projd-standby-reads-XXXXXX)
pids=()
trap 'kill -TERM "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"' EXIT

# Polls "$@" (a command) every 0.1 s until it succeeds; fails after $timeout seconds.
wait_until() {
  local what=$1 deadline=$((SECONDS + timeout))
  shift
  until "$@"; do
    ((SECONDS < deadline)) || { echo "timed out after ${timeout} s waiting for $what" >&2; exit 1; }
    sleep 0.1
  done
}

if [[ "$(q "SHOW shared_preload_libraries")" != *pg_stat_statements* ]]; then
  echo "the primary does not load pg_stat_statements: run under projd-testpg --standby" >&2
  exit 1
fi
[[ "$(qs "SELECT pg_is_in_recovery()")" == "t" ]] || { echo "PROJD_TEST_STANDBY_URL is no standby" >&2; exit 1; }

"$projd" migrate >/dev/null
q "CREATE EXTENSION IF NOT EXISTS pg_stat_statements SCHEMA public" >/dev/null
seeded=$( { /usr/bin/time -f %e "$projd" seed --events "$events" --aggregates 10000 >/dev/null; } 2>&1 )
q "VACUUM ANALYZE events" >/dev/null
last=$(q "SELECT max(global_position) FROM events")
echo "seeded $events events in $seeded s"

# The standby has replayed everything the primary wrote so far.
replayed() { [[ "$(qs "SELECT pg_last_wal_replay_lsn() >= '$1'::pg_lsn")" == "t" ]]; }
wait_replayed() {
  local lsn start
  start=$(date +%s.%N)
  lsn=$(q "SELECT pg_current_wal_insert_lsn()")
  wait_until "the standby to replay $lsn" replayed "$lsn"
  printf "standby replayed the primary's WAL to %s (waited %.1f s)\n" "$lsn" "$(echo "$(date +%s.%N) - $start" | bc)"
}
# Heap rows of events fetched on a server (psql function q or qs) so far.
visited() {
  $1 "SELECT coalesce(idx_tup_fetch, 0) + coalesce(seq_tup_read, 0) FROM pg_stat_user_tables
      WHERE schemaname = '$DATABASE_SCHEMA' AND relname = 'events'"
}
# No client backend but this one: the workers' backends have ended (and so reported their
# counters to the statistics).
no_clients() {
  [[ "$($1 "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'
            AND pid <> pg_backend_pid()")" == "0" ]]
}
caught_up() {
  local r
  r=$(q "SELECT count(*), coalesce(min(position), 0) FROM projd_checkpoints WHERE replica_set = '$1'")
  [[ -z "$first" && "${r%%|*}" != "0" ]] && first=$(date +%s.%N)
  [[ "$r" == "64|$last" ]] && return 0
  for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && return 1; done
  echo "every worker exited before the catch-up:" >&2
  tail -n 5 "$dir"/*.log >&2
  exit 1
}

# One catch-up of a fresh replica set by 4 workers; $2 = EVENTS_READ_URL ("" = unset).
# Sets the globals rate, cost (primary's event-statement ms), prim_rows, stby_rows.
first=""
catch_up() {
  local rs=$1 read_url=$2 now pb sb pa sa
  wait_replayed
  q "SELECT public.pg_stat_statements_reset()" >/dev/null
  pb=$(visited q)
  sb=$(visited qs)
  first=""
  pids=()
  for i in 1 2 3 4; do
    if [[ -n "$read_url" ]]; then
      EVENTS_READ_URL=$read_url REPLICA_SET=$rs WORKER_NAME=w$i "$projd" run >"$dir/$rs-w$i.log" 2>&1 &
    else
      REPLICA_SET=$rs WORKER_NAME=w$i "$projd" run >"$dir/$rs-w$i.log" 2>&1 &
    fi
    pids+=($!)
  done
  wait_until "$rs to catch up" caught_up "$rs"
  now=$(date +%s.%N)
  kill -TERM "${pids[@]}"
  wait "${pids[@]}" || true
  pids=()
  wait_until "the workers' backends to end on the primary" no_clients q
  wait_until "the workers' backends to end on the standby" no_clients qs
  pa=$(visited q)
  sa=$(visited qs)
  secs=$(echo "$now - $first" | bc)
  rate=$(echo "$events / $secs" | bc -l)
  prim_rows=$((pa - pb))
  stby_rows=$((sa - sb))
  read -r calls cost blocks < <(q "SELECT coalesce(sum(calls), 0), coalesce(sum(total_exec_time), 0),
      coalesce(sum(shared_blks_hit + shared_blks_read), 0) FROM public.pg_stat_statements
      WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND query LIKE '%FROM events%'" | tr '|' ' ')
  printf "%-14s 4 workers %7.1f s %9.0f events/s  primary: event statements %7d calls %9.0f ms %10d blocks, rows visited %10d  standby: rows visited %10d\n" \
    "$3" "$secs" "$rate" "$calls" "$cost" "$blocks" "$prim_rows" "$stby_rows"
}

echo
echo "catch-up of noop by 4 workers, all defaults, 64 partitions:"
# Rounds alternate the order (primary first, then standby first): a standby's first read of
# a page also sets the hint bits the primary's VACUUM set without WAL (docs/benchmarks.md).
rounds=${STANDBY_READS_ROUNDS:-2}
p_rates=() s_rates=() s_costs=()
for ((r = 1; r <= rounds; r++)); do
  if ((r % 2 == 1)); then
    catch_up "primary$r" "" "from primary"; p_rates+=("$rate") p_cost=$cost p_rows=$prim_rows
    catch_up "standby$r" "$standby" "from standby"; s_rates+=("$rate") s_costs+=("$cost")
  else
    catch_up "standby$r" "$standby" "from standby"; s_rates+=("$rate") s_costs+=("$cost")
    catch_up "primary$r" "" "from primary"; p_rates+=("$rate") p_cost=$cost p_rows=$prim_rows
  fi
  if ((stby_rows == 0 && r == 1)); then
    echo "(the standby visited no rows: this projd read events from the primary)"
  fi
  awk -v r="$r" -v pr="${p_rates[-1]}" -v sr="${s_rates[-1]}" -v pc="$p_cost" -v sc="${s_costs[-1]}" \
    'BEGIN { printf "round %d: standby / primary events/s %.2f x, primary event-statement time %.4f x\n",
             r, sr / pr, (pc > 0 ? sc / pc : 0) }'
done
