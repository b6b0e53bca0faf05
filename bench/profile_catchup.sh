#!/usr/bin/env bash
# Where a catch-up batch's time goes, client and server: seeds N events, starts one
# `projd run` worker (noop unless PROJECTIONS is set; every other setting at its default
# unless given in the environment), samples every CPU with perf while it catches up, and
# prints the CPU time per process (projd vs the PostgreSQL backends) and the hottest
# symbols of each. Run under a private server:
#
#   build/tests/projd-testpg -- bash bench/profile_catchup.sh build/cmd/projd [EVENTS]
set -euo pipefail
projd=$1
events=${2:-1000000}
: "${DATABASE_URL:?run under projd-testpg}"
export DATABASE_SCHEMA=profile REPLICA_SET=profile WORKER_NAME=profiler LOG_LEVEL=warn HTTP_ADDR=127.0.0.1:0
export PROJECTIONS=${PROJECTIONS:-noop}
out=$(mktemp -d /tmp/projd-profile-XXXXXX)
"$projd" migrate >/dev/null
"$projd" seed --events "$events" --aggregates 10000 >/dev/null
echo "settings: PROJECTIONS=$PROJECTIONS BATCH_SIZE=${BATCH_SIZE:-default} PERSISTENCE_INTERVAL=${PERSISTENCE_INTERVAL:-default}"
"$projd" run >"$out/worker.log" 2>&1 &
worker=$!
sleep 1  # let it join: the profile covers the catch-up, not the start-up
perf record -a -g -o "$out/perf.data" -- sleep "${PROFILE_SECONDS:-4}" 2>/dev/null >/dev/null
kill -TERM "$worker"; wait "$worker" || true
echo "== CPU samples by process"
perf report -i "$out/perf.data" --no-children --sort comm --stdio 2>/dev/null | grep -v '^#' | grep -v '^$' | head -12
echo "== hottest symbols of projd"
perf report -i "$out/perf.data" --no-children --comm projd --sort dso,sym --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -25
echo "== hottest symbols of the PostgreSQL backends"
perf report -i "$out/perf.data" --no-children --comm postgres --sort dso,sym --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -25
echo "(perf data in $out)"
