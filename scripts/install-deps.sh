#!/usr/bin/env bash
# Installs the Debian (bookworm) packages projd needs to build, test and run its demo.
# Only missing packages are installed; nothing happens when all are present.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libpqxx-dev libpq-dev libboost-dev libspdlog-dev libfmt-dev libcli11-dev nlohmann-json3-dev
  prometheus-cpp-dev catch2 postgresql-15 postgresql-client-15
  prometheus  # promtool: the test suite checks /metrics with `promtool check metrics`
)
# Extra tools the test suite uses (promtool, kubectl rendering, schema checks) are
# appended by later features through PROJD_EXTRA_PACKAGES.
if [[ -n "${PROJD_EXTRA_PACKAGES:-}" ]]; then
  read -r -a extra <<<"${PROJD_EXTRA_PACKAGES}"
  packages+=("${extra[@]}")
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
