#!/usr/bin/env bash
# scorer_basic.sh - satisfy-scorer end to end on satisfy-broker.
#
# Publishes model 1, starts the scorer, replays the first half of the history
# (events before 2018-01-01) and waits until every order event id has a
# prediction: exactly one each, all by model 1, event_id header = value.
# Then publishes model 2 (a GBDT, different from the ridge model 1) and two
# broken releases with higher versions (ignored, logged), replays the second
# half, and checks that every new prediction names model 2 and the first
# half was not scored again. SIGTERM exits 0 after committing; a restart
# scores nothing again (no loss, no duplicates): it reads on to a garbage
# marker appended to each partition and only dead-letters those.
source "$(dirname "$0")/scorer_common.bash"

make_data
start_broker
"$bin/publish_model" --brokers "$bs" --version 1 --data "$data" --algo ridge \
  >"$work/pub1.out" 2>"$work/pub1.err" || fail "publish_model 1 failed: $(cat "$work/pub1.err")"

start_scorer scorer
wait_log scorer "scoring with model 1" 60
# the mock holds an empty fetch for the whole wait: the scorer must know it
wait_log scorer "the cluster is satisfy-broker (librdkafka's mock): fetch.wait.max.ms=2" 30
timeout 300 "$bin/satisfy-producer" --brokers "$bs" --data "$data" --speed 0 --to 2018-01-01 \
  --no-progress >"$work/prod1.out" 2>"$work/prod1.err" || fail "replay of the first half failed"

wait_covered half1 240 --dump "$work/half1.dump"
r="$work/half1"
[ "$(count duplicates "$r")" = 0 ] || fail "first half: duplicates: $(tr '\n' ' ' <"$r")"
[ "$(count bad "$r")" = 0 ] || fail "first half: bad predictions"
[ "$(count unexpected "$r")" = 0 ] || fail "first half: unexpected ids"
[ "$(count predictions "$r")" = "$(count expected "$r")" ] || fail "first half: count != expected"
[ "$(grep -c '^version ' "$r")" = 1 ] && [ "$(count version "$r")" = 1 ] ||
  fail "first half: versions other than 1: $(grep '^version' "$r")"
n1=$(count predictions "$r")
echo "first half: $n1 order events, $n1 predictions, all by model 1"

# model 2, then two broken releases that must be ignored
"$bin/publish_model" --brokers "$bs" --version 2 --data "$data" --algo gbdt --to 2018-01-01 \
  >"$work/pub2.out" 2>"$work/pub2.err" || fail "publish_model 2 failed: $(cat "$work/pub2.err")"
wait_log scorer "scoring with model 2" 60
"$bin/publish_model" --brokers "$bs" --version 7 --data "$data" --bad checksum >/dev/null \
  2>"$work/pub7.err" || fail "publish_model --bad checksum failed"
"$bin/publish_model" --brokers "$bs" --version 8 --bad garbage >/dev/null 2>"$work/pub8.err" ||
  fail "publish_model --bad garbage failed"
wait_log scorer "ignoring bad model release at satisfy.models \[0\] @2: model release 7: payload checksum mismatch" 30
wait_log scorer "ignoring bad model release at satisfy.models \[0\] @3" 30
grep -q "scoring with model [78]" "$work/scorer.err" && fail "a bad release became active"

timeout 300 "$bin/satisfy-producer" --brokers "$bs" --data "$data" --speed 0 --from 2018-01-01 \
  --no-progress >"$work/prod2.out" 2>"$work/prod2.err" || fail "replay of the second half failed"
wait_covered all 240 --dump "$work/all.dump"
r="$work/all"
[ "$(count duplicates "$r")" = 0 ] || fail "duplicates: $(tr '\n' ' ' <"$r")"
[ "$(count bad "$r")" = 0 ] || fail "bad predictions"
[ "$(count unexpected "$r")" = 0 ] || fail "unexpected ids"
n=$(count predictions "$r")
[ "$n" -gt "$n1" ] || fail "second half produced no prediction"
# predictions of ids not in the first half: all by model 2
awk '{ print $1 }' "$work/half1.dump" | sort >"$work/half1.ids"
sort "$work/all.dump" | join -v 1 - "$work/half1.ids" >"$work/half2.dump"
n2=$(wc -l <"$work/half2.dump")
[ "$n2" = $((n - n1)) ] || fail "second half: $n2 new ids, want $((n - n1))"
awk '$2 != 2' "$work/half2.dump" | head -3 >"$work/wrongver"
[ ! -s "$work/wrongver" ] || fail "second-half predictions not by model 2: $(cat "$work/wrongver")"
# first-half predictions are untouched (still model 1 and no second copy)
sort "$work/all.dump" | join - "$work/half1.ids" | awk '$2 != 1' | head -3 >"$work/wrongver1"
[ ! -s "$work/wrongver1" ] || fail "first-half predictions changed: $(cat "$work/wrongver1")"
echo "second half: $n2 predictions, all by model 2; total $n, duplicates 0"

stop_scorer
grep -q "stopped: $n events, $n predictions, 0 to dlq" "$work/scorer.err" ||
  fail "stop summary: $(grep stopped "$work/scorer.err")"

# restart: resumes after the committed offsets, nothing scored again. The
# proof it got there: one garbage message appended to each of the 8
# partitions; a partition is consumed in offset order, so once all 8 are in
# the DLQ the scorer has read every partition from its committed offset to
# the end, and anything it scored again would show in its counters.
command -v kcat >/dev/null || fail "kcat missing (scripts/install-deps.sh installs kcat)"
for p in 0 1 2 3 4 5 6 7; do
  echo "restart marker $p" | timeout 30 kcat -P -b "$bs" -t satisfy.orders -p "$p" 2>"$work/kcat.err" ||
    fail "kcat -P satisfy.orders -p $p: $(cat "$work/kcat.err")"
done
start_scorer restart --http 127.0.0.1:0
port=$(http_port restart)
wait_log restart "assigned 8 partition" 60
wait_metric "$port" satisfy_scorer_dlq_total 8 60
# publish_model's releases carry no alert threshold and none is given: no alerts
[ "$(metric "$port" satisfy_scorer_alert_threshold)" = -1 ] ||
  fail "alert threshold $(metric "$port" satisfy_scorer_alert_threshold) without one in the release"
stop_scorer
grep -q "stopped: 8 events, 0 predictions, 8 to dlq" "$work/restart.err" ||
  fail "restart scored again: $(grep stopped "$work/restart.err")"
timeout 200 "$bin/consume_predictions" --brokers "$bs" --idle 1 --committed satisfy-scorer \
  --alerts "$work/final.alerts" --alert-threshold 0 >"$work/final" 2>/dev/null ||
  fail "consume_predictions failed"
[ "$(count alerts "$work/final")" = 0 ] || fail "$(count alerts "$work/final") alerts without a threshold"
[ "$(count predictions "$work/final")" = "$n" ] || fail "after restart: $(count predictions "$work/final") predictions, want $n"
echo "restart: 0 events scored again (the 8 markers dead-lettered); committed: $(grep committed "$work/final")"
echo "scorer_basic: ok"
