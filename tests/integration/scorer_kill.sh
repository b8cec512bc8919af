#!/usr/bin/env bash
# scorer_kill.sh - kill -9 satisfy-scorer twice mid-stream and restart it.
# Each kill is triggered when the running instance has scored a quarter of
# the order events and keeps pace with the stream (its
# satisfy_scorer_events_total and satisfy_scorer_consumer_lag), so both land
# while events are still being scored; the test checks that from the
# predictions on the topic (some at the first kill, more at the second, not
# all).
#
# On satisfy-broker (librdkafka's mock cluster: transactions are accepted but
# not isolated, and the killed instance's open transaction stays visible)
# the guarantee is at-least-once: every order event id must have a
# prediction (no loss) and the duplicates must stay within what was in
# flight at the kills: per kill, the open transaction and the previous batch,
# plus the batches of the last commit interval (the offsets of committed
# transactions reach the mock through librdkafka's committer, every 100 ms:
# the events replayed in 100 ms), i.e. <= kills x (2 x batch size + replay
# rate / 10). The numbers are printed.
#
# Alerts (satisfy.alerts, --alert-threshold $alert_t): every alert's risk is
# at or above the threshold, every order whose largest predicted risk
# reaches it has an alert and every alert an order that does (counted
# against satisfy.predictions, consume_predictions --alerts), the alerts of
# one order all share one event id (a duplicate is removed by it), and
# there are at most as many duplicates as the predictions' bound. A
# restarted scorer rebuilds its alerted orders from satisfy.alerts: without
# that, every order alerted before a kill would be alerted again at its next
# stage, with another event id.
#
# With SATISFY_TEST_BROKERS=host:port (a real Kafka with the satisfy topics
# created and empty), the same run must give zero loss AND zero duplicates
# (read_committed). Without it, that part is skipped with the reason printed.
source "$(dirname "$0")/scorer_common.bash"
not_sanitized "kill -9 leaves nothing for the sanitizers to report; scorer_basic and scorer_faults run the same code"

batch=100
alert_t=0.3
make_data
load_expected

# kill_point PORT: the scorer on PORT has scored a quarter of the order
# events (mid-stream by construction: about half are scored at the second
# kill) and keeps pace with the stream (consumer lag known and at most 5
# batches: a restarted instance first catches up a backlog at full speed,
# with more in flight than the bound counts). Sets $ev and $lag.
kill_point() {
  ev=$(metric "$1" satisfy_scorer_events_total)
  lag=$(metric "$1" satisfy_scorer_consumer_lag)
  [ "${ev:-0}" -ge $((events_want / 4)) ] && [ "${lag:--1}" -ge 0 ] && [ "$lag" -le $((5 * batch)) ]
}

