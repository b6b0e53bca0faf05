#!/usr/bin/env bash
# A projection version rolled out under readers and writers (docs/projections.md, section 5),
# all defaults: the `ledger` test projection (tests/cluster/versioned_ledger.cc) serves version
# 1 from two old workers; two workers of the new code (versions 1 and 2) join, the old ones
# leave (a rolling deploy), version 2 builds and the workers switch readers to it. Prints:
#   - the catch-up of version 1 from 0 by the old workers (the cost of a fresh build);
#   - the build of version 2 beside it, from the deploy to the switch, while version 1 keeps
#     serving and writers append;
#   - readers of the stable name (`ledger`, point lookups through pgbench, one client): their
#     latency over the whole rollout, and the slowest query (the switch's lock);
#   - how long the switch's transaction took (the workers' log).
# Run under a private server, with the test binaries built (make build):
#
#   build/tests/projd-testpg -- bash bench/version_rollout.sh build/tests [EVENTS]
set -euo pipefail
bin=$1
events=${2:-1000000}
: "${DATABASE_URL:?run under projd-testpg}"
export DATABASE_SCHEMA=version_rollout LOG_LEVEL=info HTTP_ADDR=off
q() { PGOPTIONS="-c search_path=$DATABASE_SCHEMA" psql "$DATABASE_URL" -qAtc "$1"; }
pgbench=$(command -v pgbench || ls -d /usr/lib/postgresql/*/bin/pgbench | sort -V | tail -1)
dir=$(mktemp -d /tmp/projd-version-rollout-XXXXXX)
pids=()
trap 'kill -TERM "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true' EXIT

"$bin/projd-ledger-v1" migrate >/dev/null
"$bin/projd-ledger-v1" seed --events "$events" --aggregates 10000 >/dev/null
q "VACUUM ANALYZE events" >/dev/null
latest() { q "SELECT max(global_position) FROM events"; }
# Seconds until every checkpoint of lane $1 is at the latest event.
wait_caught_up() {
  local lane=$1 target
  while true; do
    target=$(latest)
    [[ "$(q "SELECT count(*) FILTER (WHERE position >= $target) FROM projd_checkpoints WHERE projection = '$lane'")" == "64" ]] && return
    sleep 0.1
  done
}

start=$(date +%s.%N)
for w in old1 old2; do WORKER_NAME=$w "$bin/projd-ledger-v1" run >"$dir/$w.log" 2>&1 & pids+=($!); done
wait_caught_up ledger
v1=$(echo "$(date +%s.%N) - $start" | bc)
printf "version 1 from 0 by 2 workers:            %6.1f s  %8.0f events/s\n" "$v1" "$(echo "$events / $v1" | bc -l)"

# Readers (point lookups on the stable name) and writers (single appends at 200/s) from here on.
cat >"$dir/read.sql" <<'SQL'
\set n random(0, 9999)
SELECT events FROM ledger WHERE aggregate_id = 'agg-' || lpad(:n::text, 6, '0');
SQL
cat >"$dir/append.sql" <<'SQL'
INSERT INTO events (bounded_context, aggregate_type, aggregate_id, aggregate_version, event_type)
VALUES ('bench', 'append', md5(random()::text), 1, 'Appended');
SQL
# exec: the pids are pgbench's own, so that SIGINT ends them (and writes the latency log).
(cd "$dir" && exec env PGOPTIONS="-c search_path=$DATABASE_SCHEMA" "$pgbench" -n -c 1 -T 3600 -f read.sql \
   --log --log-prefix=read "$DATABASE_URL" >"$dir/read.out" 2>&1) & pids+=($!); reader=$!
(cd "$dir" && exec env PGOPTIONS="-c search_path=$DATABASE_SCHEMA" "$pgbench" -n -c 1 -R 200 -T 3600 -f append.sql \
   "$DATABASE_URL" >/dev/null 2>&1) & pids+=($!); writer=$!

# The rolling deploy: new pods join, then the old ones leave.
deploy=$(date +%s.%N)
for w in new1 new2; do WORKER_NAME=$w "$bin/projd-ledger-v1v2" run >"$dir/$w.log" 2>&1 & pids+=($!); done
sleep 2
kill -TERM "${pids[0]}" "${pids[1]}"
wait "${pids[0]}" "${pids[1]}" || true
until [[ "$(q "SELECT state FROM projd_projection_versions WHERE projection = 'ledger' AND version = 2")" == "active" ]]; do
  sleep 0.1
done
switched=$(date +%s.%N)
build=$(echo "$switched - $deploy" | bc)
printf "version 2 from deploy to switch:          %6.1f s  (%d events at the deploy, writers at 200/s)\n" "$build" "$events"
sleep 2
kill -INT "$reader" "$writer" 2>/dev/null || true
wait "$reader" "$writer" 2>/dev/null || true
cat "$dir"/read.* | awk '{ print $3 / 1000 }' | sort -n |
  awk '{ a[NR] = $1 } END { printf "readers of the stable name over the rollout: p50 %.2f ms  p99 %.2f ms  max %.1f ms  (%d queries)\n",
                           a[int(NR * 0.5) + 1], a[int(NR * 0.99) + 1], a[NR], NR }'
echo "reader errors: $(grep -ci 'error' "$dir/read.out" || true) (pgbench ends its client at the first)"
grep -h "switched readers" "$dir"/new*.log | sed 's/^/switch: /'
q "SELECT 'stable ledger: ' || count(*) || ' aggregates, ' || sum(events) || ' events, version_sum ' || sum(version_sum) FROM ledger"
q "SELECT 'truth:         ' || count(DISTINCT aggregate_id) || ' aggregates, ' || count(*) || ' events, version_sum ' || sum(aggregate_version) FROM events"
rm -rf "$dir"
