#!/usr/bin/env bash
# scorer_nomodel.sh - with no model released, satisfy-scorer says it is
# waiting and consumes nothing (no prediction, no committed offset of its
# group); a bad release does not end the wait; once a model is published it
# scores every order event. Also: usage errors exit 2 with the reason.
source "$(dirname "$0")/scorer_common.bash"

make_data
start_broker
timeout 300 "$bin/satisfy-producer" --brokers "$bs" --data "$data" --speed 0 --max-events 3000 \
  --no-progress >"$work/prod.out" 2>"$work/prod.err" || fail "replay failed"

start_scorer scorer --http 127.0.0.1:0
wait_log scorer "serving /healthz and /metrics on port [1-9]" 30
port=$(sed -n 's/.*serving \/healthz and \/metrics on port \([0-9]*\).*/\1/p' "$work/scorer.err")
wait_log scorer "waiting for a model release on satisfy.models; consuming nothing until then" 30
metrics() { curl -s --max-time 5 "http://127.0.0.1:$port/metrics"; }
[ "$(curl -s --max-time 5 "http://127.0.0.1:$port/healthz")" = ok ] || fail "GET /healthz"
# saved first: grep -q exiting early would fail curl's second write (pipefail)
metrics >"$work/metrics.txt" || fail "/metrics did not answer"
grep -q "^satisfy_scorer_model_version 0$" "$work/metrics.txt" ||
  fail "/metrics before a model: $(head -20 "$work/metrics.txt")"
grep -q "^satisfy_scorer_events_total 0$" "$work/metrics.txt" || fail "/metrics: events before a model"
"$bin/publish_model" --brokers "$bs" --version 5 --bad garbage >/dev/null 2>"$work/pubbad.err" ||
  fail "publish_model --bad garbage failed"
wait_log scorer "ignoring bad model release at satisfy.models \[0\] @0" 30
# the positive observation: the scorer has taken in the bad release (its
# counter moved), is still up and says it has no model and scored nothing;
# 3,000 order events wait on the topic, so a scorer that consumed without
# a model would show them below (predictions, committed offsets)
wait_metric "$port" satisfy_scorer_models_rejected_total 1 30
kill -0 "$scorer_pid" 2>/dev/null || fail "scorer exited while waiting"
metrics >"$work/metrics2.txt" || fail "/metrics did not answer after the bad release"
grep -q "^satisfy_scorer_model_version 0$" "$work/metrics2.txt" &&
  grep -q "^satisfy_scorer_events_total 0$" "$work/metrics2.txt" ||
  fail "/metrics after the bad release: $(grep -E 'model_version|events_total' "$work/metrics2.txt")"
ready=$(curl -s --max-time 5 -w ' %{http_code}' "http://127.0.0.1:$port/readyz")
[[ "$ready" == *'"reason":"the scorer has no model yet"'*' 503' ]] || fail "/readyz while waiting: $ready"
timeout 200 "$bin/consume_predictions" --brokers "$bs" --idle 1 --committed satisfy-scorer \
  >"$work/before" 2>"$work/before.cerr" || fail "consume_predictions failed"
[ "$(count predictions "$work/before")" = 0 ] || fail "predictions without a model"
grep -q "^committed 0 0$" "$work/before" || fail "offsets committed without a model: $(grep committed "$work/before")"
grep -q "assigned" "$work/scorer.err" && fail "scorer joined the group without a model"
echo "no model: 0 predictions, no committed offsets, waiting message present"

"$bin/publish_model" --brokers "$bs" --version 3 --data "$data" >"$work/pub.out" \
  2>"$work/pub.err" || fail "publish_model failed: $(cat "$work/pub.err")"
wait_log scorer "scoring with model 3" 30
wait_covered after 240
r="$work/after"
[ "$(count duplicates "$r")" = 0 ] && [ "$(count bad "$r")" = 0 ] || fail "after: $(tr '\n' ' ' <"$r")"
[ "$(awk '$1 == "version" && $2 == 3 { print $3 }' "$r")" = "$(count predictions "$r")" ] ||
  fail "predictions not all by model 3: $(grep '^version' "$r")"
echo "after publishing: $(count predictions "$r") predictions by model 3"
m=$(metrics)
grep -q "^satisfy_scorer_model_version 3$" <<<"$m" || fail "/metrics: model version: $m"
grep -q "^satisfy_scorer_predictions_total $(count predictions "$r")$" <<<"$m" ||
  fail "/metrics: predictions_total: $(grep predictions_total <<<"$m")"
grep -q "^satisfy_scorer_models_rejected_total 1$" <<<"$m" || fail "/metrics: rejected releases"
grep -q '^satisfy_scorer_process_latency_seconds_bucket{le="+Inf"} ' <<<"$m" || fail "/metrics: histogram"
[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$port/nope")" = 404 ] ||
  fail "GET /nope is not 404"
echo "http: /healthz ok, /metrics model 3, $(count predictions "$r") predictions"
stop_scorer

# usage errors
expect_status 2 "--brokers is required" "$bin/satisfy-scorer"
expect_status 2 "no.such.property" "$bin/satisfy-scorer" --brokers "$bs" -X no.such.property=1
expect_status 2 '--batch: "0" is out of range; expected an integer in 1..100000' \
  "$bin/satisfy-scorer" --brokers "$bs" --batch 0
expect_status 2 '--connect-timeout: "2x" has "x" after the number' \
  "$bin/satisfy-scorer" --brokers "$bs" --connect-timeout 2x
expect_status 1 "cannot reach brokers 127.0.0.1:1 within 2 s" \
  timeout 60 "$bin/satisfy-scorer" --brokers 127.0.0.1:1 --connect-timeout 2
"$bin/satisfy-scorer" --help | grep -q "at-least-once" || fail "--help does not mention --at-least-once"
echo "scorer_nomodel: ok"