# run_kill_test LABEL: uses $bs; sets $dups and $n after checking no loss.
run_kill_test() {
  local label="$1"
  timeout 200 "$bin/consume_predictions" --brokers "$bs" --idle 1 >"$work/$label.pre" \
    2>/dev/null || fail "$label: consume_predictions failed"
  [ "$(count predictions "$work/$label.pre")" = 0 ] ||
    fail "$label: satisfy.predictions is not empty; the test needs fresh topics"
  "$bin/publish_model" --brokers "$bs" --version 1 --data "$data" >"$work/$label.pub" \
    2>"$work/$label.pub.err" || fail "$label: publish_model failed: $(cat "$work/$label.pub.err")"
  local kills=0 prod_pid
  for round in 1 2; do
    start_scorer "$label-$round" --batch "$batch" --batch-ms 5 --http 127.0.0.1:0 \
      --alert-threshold "$alert_t"
    port=$(http_port "$label-$round")
    wait_log "$label-$round" "assigned" 90
    if [ "$round" = 1 ]; then
      # paced: about 35 s for the whole history, so that a restarted instance
      # catches up its backlog well before the stream ends
      timeout 300 "$bin/satisfy-producer" --brokers "$bs" --data "$data" --speed 1500000 \
        --no-progress >"$work/$label.prod" 2>"$work/$label.prod.err" &
      prod_pid=$!
      pids+=("$prod_pid")
    fi
    POLL_INTERVAL=0.1 poll 120 kill_point "$port" ||
      fail "$label: no kill point in 120 s (events scored ${ev:-?}, lag ${lag:-?})"
    [ "$(metric "$port" satisfy_scorer_alert_threshold)" = "$alert_t" ] ||
      fail "$label: satisfy_scorer_alert_threshold is not $alert_t"
    [ "$round" = 1 ] || grep -q "alerts: read [1-9][0-9]* alerts" "$work/$label-$round.err" ||
      fail "$label: the restarted scorer read no alerts back: $(grep 'alerts:' "$work/$label-$round.err")"
    kill -9 "$scorer_pid"
    wait "$scorer_pid" 2>/dev/null || true
    kills=$((kills + 1))
    timeout 200 "$bin/consume_predictions" --brokers "$bs" --idle 1 >"$work/$label.k$round" \
      2>/dev/null || fail "$label: consume_predictions failed"
    echo "$label: kill -9 #$round after $ev events scored by this instance (lag $lag)," \
      "$(count predictions "$work/$label.k$round") predictions on the topic"
  done
  start_scorer "$label-final" --batch "$batch" --batch-ms 5 --alert-threshold "$alert_t"
  wait "$prod_pid" || fail "$label: replay failed: $(tail -3 "$work/$label.prod.err")"
  wait_covered "$label.report" 300 --dump "$work/$label.dump" \
    --alerts "$work/$label.alerts" --alert-threshold "$alert_t"
  stop_scorer
  local r="$work/$label.report"
  [ "$(count bad "$r")" = 0 ] || fail "$label: bad predictions"
  [ "$(count unexpected "$r")" = 0 ] || fail "$label: unexpected ids"
  n=$(count expected "$r")
  dups=$(count duplicates "$r")
  local k1 k2
  k1=$(count predictions "$work/$label.k1")
  k2=$(count predictions "$work/$label.k2")
  [ "$k1" -gt 0 ] && [ "$k2" -gt "$k1" ] && [ "$k2" -lt "$n" ] ||
    fail "$label: kills were not mid-stream ($k1, $k2 of $n predictions)"
  rate=$(sed -n 's/.*rate: \([0-9]*\) events\/s.*/\1/p' "$work/$label.prod")
  bound=$((kills * (2 * batch + ${rate:-0} / 10)))
  echo "$label: $n order events, $(count predictions "$r") predictions, missing 0, duplicates $dups (bound $bound at $rate events/s)"
  for k in alert_bad alert_below alert_missing alert_unexpected alert_dup_differ; do
    [ "$(count $k "$r")" = 0 ] || fail "$label: $k $(count $k "$r"): $(grep alert "$r" | tr '\n' ' ')"
  done
  alert_dups=$(count alert_duplicates "$r")
  [ "$(count alert_orders "$r")" -ge 20 ] || fail "$label: only $(count alert_orders "$r") orders alerted"
  [ "$alert_dups" -le "$bound" ] || fail "$label: $alert_dups duplicate alerts exceed $bound"
  echo "$label: $(count alerts "$r") alerts at $alert_t for $(count alert_orders "$r") orders, none missing or under it, duplicates $alert_dups (one event id each)"
}

start_broker
run_kill_test mock
[ "$dups" -le "$bound" ] || fail "mock: $dups duplicates exceed 2 kills x (2 x $batch + $rate / 10)"

if [ -n "${SATISFY_TEST_BROKERS:-}" ]; then
  bs="$SATISFY_TEST_BROKERS"
  run_kill_test kafka
  [ "$dups" = 0 ] || fail "real Kafka: $dups duplicates, want 0 (exactly-once)"
  [ "$alert_dups" = 0 ] || fail "real Kafka: $alert_dups duplicate alerts, want 0 (exactly-once)"
else
  echo "SKIP real-Kafka part: SATISFY_TEST_BROKERS is not set (see docs/operations.md to run it against a local Kafka)"
fi
echo "scorer_kill: ok"
