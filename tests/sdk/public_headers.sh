#!/usr/bin/env bash
# Every public header (include/projd/*.h) compiles on its own, twice in one translation unit
# (include guard), with a team's strict warnings as errors (-Wall -Wextra -Wpedantic
# -Werror), from a copy of include/projd in a
# temporary directory plus the system include paths, so nothing of this tree but projd/ is
# reachable. Each header includes only <projd/...>, <pqxx/...> and standard headers, and the
# compiler's dependency list (-MM: every header not from a system directory) holds nothing
# outside the copy of projd/.
#
# Usage: public_headers.sh --source DIR --cxx COMPILER
set -euo pipefail

source_dir='' cxx=c++
while [[ $# -gt 0 ]]; do
  case "$1" in
    --source) source_dir=$2; shift 2 ;;
    --cxx) cxx=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/projd-headers-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/include"
cp -R "$source_dir/include/projd" "$tmp/include/projd"

flags=(-std=c++20 -Wall -Wextra -Wpedantic -Werror -I "$tmp/include")
failed=0
count=0
for header in "$tmp"/include/projd/*.h; do
  name=projd/$(basename "$header")
  count=$((count + 1))
  # Only <projd/...>, <pqxx/...> and standard library headers (no extension, no quotes).
  bad=$(grep -E '^\s*#\s*include' "$header" | grep -vE '^\s*#\s*include\s*<(projd/[a-z_]+\.h|pqxx/[a-z_/]+|[a-z_]+)>' || true)
  if [[ -n $bad ]]; then
    echo "FAIL $name includes something other than <projd/...>, <pqxx/...> or the standard library: $bad"
    failed=1
  fi
  tu=$tmp/$(basename "$header" .h).cc
  printf '#include <%s>\n#include <%s>\n' "$name" "$name" >"$tu"
  if ! deps=$("$cxx" "${flags[@]}" -MM "$tu" 2>&1) || ! "$cxx" "${flags[@]}" -fsyntax-only "$tu" 2>"$tmp/err"; then
    echo "FAIL $name does not compile on its own:"
    cat "$tmp/err"
    echo "$deps" | head -n 20
    failed=1
    continue
  fi
  outside=$(echo "$deps" | tr ' \\' '\n\n' | grep -E '\.(h|hpp|hxx)$' | grep -vF "$tmp/include/projd/" || true)
  if [[ -n $outside ]]; then
    echo "FAIL $name reaches headers outside include/projd: $outside"
    failed=1
    continue
  fi
  echo "ok   $name"
done
[[ $count -gt 0 ]] || { echo "FAIL no headers in $source_dir/include/projd"; exit 1; }
exit $failed
