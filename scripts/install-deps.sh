#!/usr/bin/env bash
# install-deps.sh [GROUP...]: install the Debian 12 packages satisfy needs, by
# what is about to happen, so that compiling does not pull in a browser:
#   build    compile the workers and tests (compiler, cmake, the -dev libraries)
#   runtime  only the shared libraries the five binaries load (the container
#            image's runtime stage; no compiler, no headers)
#   test     build + what ctest drives: python3 tools, kcat, promtool, Chromium
#            and Node.js for the browser test, and the deploy tests' Docker,
#            docker-compose, mmdebstrap, python3-yaml, systemd-analyze, kubectl
#   fuzz     build + clang and its libFuzzer runtime
#   demo     build + what scripts/demo.sh calls (kcat, curl, python3)
#   bench    build + the benchmarks' baselines and tools (python3-xgboost, bc, time)
#   image    Docker and mmdebstrap (`make image` on a machine without the base images)
#   all      every group but runtime (the default)
# Idempotent: it asks dpkg what is already there, runs `apt-get update` only
# when something is missing, and says what it adds. Needs root (or sudo) only
# when something has to be installed. `--list GROUP...` prints the packages
# (and installs nothing), for the Dockerfile and for review.
set -euo pipefail

BUILD=(
  build-essential cmake pkg-config
  # libraries; cmocka too, CMakeLists.txt requires it
  librdkafka-dev libavro-dev libcjson-dev libgsl-dev libxgboost-dev
  libsqlite3-dev libcsv-dev zlib1g-dev libmicrohttpd-dev libssl-dev libcmocka-dev
)
# The run-time halves of the libraries above (what `ldd satisfy-*` resolves
# to; their own dependencies come with them).
RUNTIME=(
  librdkafka1 libavro23 libcjson1 libgsl27 libxgboost0 libsqlite3-0 libcsv3
  zlib1g libmicrohttpd12 libssl3
)
TEST=(
  # tests, interop: python tools, kcat, sqlite3 probes
  python3 python3-avro python3-xgboost python3-numpy kcat curl gzip sqlite3
  # make coverage (gcovr) and the lint test (cppcheck)
  gcovr cppcheck
  # web app tests: promtool, headless browser
  prometheus chromium
  # deploy tests (tests/deploy): YAML parsing, systemd-analyze verify, the image
  python3-yaml systemd mmdebstrap
)
FUZZ=(clang libclang-rt-14-dev)
DEMO=(kcat curl python3)
BENCH=(python3 python3-xgboost python3-numpy curl bc gzip time)
IMAGE=(mmdebstrap)

list=0
if [ "${1:-}" = "--list" ]; then
  list=1
  shift
fi
[ $# -gt 0 ] || set -- all

want=()
extra=() # tools that may come from elsewhere: added only when the command is missing
for g in "$@"; do
  case "$g" in
    build) want+=("${BUILD[@]}") ;;
    runtime) want+=("${RUNTIME[@]}") ;;
    test) want+=("${BUILD[@]}" "${TEST[@]}"); extra+=(node docker compose kubectl) ;;
    fuzz) want+=("${BUILD[@]}" "${FUZZ[@]}") ;;
    demo) want+=("${BUILD[@]}" "${DEMO[@]}") ;;
    bench) want+=("${BUILD[@]}" "${BENCH[@]}") ;;
    image) want+=("${IMAGE[@]}"); extra+=(docker) ;;
    all)
      want+=("${BUILD[@]}" "${TEST[@]}" "${FUZZ[@]}" "${DEMO[@]}" "${BENCH[@]}" "${IMAGE[@]}")
      extra+=(node docker compose kubectl)
      ;;
    *)
      echo "install-deps: unknown group '$g' (build runtime test fuzz demo bench image all)" >&2
      exit 2
      ;;
  esac
done

# Tools a machine may already have from another source (Docker's own
# packages, NodeSource, Google's kubectl): Debian's package is added only when
# the command is missing, because docker.io and docker-ce, or kubectl and
# kubernetes-client, conflict and apt would remove the other one.
for t in $(printf '%s\n' "${extra[@]+"${extra[@]}"}" | sort -u); do
  case "$t" in
    # The browser test drives Chromium with playwright-core from npm.
    node) command -v npm >/dev/null 2>&1 || want+=(nodejs npm) ;;
    docker) command -v dockerd >/dev/null 2>&1 || want+=(docker.io) ;;
    compose)
      command -v docker-compose >/dev/null 2>&1 || docker compose version >/dev/null 2>&1 ||
        want+=(docker-compose)
      ;;
    kubectl) command -v kubectl >/dev/null 2>&1 || want+=(kubernetes-client) ;;
  esac
done

mapfile -t want < <(printf '%s\n' "${want[@]}" | awk '!seen[$0]++')

if [ "$list" = 1 ]; then
  printf '%s\n' "${want[@]}"
  exit 0
fi

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps ($*): all ${#want[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-deps: missing packages (${missing[*]}) and not root; run as root" >&2
    exit 1
  fi
fi

echo "install-deps ($*): installing ${#missing[@]} missing package(s): ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
