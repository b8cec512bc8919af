#!/usr/bin/env bash
# bench_shadow.sh - what shadow scoring costs: satisfy-scorer's loop
# (bench_scorer run, exactly-once, its defaults) catching up on the same
# backlog of order events without a challenger and with one, alternately in
# one run (the ServingState on satisfy.models switched between runs with
# bench_scorer serve; every run a consumer group of its own from the start).
# Reports CPU microseconds per event and events/s between 10% and 90% of the
# backlog, ranges over runs, and the ratio with/without run by run. With a
# challenger every event is scored twice (the features once: both models
# share the feature spec here) and two predictions are produced, the second
# to satisfy.shadow in the same transaction; expected under 2x.
#
# Uses satisfy-broker (32 partitions, 5 MiB kept per partition). OLIST_DIR
# when set, else a 15,000-order generated dataset. Champion: a GBDT trained
# on all of it (version 1); challenger: a GBDT trained on the orders before
# 2018 (version 2). BENCH_SHADOW_RUNS (default 3) pairs of runs,
# BENCH_SHADOW_REPLAYS (default 8) replays of the data in the backlog.
# Prints a markdown section.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
bench_start bench_shadow

"$bin/satisfy-broker" --partitions 32 --bootstrap-file "$work/bs" >/dev/null 2>"$work/broker.err" &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/bs" ] && break; sleep 0.1; done
[ -s "$work/bs" ] || die "satisfy-broker did not start: $(cat "$work/broker.err")"
bs=$(head -1 "$work/bs")
bench_data
"$bin/publish_model" --brokers "$bs" --version 1 --data "$data" --algo gbdt >"$work/pub1" 2>&1 ||
  die "publish_model 1: $(cat "$work/pub1")"
"$bin/publish_model" --brokers "$bs" --version 2 --data "$data" --algo gbdt --to 2018-01-01 \
  >"$work/pub2" 2>&1 || die "publish_model 2: $(cat "$work/pub2")"
replays=${BENCH_SHADOW_REPLAYS:-8}
bench_backlog "$replays" "$bs"
tick=$(getconf CLK_TCK)
epoch=0

# measure MODE RUN: sets the ServingState (MODE none: champion 1 alone;
# shadow: challenger 2 too), consumes the whole backlog with a new scorer
# and prints "events_per_s cpu_us_per_event shadow_predictions"
measure() {
  local mode="$1" run="$2" ch=0 log="$work/$1-$2.err"
  [ "$mode" = shadow ] && ch=2
  epoch=$((epoch + 1))
  "$bin/bench_scorer" serve --brokers "$bs" --epoch "$epoch" --champion 1 --challenger "$ch" ||
    die "bench_scorer serve failed"
  "$bin/bench_scorer" run --brokers "$bs" --group "shadow-$mode-$run" --http 127.0.0.1:0 2>"$log" &
  local pid=$!
  pids+=("$pid")
  local port
  port=$(port_of "$log")
  [ -n "$port" ] || die "$mode: no /metrics port: $(cat "$log")"
  local lo=$((n / 10)) hi=$((n * 9 / 10)) ev=0 ta="" ca="" ea=0 tb="" cb="" eb=0
  local end=$((SECONDS + 600))
  while [ $SECONDS -lt $end ]; do
    ev=$(metric "$port" satisfy_scorer_events_total)
    ev=${ev:-0}
    if [ -z "$ta" ] && [ "$ev" -ge "$lo" ]; then ta=$(date +%s.%N); ca=$(cpu_ticks "$pid"); ea=$ev; fi
    if [ -z "$tb" ] && [ "$ev" -ge "$hi" ]; then tb=$(date +%s.%N); cb=$(cpu_ticks "$pid"); eb=$ev; fi
    [ "$ev" -ge "$n" ] && break
    sleep 0.02
  done
  [ "$ev" -ge "$n" ] || die "$mode: only $ev of $n events after 600 s"
  local shadow
  shadow=$(metric "$port" satisfy_scorer_shadow_predictions_total)
  stop_pid "$pid"
  if [ "$mode" = shadow ]; then
    grep -q "shadow: scoring with challenger model 2 as well" "$log" || die "shadow run: no challenger"
  else
    if grep -q "shadow: scoring with challenger" "$log"; then die "run without a challenger used one"; fi
  fi
  awk -v ea="$ea" -v eb="$eb" -v ta="$ta" -v tb="$tb" -v ca="$ca" -v cb="$cb" -v tk="$tick" \
    -v sh="${shadow:-0}" 'BEGIN { printf "%.0f %.2f %d\n", (eb - ea) / (tb - ta),
                                 (cb - ca) / tk / (eb - ea) * 1e6, sh }'
}

runs=${BENCH_SHADOW_RUNS:-3}
for r in $(seq "$runs"); do
  measure none "$r" >>"$work/none.txt"
  measure shadow "$r" >>"$work/shadow.txt"
done

range() { # FILE COL: "min-max" of a column
  sort -n -k"$2","$2" "$1" | awk -v c="$2" 'NR == 1 { lo = $c } { hi = $c }
    END { if (lo == hi) print lo; else print lo "-" hi }'
}
ratios() { # A B COL: the ratio A/B of a column, run by run, "min-max"
  paste "$1" "$2" | awk -v c="$3" '{ n = NF / 2; r = $c / $(c + n);
    if (NR == 1 || r < lo) lo = r; if (NR == 1 || r > hi) hi = r }
    END { printf "%.2f-%.2f\n", lo, hi }'
}
cat <<EOF2
## Shadow scoring: the scorer with a challenger against without (bench_shadow.sh)

Data: $source replayed $replays times, $n order events, on satisfy-broker
(32 partitions). bench_scorer run (the scorer's loop, exactly-once, its
defaults), a new consumer group per run reading the whole backlog; $runs
pairs of runs alternating without and with a challenger (champion: GBDT
version 1; challenger: GBDT version 2, same feature spec, so the features
are made once). Rate and CPU between 10% and 90% of the backlog (CPU of the
whole process, librdkafka's threads included); ranges over runs, ratios run
by run (with / without).

| challenger | events/s | CPU us/event | shadow predictions per run |
|---|---:|---:|---:|
| none | $(range "$work/none.txt" 1) | $(range "$work/none.txt" 2) | $(range "$work/none.txt" 3) |
| version 2 | $(range "$work/shadow.txt" 1) | $(range "$work/shadow.txt" 2) | $(range "$work/shadow.txt" 3) |
| **with / without** | $(ratios "$work/shadow.txt" "$work/none.txt" 1) | **$(ratios "$work/shadow.txt" "$work/none.txt" 2)** | |
EOF2
