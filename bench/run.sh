#!/usr/bin/env bash
# Runs every benchmark (make bench) and prints the figures with the machine, the date and
# the command of each, as docs/benchmarks.md quotes them. Each benchmark starts its own
# private PostgreSQL: projd-testpg for most, an embedded server with more connections for
# the coordination benchmark (50 workers). Long: about half an hour on 2 cores.
set -euo pipefail
build_dir=${1:-build}

echo "projd benchmark report"
echo "date:     $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "revision: $(git describe --always --dirty 2>/dev/null || echo unknown)"
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
mem=$(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
echo "machine:  ${cpu:-unknown CPU}, $(nproc) cores, ${mem}, Linux $(uname -r)"
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
echo "postgres: $("${pg_bin:-/nonexistent}/postgres" --version 2>/dev/null || echo unknown)"

benches=()
for b in "$build_dir"/bench/projd_*_bench; do
  [[ -x "$b" ]] && benches+=("$b")
done
if [[ ${#benches[@]} -eq 0 ]]; then
  echo "no benchmarks built in $build_dir/bench"
  exit 0
fi
for b in "${benches[@]}"; do
  case "$(basename "$b")" in
    projd_coordination_bench) cmd=("$b" "$build_dir/cmd/projd") ;;  # its own server
    projd_projection_bench)
      # PROJD_BENCH_BEFORE=<older projd binary> adds its headline rows to the same run;
      # PROJD_BENCH_EVENTS=N changes the stream (default 5,000,000).
      cmd=("$build_dir/tests/projd-testpg" -- "$b" "$build_dir/cmd/projd")
      [[ -n "${PROJD_BENCH_EVENTS:-}" ]] && cmd+=(--events "$PROJD_BENCH_EVENTS")
      [[ -n "${PROJD_BENCH_BEFORE:-}" ]] && cmd+=(--before "$PROJD_BENCH_BEFORE")
      ;;
    *) cmd=("$build_dir/tests/projd-testpg" -- "$b") ;;
  esac
  echo
  echo "== $(basename "$b")"
  echo "command: ${cmd[*]}"
  start=$(date +%s)
  "${cmd[@]}"
  echo "($(( $(date +%s) - start )) s)"
done

# Scripted benchmarks (they drive projd processes and psql/pgbench themselves).
echo
echo "== read_scaling.sh"
cmd=("$build_dir/tests/projd-testpg" -- bash bench/read_scaling.sh "$build_dir/cmd/projd" ${PROJD_BENCH_EVENTS:-})
echo "command: ${cmd[*]}"
start=$(date +%s)
"${cmd[@]}"
echo "($(( $(date +%s) - start )) s)"

echo
echo "== standby_reads.sh"
cmd=("$build_dir/tests/projd-testpg" --standby -- bash bench/standby_reads.sh "$build_dir/cmd/projd" ${PROJD_BENCH_EVENTS:-})
echo "command: ${cmd[*]}"
start=$(date +%s)
"${cmd[@]}"
echo "($(( $(date +%s) - start )) s)"
