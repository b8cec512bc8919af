#!/usr/bin/env bash
# scorer_faults.sh - satisfy-scorer against a misbehaving cluster: a 3-broker
# satisfy-broker whose faults are injected through its control port
# (--control, librdkafka's mock cluster API) while the history is replayed:
# each triggered on the scorer's observed progress (its /metrics), the
# first once a tenth of the order events are scored:
#   - 300 ms of added round-trip time on every broker while 3 batches are
#     scored;
#   - retriable request errors on Produce, Fetch, AddPartitionsToTxn,
#     TxnOffsetCommit and EndTxn (NOT_LEADER_FOR_PARTITION,
#     REQUEST_TIMED_OUT, COORDINATOR_LOAD_IN_PROGRESS, ...), then 3 more
#     batches scored;
#   - one abortable error (AddPartitionsToTxn refused with
#     TOPIC_AUTHORIZATION_FAILED, which only the scorer sends: the
#     transaction must be aborted and the batch consumed again, not exit;
#     awaited on satisfy_scorer_aborts_total);
#   - broker 2 down until the scorer's client logs that it lost it, then up;
#     by then not every order event may be scored (the faults land
#     mid-stream).
# At the end every order event id has a prediction (no loss), the scorer is
# still running and exits 0 on SIGTERM, and the duplicates (on the mock
# cluster aborted transactions stay visible, so an aborted batch shows up
# twice) stay within 2 batches per aborted transaction or rejoin. The
# numbers are printed.
source "$(dirname "$0")/scorer_common.bash"

batch=100
make_data
load_expected

start_broker broker --brokers 3 --control 0 --control-file "$work/control"
wait_for 10 "the broker's control file" test -s "$work/control"
ctl_port="$(cut -d: -f2 "$work/control")"
exec 3<>"/dev/tcp/127.0.0.1/$ctl_port" || fail "cannot connect to the control port $ctl_port"

# ctl COMMAND...: one control command, its answer must start with "ok"
ctl() {
  local reply
  echo "$*" >&3
  read -r -t 10 reply <&3 || fail "control: no answer to '$*'"
  case "$reply" in
    ok*) echo "fault: $* -> $reply" ;;
    *) fail "control: '$*' -> $reply" ;;
  esac
}

# the protocol refuses what it cannot do, with the reason
echo "down 9" >&3
read -r -t 10 reply <&3
[[ "$reply" == "error: broker '9': expected a broker id in 1..3" ]] || fail "down 9 -> $reply"
echo "errors Produce NO_SUCH_ERROR" >&3
read -r -t 10 reply <&3
[[ "$reply" == "error: unknown error 'NO_SUCH_ERROR'"* ]] || fail "bad error name -> $reply"
ctl brokers

"$bin/publish_model" --brokers "$bs" --version 1 --data "$data" >"$work/pub.out" \
  2>"$work/pub.err" || fail "publish_model failed: $(cat "$work/pub.err")"
start_scorer scorer --batch "$batch" --batch-ms 5 --http 127.0.0.1:0
port=$(http_port scorer)
wait_log scorer "assigned" 90
# paced: about 25 s for the whole history; each fault is triggered on the
# scorer's observed progress (satisfy_scorer_events_total), and the test
# checks that the last one still landed before every event was scored
timeout 300 "$bin/satisfy-producer" --brokers "$bs" --data "$data" --speed 2500000 \
  --no-progress >"$work/prod.out" 2>"$work/prod.err" &
prod_pid=$!
pids+=("$prod_pid")

# scored MORE: waits until the scorer has scored MORE order events beyond
# what it had scored when called (progress made under the current fault).
scored() {
  local from
  from=$(metric "$port" satisfy_scorer_events_total)
  wait_metric "$port" satisfy_scorer_events_total $((${from:-0} + $1)) 120
}

wait_metric "$port" satisfy_scorer_events_total $((events_want / 10)) 120
first=$metric_value
for b in 1 2 3; do ctl rtt "$b" 300; done
scored $((3 * batch))
for b in 1 2 3; do ctl rtt "$b" 0; done
ctl errors Produce NOT_LEADER_FOR_PARTITION 4
ctl errors Produce REQUEST_TIMED_OUT 2
ctl errors Fetch NOT_LEADER_FOR_PARTITION 3
ctl errors AddPartitionsToTxn COORDINATOR_LOAD_IN_PROGRESS 3
ctl errors TxnOffsetCommit COORDINATOR_LOAD_IN_PROGRESS 2
ctl errors EndTxn COORDINATOR_LOAD_IN_PROGRESS 2
ctl errors EndTxn NOT_COORDINATOR 1
scored $((3 * batch))
ctl errors AddPartitionsToTxn TOPIC_AUTHORIZATION_FAILED 1
wait_metric "$port" satisfy_scorer_aborts_total 1 60
wait_log scorer "aborting the transaction and rewinding" 30
# broker 2 down until the scorer's client has seen it go (a transport error
# naming broker 2 logged after the command)
down_re='/2: .*\(Disconnected\|Connection refused\|Connect to\)'
down_seen() { grep -c "$down_re" "$work/scorer.err" || true; }
before=$(down_seen)
ctl down 2
_down_seen_more() { [ "$(down_seen)" -gt "$before" ]; }
wait_for 60 "the scorer to see broker 2 down" _down_seen_more
echo "broker 2 down, the scorer logged: $(grep "$down_re" "$work/scorer.err" | tail -1 | cut -c1-200)"
ctl up 2
last=$(metric "$port" satisfy_scorer_events_total)
exec 3<&-
[ "${first:-0}" -gt 0 ] && [ "${last:-0}" -lt "$events_want" ] ||
  fail "the faults did not land mid-stream: scored ${first:-?} events at the first, ${last:-?} of $events_want at the last"
echo "faults: the first at $first, the last at $last of $events_want scored order events"

wait "$prod_pid" || fail "replay failed: $(tail -3 "$work/prod.err")"
wait_covered report 300 --dump "$work/dump"
kill -0 "$scorer_pid" 2>/dev/null || fail "the scorer exited under the faults"
stop_scorer
r="$work/report"
[ "$(count bad "$r")" = 0 ] || fail "bad predictions"
[ "$(count unexpected "$r")" = 0 ] || fail "unexpected ids"
n=$(count expected "$r")
dups=$(count duplicates "$r")
aborts=$(sed -n 's/.*stopped: .*, \([0-9]*\) aborted,.*/\1/p' "$work/scorer.err")
[ -n "$aborts" ] || fail "no summary line in the scorer's log"
[ "$aborts" -ge 1 ] || fail "the AddPartitionsToTxn error did not abort a transaction"
grep -q "aborting the transaction and rewinding" "$work/scorer.err" ||
  fail "no abort logged"
rejoins=$(($(grep -c "assigned" "$work/scorer.err") - 1))
bound=$((2 * (aborts + rejoins) * batch))
echo "faults: $n order events, $(count predictions "$r") predictions, missing 0," \
  "duplicates $dups, aborted transactions $aborts, rejoins $rejoins (bound $bound)"
[ "$dups" -le "$bound" ] || fail "$dups duplicates exceed 2 x (aborts + rejoins) x $batch = $bound"
echo "scorer_faults: ok"
