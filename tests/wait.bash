# wait.bash - the bounded waits and the stop every shell test uses (sourced
# by tests/integration/common.bash and tests/deploy/lib.bash, which define
# die): a test waits on what it observes, never on a fixed sleep.
#   poll SECS CMD...       run CMD every $POLL_INTERVAL s (default 0.1) until
#                          it succeeds (status 0), at most SECS s (status 1)
#   wait_for SECS WHAT CMD...  poll, or die "timed out ... waiting for WHAT"
#   stop_pids PID...       SIGTERM to each, up to 5 s for all to end, then
#                          SIGKILL to what is left and to its children (a
#                          `timeout CMD` wrapper killed alone leaves CMD)

poll() {
  local end=$((SECONDS + $1))
  shift
  until "$@"; do
    [ $SECONDS -lt $end ] || return 1
    sleep "${POLL_INTERVAL:-0.1}"
  done
}

wait_for() {
  local secs="$1" what="$2"
  shift 2
  poll "$secs" "$@" || die "timed out after $secs s waiting for $what"
}

# children PID: the pids whose parent is PID (read from /proc: procps may
# not be installed)
children() {
  local s l ppid
  for s in /proc/[0-9]*/stat; do
    read -r l <"$s" 2>/dev/null || continue
    l=${l##*) }
    read -r _ ppid _ <<<"$l"
    [ "$ppid" = "$1" ] && { s=${s#/proc/}; echo "${s%/stat}"; }
  done
  return 0
}

stop_pids() {
  local p c alive
  for p in "$@"; do kill "$p" 2>/dev/null || true; done
  for _ in $(seq 50); do
    alive=0
    for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for p in "$@"; do
    if kill -0 "$p" 2>/dev/null; then
      for c in $(children "$p"); do kill -9 "$c" 2>/dev/null || true; done
      kill -9 "$p" 2>/dev/null || true
    fi
    wait "$p" 2>/dev/null || true
  done
}
