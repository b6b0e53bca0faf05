#!/usr/bin/env bash
# Installs the Debian (bookworm) packages projd needs to build, test and run its demo.
# Only missing packages are installed; nothing happens when all are present.
#
# The lists are read by tests/deploy/check_dockerfile.mjs: the Dockerfile's build stage must
# install exactly build_packages, so keep one package per word and the arrays on their own.
set -euo pipefail

# Compiling projd (also the Dockerfile's build stage).
build_packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libpqxx-dev libpq-dev libboost-dev libspdlog-dev libfmt-dev libcli11-dev nlohmann-json3-dev
  prometheus-cpp-dev
)
# Tests and the demo: Catch2, a PostgreSQL 15 server and client for the private test
# database, promtool (Debian's prometheus) for `promtool check metrics`, chromium (headless)
# for the browser test of the status page.
test_packages=(
  catch2 postgresql-15 postgresql-client-15 prometheus chromium
)

packages=("${build_packages[@]}" "${test_packages[@]}")
# Node.js and npm run the deployment checks (tests/deploy). A machine may carry a Node.js
# not installed as Debian's package; only a missing `node` or `npm` command counts.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "installing missing packages: ${missing[*]}"
SUDO=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  SUDO=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
