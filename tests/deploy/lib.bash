# lib.bash - sourced by every tests/deploy/*.sh test (not a test itself: ctest
# registers *.sh only): strict mode, $src (the repository), $bin (the build's
# binaries), a private $work directory, an EXIT trap that stops the processes
# in $pids and runs the commands pushed with on_exit, and:
#   die MSG      fail the test with MSG
#   skip MSG     skip it (exit 77, ctest's SKIP_RETURN_CODE for tests/deploy)
#   free_port    a free TCP port on 127.0.0.1
#   poll SECS CMD... / wait_for SECS WHAT CMD...  bounded waits
#                (tests/wait.bash), every $POLL_INTERVAL s (0.5 here)
#   PY           Debian's python3 (python3-yaml), not a pyenv one on PATH
set -euo pipefail

src="${SATISFY_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
bin="${SATISFY_BIN_DIR:-$src/build/bin}"
work="$(mktemp -d "${TMPDIR:-/tmp}/satisfy-deploy-$(basename "$0" .sh)-XXXXXX")"
PY=/usr/bin/python3
export OMP_WAIT_POLICY=passive PYTHONDONTWRITEBYTECODE=1
pids=()
exit_cmds=()
POLL_INTERVAL="${POLL_INTERVAL:-0.5}"
source "$(dirname "${BASH_SOURCE[0]}")/../wait.bash"

on_exit() { exit_cmds+=("$*"); }

_cleanup() {
  local i
  for ((i = ${#exit_cmds[@]} - 1; i >= 0; i--)); do eval "${exit_cmds[$i]}" || true; done
  stop_pids "${pids[@]}"
  rm -rf "$work"
}
trap _cleanup EXIT

die() {
  echo "FAIL: $*" >&2
  exit 1
}

skip() {
  echo "SKIP: $*"
  exit 77
}

free_port() {
  "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

for b in satisfy-broker satisfy-producer satisfy-scorer satisfy-retrainer satisfy-datagen; do
  [ -x "$bin/$b" ] || die "$bin/$b is missing (build first)"
done
"$PY" -c 'import yaml' 2>/dev/null || die "$PY cannot import yaml: apt-get install python3-yaml (scripts/install-deps.sh test)"
