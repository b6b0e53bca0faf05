#!/usr/bin/env bash
# An application team's worker built outside this repository, from what projd ships:
#
#   --from install   `cmake --install` of this build tree into a temporary prefix
#   --from deb       the Debian packages made by CPack from this build tree, unpacked with
#                    `dpkg-deb -x` into a temporary root (no system install)
#
# Then examples/sdk-worker is configured with only CMAKE_PREFIX_PATH=<prefix> and built
# with Ninja in a temporary directory; its worker migrates a private schema, runs, and the
# events seeded by the installed `projd seed` (before and while it runs) must each count
# exactly once in its read models; SIGTERM must end it with exit code 0.
#
# Usage (ctest, under projd-testpg which exports DATABASE_URL):
#   worker_from_package.sh --from install|deb --source DIR --build DIR --cmake CMAKE --cpack CPACK
#                          [--cxx-flags=FLAGS]
# --cxx-flags: the build tree's CMAKE_CXX_FLAGS, given to the example's build only when not
# empty (a sanitizer build's archives need the sanitizer's flags to link).
set -euo pipefail

from='' source_dir='' build_dir='' cmake=cmake cpack=cpack cxx_flags=''
while [[ $# -gt 0 ]]; do
  case "$1" in
    --from) from=$2; shift 2 ;;
    --source) source_dir=$2; shift 2 ;;
    --build) build_dir=$2; shift 2 ;;
    --cmake) cmake=$2; shift 2 ;;
    --cpack) cpack=$2; shift 2 ;;
    --cxx-flags=*) cxx_flags=${1#--cxx-flags=}; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ $from == install || $from == deb ]] || { echo "--from install|deb" >&2; exit 2; }
: "${DATABASE_URL:?run under build/tests/projd-testpg (it exports DATABASE_URL)}"
psql_bin=psql
[[ -n ${PROJD_TEST_PG_BINDIR:-} && -x $PROJD_TEST_PG_BINDIR/psql ]] && psql_bin=$PROJD_TEST_PG_BINDIR/psql

tmp=$(mktemp -d "${TMPDIR:-/tmp}/projd-sdk-$from-XXXXXX")
schema="sdk_${from}_$$"
worker_pid=''
cleanup() {
  if [[ -n $worker_pid ]] && kill -0 "$worker_pid" 2>/dev/null; then kill -KILL "$worker_pid" 2>/dev/null || true; fi
  "$psql_bin" "$DATABASE_URL" -XAtq -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [[ -f $tmp/worker.log ]] && { echo "--- worker log (tail)" >&2; tail -n 40 "$tmp/worker.log" >&2; }; exit 1; }
step() { echo "== $*"; }
q() { "$psql_bin" "$DATABASE_URL" -XAtq -v ON_ERROR_STOP=1 -c "SET search_path TO $schema" -c "$1"; }

# 1. The SDK under a prefix.
if [[ $from == install ]]; then
  step "cmake --install $build_dir --prefix <tmp>/prefix"
  "$cmake" --install "$build_dir" --prefix "$tmp/prefix" >"$tmp/install.log"
  prefix=$tmp/prefix
else
  step "cpack -G DEB (build tree $build_dir, output in <tmp>/pkg)"
  "$cpack" -G DEB --config "$build_dir/CPackConfig.cmake" -B "$tmp/pkg" >"$tmp/cpack.log" 2>&1 || { cat "$tmp/cpack.log" >&2; fail "cpack"; }
  runtime_deb=$(ls "$tmp"/pkg/projd_*.deb 2>/dev/null | head -n 1)
  dev_deb=$(ls "$tmp"/pkg/projd-dev_*.deb 2>/dev/null | head -n 1)
  [[ -f $runtime_deb && -f $dev_deb ]] || fail "expected projd_*.deb and projd-dev_*.deb, got: $(ls "$tmp/pkg")"
  runtime_depends=$(dpkg-deb -f "$runtime_deb" Depends)
  dev_depends=$(dpkg-deb -f "$dev_deb" Depends)
  version=$(dpkg-deb -f "$runtime_deb" Version)
  echo "projd $version Depends: $runtime_depends"
  echo "projd-dev Depends: $dev_depends"
  for lib in libpqxx-6.4 libpq5 libspdlog libfmt libprometheus-cpp-core; do
    [[ $runtime_depends == *"$lib"* ]] || fail "projd does not depend on $lib"
  done
  for pkg in "projd (= $version)" g++ cmake pkg-config libpqxx-dev libpq-dev libboost-dev libspdlog-dev libfmt-dev \
      libcli11-dev nlohmann-json3-dev prometheus-cpp-dev; do
    [[ $dev_depends == *"$pkg"* ]] || fail "projd-dev does not depend on $pkg"
  done
  for deb in "$runtime_deb" "$dev_deb"; do
    outside=$(dpkg-deb -c "$deb" | awk '{print $6}' | grep -v '^\./usr/' | grep -v '^\./$' || true)
    [[ -z $outside ]] || fail "$(basename "$deb") installs outside /usr: $outside"
    dpkg-deb -x "$deb" "$tmp/root"
  done
  prefix=$tmp/root/usr
fi

# 2. What the prefix holds: the binary, include/projd/*.h exactly, no other header, and a
# CMake package without a path of this machine's trees.
[[ -x $prefix/bin/projd ]] || fail "no bin/projd under the prefix"
expected_headers=$(cd "$source_dir/include" && find projd -name '*.h' | sort)
installed_headers=$(cd "$prefix/include" && find . -type f | sed 's|^\./||' | sort)
[[ $expected_headers == "$installed_headers" ]] || fail "installed headers differ from include/projd:
$installed_headers"
stray=$(find "$prefix" -name '*.h' -not -path "$prefix/include/projd/*")
[[ -z $stray ]] || fail "internal headers installed: $stray"
leaks=$(grep -rlF -e "$source_dir" -e "$build_dir" "$prefix/lib/cmake" || true)
[[ -z $leaks ]] || fail "the CMake package names this machine's source or build tree: $leaks"

# 3. The team's project: find_package(projd) through CMAKE_PREFIX_PATH only.
step "configure and build examples/sdk-worker against $prefix"
extra=()
[[ -n $cxx_flags ]] && extra+=(-DCMAKE_CXX_FLAGS="$cxx_flags")
"$cmake" -S "$source_dir/examples/sdk-worker" -B "$tmp/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" "${extra[@]}" >"$tmp/configure.log" 2>&1 || { cat "$tmp/configure.log" >&2; fail "configure"; }
found=$(grep '^projd_DIR:' "$tmp/build/CMakeCache.txt" | cut -d= -f2)
[[ $found == "$prefix"/* ]] || fail "find_package(projd) found $found, not the package under $prefix"
"$cmake" --build "$tmp/build" >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log" >&2; fail "build"; }
worker=$tmp/build/ledger-worker
[[ -x $worker ]] || fail "no ledger-worker"

# 4. Run it: migrate, seed, run, seed more while it runs.
export DATABASE_SCHEMA=$schema REPLICA_SET="sdk-$from" HTTP_ADDR=127.0.0.1:0 POLL_INTERVAL=200ms
step "ledger-worker migrate (schema $schema)"
"$worker" migrate >"$tmp/migrate.log" 2>&1 || { cat "$tmp/migrate.log" >&2; fail "migrate"; }
"$prefix/bin/projd" seed --events 20000 --aggregates 300 >/dev/null
step "ledger-worker run"
"$worker" run >"$tmp/worker.log" 2>&1 &
worker_pid=$!
"$prefix/bin/projd" seed --events 10000 --aggregates 300 >/dev/null

events=$(q "SELECT count(*) FROM events WHERE aggregate_type = 'account'")
[[ $events -eq 30000 ]] || fail "seeded $events events, expected 30000"
deadline=$((SECONDS + 120))
while :; do
  kill -0 "$worker_pid" 2>/dev/null || fail "the worker exited early"
  counted=$(q "SELECT (SELECT coalesce(sum(event_count), 0) FROM ledger_balances) || ' '
               || (SELECT coalesce(sum(last_version), 0) FROM account_last_seen)" 2>/dev/null || echo "0 0")
  read -r balances last_seen <<<"$counted"
  [[ $balances -ge $events && $last_seen -ge $events ]] && break
  ((SECONDS < deadline)) || fail "after 120 s: ledger_balances counted $balances, account_last_seen $last_seen of $events events"
  sleep 0.5
done
step "caught up: $events events"

kill -TERM "$worker_pid"
rc=0
wait "$worker_pid" || rc=$?
worker_pid=''
[[ $rc -eq 0 ]] || fail "SIGTERM: the worker exited with $rc, expected 0"

# 5. Exactly once: each read model equals what SQL computes from the events.
balances=$(q "SELECT sum(event_count) FROM ledger_balances")
[[ $balances -eq $events ]] || fail "ledger_balances counted $balances events of $events (each must count exactly once)"
wrong_balances=$(q "
  WITH e AS (
    SELECT aggregate_id, event_type, (convert_from(payload, 'UTF8')::jsonb ->> 'amount')::bigint AS amount
    FROM events WHERE aggregate_type = 'account'),
  expected AS (
    SELECT aggregate_id AS account_id, count(*) AS event_count,
           sum(CASE event_type WHEN 'MoneyDeposited' THEN amount WHEN 'MoneyWithdrawn' THEN -amount ELSE 0 END) AS balance
    FROM e GROUP BY aggregate_id)
  SELECT (SELECT count(*) FROM (SELECT * FROM expected EXCEPT SELECT * FROM ledger_balances) a)
       + (SELECT count(*) FROM (SELECT * FROM ledger_balances EXCEPT SELECT * FROM expected) b)")
[[ $wrong_balances -eq 0 ]] || fail "$wrong_balances accounts of ledger_balances differ from the events"
wrong_last_seen=$(q "
  WITH expected AS (
    SELECT DISTINCT ON (aggregate_id) aggregate_id AS account_id, aggregate_version AS last_version,
           event_type AS last_event_type
    FROM events WHERE aggregate_type = 'account' ORDER BY aggregate_id, aggregate_version DESC)
  SELECT (SELECT count(*) FROM (SELECT * FROM expected EXCEPT SELECT * FROM account_last_seen) a)
       + (SELECT count(*) FROM (SELECT * FROM account_last_seen EXCEPT SELECT * FROM expected) b)")
[[ $wrong_last_seen -eq 0 ]] || fail "$wrong_last_seen accounts of account_last_seen differ from the events"
echo "ok: $events events, each counted once by ledger_balances and account_last_seen; SIGTERM -> exit 0"
