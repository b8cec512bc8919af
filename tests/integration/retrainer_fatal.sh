#!/usr/bin/env bash
# retrainer_fatal.sh - when the retrainer's consumer raises a fatal error,
# satisfy-retrainer run exits 1 naming its cause (rd_kafka_fatal_error), not
# just "fatal error". The fatal error is a real one: a static group member
# (-X group.instance.id) fenced by the broker, whose Heartbeat answers are
# made FENCED_INSTANCE_ID through satisfy-broker's control port.
source "$(dirname "$0")/common.bash"

start_broker broker --control 0 --control-file "$work/control"
wait_for 10 "the broker's control file" test -s "$work/control"
exec 3<>"/dev/tcp/127.0.0.1/$(cut -d: -f2 "$work/control")" || fail "cannot connect to the control port"

"$bin/satisfy-retrainer" run --brokers "$bs" --registry "$work/registry.db" \
  -X group.instance.id=retrainer-1 -X heartbeat.interval.ms=200 \
  >"$work/run.out" 2>"$work/run.err" &
rt_pid=$!
pids+=("$rt_pid")
wait_for 60 "the retrainer consuming" grep -q "consuming" "$work/run.err"

echo "errors Heartbeat FENCED_INSTANCE_ID 5" >&3
read -r -t 10 reply <&3 || fail "control: no answer"
[[ "$reply" == ok* ]] || fail "control: $reply"
exec 3<&-
wait_exit "$rt_pid" 30 "the fenced retrainer"
[ "$exit_rc" = 1 ] || fail "fenced retrainer: exit status $exit_rc, want 1"
line=$(grep "fatal" "$work/run.err" | tail -1)
echo "retrainer: $line"
[[ "$line" == *"consumer: fatal error: FENCED_INSTANCE_ID: "*"fenced"* ]] ||
  fail "the fatal error does not name its cause: $line"
echo "retrainer_fatal: ok"
