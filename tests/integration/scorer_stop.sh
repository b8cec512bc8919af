#!/usr/bin/env bash
# scorer_stop.sh - a second SIGTERM ends satisfy-scorer even while it waits
# on a broker that does not answer, in the two places it waits longest:
#   1. init_transactions, with every InitProducerId refused as retriable
#      (COORDINATOR_LOAD_IN_PROGRESS): librdkafka retries for up to 60 s;
#      the scorer has consumed nothing yet, so the first signal already
#      ends it cleanly (exit 0);
#   2. the commit of a batch's transaction, with every EndTxn refused as
#      retriable (NOT_COORDINATOR): the first signal asks to finish the
#      batch, so the scorer keeps trying (within its bound); the second gives
#      up at once: exit 1, the transaction uncommitted (the batch is scored
#      again by the next owner).
# Each must end within 10 s of the signal that ends it (librdkafka alone
# would wait up to the transaction timeout, 60 s, and then retry). The
# broker's faults go through its control port (satisfy-broker --control).
source "$(dirname "$0")/scorer_common.bash"

make_data
start_broker broker --control 0 --control-file "$work/control"
wait_for 10 "the broker's control file" test -s "$work/control"
exec 3<>"/dev/tcp/127.0.0.1/$(cut -d: -f2 "$work/control")" || fail "cannot connect to the control port"
ctl() { # one control command; its answer must start with "ok"
  local reply
  echo "$*" >&3
  read -r -t 10 reply <&3 || fail "control: no answer to '$*'"
  [[ "$reply" == ok* ]] || fail "control: '$*' -> $reply"
  echo "fault: $* -> $reply"
}
"$bin/publish_model" --brokers "$bs" --version 1 --data "$data" >"$work/pub.out" \
  2>"$work/pub.err" || fail "publish_model failed: $(cat "$work/pub.err")"

# stops PID: SIGTERM; if it still runs 3 s later, SIGTERM again; it must then
# end within 10 s. Sets $exit_rc and $signals (how many were needed).
stops() {
  kill -TERM "$1"
  signals=1
  if ! poll 3 _gone "$1"; then
    kill -TERM "$1" 2>/dev/null || true
    signals=2
  fi
  wait_exit "$1" 10 "scorer after $signals SIGTERM"
}

# 1. init_transactions that never completes
ctl errors InitProducerId COORDINATOR_LOAD_IN_PROGRESS 100000
start_scorer init --batch 50 --batch-ms 5
wait_log init "scoring with model 1" 60 # the last step before init_transactions
t0=$SECONDS
stops "$scorer_pid"
echo "init_transactions: ended after $signals signal(s), in $((SECONDS - t0)) s, status $exit_rc"
[ "$exit_rc" = 0 ] || fail "stopped in init_transactions: exit status $exit_rc, want 0 (nothing consumed)"
ctl clear InitProducerId

# 2. a commit that never completes
start_scorer commit --batch 50 --batch-ms 5 --http 127.0.0.1:0
port=$(http_port commit)
wait_log commit "assigned" 60
timeout 300 "$bin/satisfy-producer" --brokers "$bs" --data "$data" --speed 2000000 \
  --no-progress >"$work/prod.out" 2>"$work/prod.err" &
pids+=($!)
wait_for 60 "the first predictions" _more_than "$port" 0
ctl errors EndTxn NOT_COORDINATOR 100000
# the scorer is stuck in a commit once its count stops moving while events arrive
last=-1
_stuck() {
  local c
  c=$(predictions "$port")
  [ "$c" = "$last" ] && return 0
  last=$c
  return 1
}
POLL_INTERVAL=1 wait_for 30 "the scorer to stop committing" _stuck
t0=$SECONDS
stops "$scorer_pid"
echo "commit loop: ended after $signals signal(s), in $((SECONDS - t0)) s, status $exit_rc"
[ "$signals" = 2 ] || fail "the first signal ended the scorer before its batch was committed"
[ "$exit_rc" = 1 ] || fail "stopped in the commit loop: exit status $exit_rc, want 1"
grep -q "second stop signal" "$work/commit.err" || fail "no reason given for the uncommitted batch"
exec 3<&-
echo "scorer_stop: ok"
