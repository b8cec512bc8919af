#!/usr/bin/env bash
# scorer_parity.sh - train/serve parity of the history features on the real
# sample (OLIST_DIR; a generated dataset without it): satisfy-retrainer run
# (no retrain within the replay: it stores the events and publishes satisfy.history) and a
# scorer (--history-features) on satisfy-broker, a replay at demo speed
# (PARITY_SPEED, default 500000x as scripts/demo.sh), then every scored
# event's history features against what training computes for the same
# event (tests/tools/train_features: sf_training_rows_build, the rows batch
# training learns from).
#
# A live scorer reads the history as satisfy-retrainer has published it when
# the event is scored, training as it was strictly before the event: they
# differ when an update of the event's sellers or customer is within the
# propagation delay of the event, on either side (applied late: "stale";
# or already applied although at or after the event: "ahead", the scorer
# lagging the retrainer). Those are the documented propagation cases,
# counted; an event whose sellers and customer had no update within
# PARITY_WINDOW_S wall seconds (x the speed, in event time) must get exactly
# training's features - any such difference fails the test. Prints the
# figures docs/model.md quotes ("Train/serve skew of the history").
source "$(dirname "$0")/scorer_common.bash"
export LC_ALL=C

# Release builds only (exit 77, skipped, otherwise): the test judges values,
# not memory (the same scorer and retrainer code runs under ASan/UBSan in
# scorer_history and retrainer_history), and its demo-speed replay of the
# sample would add about four minutes to the sanitizer run.
release_only "it judges values; scorer_history and retrainer_history run its code"

speed="${PARITY_SPEED:-500000}"
window_s="${PARITY_WINDOW_S:-2}"
use_data 15000 11
start_broker
"$bin/publish_model" --brokers "$bs" --version 1 --data "$data" --algo ridge --no-history \
  >"$work/pub.out" 2>"$work/pub.err" || fail "publish_model failed: $(cat "$work/pub.err")"
"$bin/satisfy-retrainer" run --brokers "$bs" --registry "$work/registry.db" --store "$work/store.db" \
  --retrain-every 100000000 --stats-file "$work/stats.json" >"$work/retrainer.out" 2>"$work/retrainer.err" &
pids+=($!)
start_scorer scorer --http 127.0.0.1:0 --history-features "$work/live.txt"
port=$(http_port scorer)
wait_log scorer "scoring with model 1" 60
wait_log scorer "assigned 8 partition" 60
"$bin/train_features" --data "$data" >"$work/train.txt" 2>"$work/tf.err" ||
  fail "train_features failed: $(cat "$work/tf.err")"

t0=$SECONDS
timeout 900 "$bin/satisfy-producer" --brokers "$bs" --data "$data" --speed "$speed" --no-progress \
  >"$work/prod.out" 2>"$work/prod.err" || fail "replay failed: $(tail -3 "$work/prod.err")"
echo "replay at ${speed}x: $((SECONDS - t0)) s"
wait_covered all 240
n=$(count expected "$work/all")
wait_metric "$port" satisfy_scorer_events_total "$n" 120

# live: the last scoring of each event; joined with training's rows
awk '{ last[$1] = $0 } END { for (e in last) print last[e] }' "$work/live.txt" | sort >"$work/live.f"
sort "$work/train.txt" >"$work/train.f"
join "$work/live.f" "$work/train.f" >"$work/joined"
awk -v w=$((window_s * speed * 1000)) -v speed="$speed" '
  {
    # $2..$7 live, $8..$13 training, $14 ms back to the last update, $15 ms on to the next
    same = 1
    for (i = 2; i <= 7; i++) if ($i != $(i + 6)) same = 0
    n++
    if (same) { eq++; next }
    near = ($14 >= 0 && $14 <= w) || ($15 >= 0 && $15 <= w)
    # stale: the live counts are below training (an update not yet applied)
    stale = ($3 + 0 < $9 + 0) || ($4 + 0 < $10 + 0 && $3 + 0 <= $9 + 0) || ($6 + 0 < $12 + 0)
    if (!near) { bad++; if (bad <= 5) print "unexplained: " $0 > "/dev/stderr"; next }
    if (stale) st++; else ah++
    # the nearest update, in replay wall seconds
    d = ($14 >= 0 && ($15 < 0 || $14 < $15)) ? $14 : $15
    print d / 1000 / speed > "'"$work/near"'"
  }
  END {
    printf "compared %d\nequal %d\nstale %d\nahead %d\nunexplained %d\n", n, eq, st, ah, bad
    printf "differ_share %.4f\nwindow_event_days %.1f\n", (st + ah + bad) / (n ? n : 1), w / 86400000
  }' "$work/joined" >"$work/parity" 2>"$work/unexplained"
# how near the update that explains a difference was, in replay wall seconds
sort -g "$work/near" | awk '{ v[NR] = $1 } END { if (NR) printf "near_wall_s p50 %.3f p90 %.3f p99 %.3f max %.3f\n",
  v[int(NR * 0.5) + 1], v[int(NR * 0.9) + 1], v[int(NR * 0.99) + 1], v[NR] }' >>"$work/parity"
cat "$work/parity"
compared=$(count compared "$work/parity")
[ "${compared:-0}" -gt $((n / 2)) ] || fail "only ${compared:-0} of $n scored events have training rows"
[ "$(count unexplained "$work/parity")" = 0 ] ||
  fail "history features differ from training's with no update near: $(head -3 "$work/unexplained")"
[ "$(count equal "$work/parity")" -gt 0 ] || fail "no event has training's history features"
echo "scorer_parity: ok"
