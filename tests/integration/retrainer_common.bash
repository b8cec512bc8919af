# retrainer_common.bash - what the tests of `satisfy-retrainer run` share,
# sourced after common.bash (not a test itself: ctest registers only *.sh):
#   start_retrainer NAME [ARGS...]  the retrainer on $bs in the background
#       ($rpid) with ARGS, its log in $work/NAME.out/.err and its counters in
#       $work/stats.json (removed first); registry and store at $RT_REGISTRY
#       and $RT_STORE (default $work/registry.db and $work/store.db). No
#       timeout(1) wrapper: kill -9 must hit the retrainer itself (the EXIT
#       trap stops it).
#   stop_retrainer NAME   SIGTERM: exit status 0 within 120 s (a training run
#       finishes first) and the final summary line.
#   stat_at_least KEY N   the counter KEY of the stats file is at least N.
#   kill9_retrainer       kill -9 of $rpid, which must end with status 137.

start_retrainer() {
  local name="$1"
  shift
  rm -f "$work/stats.json"
  "$bin/satisfy-retrainer" run --brokers "$bs" --registry "${RT_REGISTRY:-$work/registry.db}" \
    --store "${RT_STORE:-$work/store.db}" --stats-file "$work/stats.json" "$@" \
    >"$work/$name.out" 2>"$work/$name.err" &
  rpid=$!
  pids+=("$rpid")
}

stop_retrainer() {
  kill -TERM "$rpid"
  wait_exit "$rpid" 120 "$1 (after SIGTERM)"
  [ "$exit_rc" = 0 ] || fail "$1: exit status $exit_rc after SIGTERM"
  grep -q "stopped: consumed" "$work/$1.err" || fail "$1: no final summary"
}

stat_at_least() {
  [ -s "$work/stats.json" ] && [ "$(json_field "$work/stats.json" "$1")" -ge "$2" ]
}

kill9_retrainer() {
  kill -KILL "$rpid"
  local rc=0
  wait "$rpid" 2>/dev/null || rc=$?
  [ "$rc" = 137 ] || fail "retrainer exit status $rc after kill -9, want 137"
}
