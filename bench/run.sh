#!/usr/bin/env bash
# Runs every benchmark against a private PostgreSQL (make bench). Prints figures only.
set -euo pipefail
build_dir=${1:-build}
benches=()
for b in "$build_dir"/bench/projd_*_bench; do
  [[ -x "$b" ]] && benches+=("$b")
done
if [[ ${#benches[@]} -eq 0 ]]; then
  echo "no benchmarks built in $build_dir/bench"
  exit 0
fi
for b in "${benches[@]}"; do
  echo "== $(basename "$b")"
  if [[ "$(basename "$b")" == projd_coordination_bench ]]; then
    "$b" "$build_dir/cmd/projd"  # starts its own server (50 workers need more connections)
  elif [[ "$(basename "$b")" == projd_projection_bench ]]; then
    "$build_dir/tests/projd-testpg" -- "$b" "$build_dir/cmd/projd"  # runs real workers
  else
    "$build_dir/tests/projd-testpg" -- "$b"
  fi
done
