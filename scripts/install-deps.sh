#!/usr/bin/env bash
# install-deps.sh: install the Debian 12 packages satisfy needs to build, test,
# fuzz, benchmark and demo. Idempotent: it asks dpkg what is already there,
# runs `apt-get update` only when something is missing, and says what it adds.
# Needs root (or sudo) only when something has to be installed.
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake pkg-config clang libclang-rt-14-dev
  # libraries (DESIGN.md section 4)
  librdkafka-dev libavro-dev libcjson-dev libgsl-dev libxgboost-dev
  libsqlite3-dev sqlite3 libcsv-dev zlib1g-dev libmicrohttpd-dev libssl-dev
  # tests, interop and benchmarks
  libcmocka-dev python3 python3-avro python3-xgboost python3-numpy
  kcat curl gzip gcovr cppcheck
  # web app tests (issue 6): promtool, headless browser
  prometheus chromium
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

# The browser test drives Chromium with playwright-core from npm. Machines that
# already have Node.js (e.g. from another apt source) keep theirs.
if ! command -v npm >/dev/null 2>&1; then
  for p in nodejs npm; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
fi

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-deps: missing packages (${missing[*]}) and not root; run as root" >&2
    exit 1
  fi
fi

echo "install-deps: installing ${#missing[@]} missing package(s): ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
