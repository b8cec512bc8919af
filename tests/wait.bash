# wait.bash - the bounded waits every shell test uses (sourced by
# tests/integration/common.bash and tests/deploy/lib.bash, which define die):
# a test waits on what it observes, never on a fixed sleep.
#   poll SECS CMD...       run CMD every $POLL_INTERVAL s (default 0.1) until
#                          it succeeds (status 0), at most SECS s (status 1)
#   wait_for SECS WHAT CMD...  poll, or die "timed out ... waiting for WHAT"

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
