#!/usr/bin/env bash
# Installs every Debian package chatstore needs to build, run and test.
# Idempotent: asks apt only for what is missing, so a second run is instant.
# Usage: scripts/install-deps.sh [--runtime-only]
set -euo pipefail

# Build and run (the embedded SQLite default). Boost 1.81 is named explicitly:
# Debian 12's default Boost is 1.74, which lacks Boost.URL and conflicts with 1.81.
build_pkgs=(
  cmake g++ make pkg-config
  libboost1.81-dev libboost-url1.81-dev libboost-json1.81-dev
  libsqlite3-dev libsodium-dev libjwt-dev libpcre2-dev
  libcli11-dev libspdlog-dev libhiredis-dev libpqxx-dev libpq-dev
)
# Tests and benchmarks: real servers and tools, started by the tests themselves
# (chromium runs the session browser's end-to-end test, headless; python's
# diskcache is what the cache benchmark compares against).
test_pkgs=(
  libgtest-dev libgmock-dev libbenchmark-dev python3-diskcache
  redis-server postgresql sqlite3 curl wrk
  libclang-rt-14-dev clang clang-format
  chromium
)

want=("${build_pkgs[@]}")
if [[ "${1:-}" != "--runtime-only" ]]; then
  want+=("${test_pkgs[@]}")
fi

# Node and npm come with the base image; the token tests run the tiktoken npm
# package under node and the e2e tests use npm packages. Debian's npm would
# conflict with an installed Node 20 build, so only fall back to it.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  want+=(nodejs npm)
fi

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "installing: ${missing[*]}" >&2
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
