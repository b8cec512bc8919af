#!/usr/bin/env bash
# scale/retrain.sh - one streaming retrain with 100k, 300k and 1M orders
# stored: before (every stored event, as `satisfy-retrainer run
# --train-window 0` and the code before windows do) and after (the default
# 365-day training window with its history checkpoint), in the same run.
#
# Data: satisfy-datagen at a constant rate of 100k orders a year, ending
# 2018-10-17 (100k = 1 year, 300k = 3 years, 1M = 10 years of history), so
# that more orders stored means a longer history, as it does for a running
# retrainer. bench_retrain_scale fills a store with the lifecycle events
# (sf_store_put_*, no Kafka), then times one retrain in its own process
# (wall time and the peak RSS of the retrain alone). For the window, the
# checkpoint is first built where the previous retrain would have left it,
# BENCH_RETRAIN_LAG days (default 7) before the window start; that start-up
# build is reported apart. Release build, 2 XGBoost threads, nice'd.
# Env: SATISFY_BIN_DIR (required), BENCH_OUT (default /tmp),
# BENCH_RETRAIN_SIZES (default "100000 300000 1000000"), BENCH_RETRAIN_WINDOW
# (default 365), BENCH_RETRAIN_LAG (default 7).
set -euo pipefail
bin="${SATISFY_BIN_DIR:?set SATISFY_BIN_DIR to the bin directory of a build}"
out="${BENCH_OUT:-/tmp}"
sizes="${BENCH_RETRAIN_SIZES:-100000 300000 1000000}"
window="${BENCH_RETRAIN_WINDOW:-365}"
lag="${BENCH_RETRAIN_LAG:-7}"
export OMP_WAIT_POLICY=passive
work="$(mktemp -d "$out/bench_retrain_scale.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# value of key k in a "k=v k=v" line
kv() { tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p" | tail -1; }

echo "### Scale: retraining with a window"
echo
echo "One retrain of \`satisfy-retrainer run\` on a store holding N orders (a constant 100k orders a"
echo "year, so N is also the length of the history); before = every stored event (\`--train-window 0\`),"
echo "after = \`--train-window $window\` from a checkpoint $lag days behind the window start."
echo
echo "| orders stored | events | retrain before | peak RSS before | retrain after | peak RSS after | rows before / after | events read after | checkpoint start-up |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for n in $sizes; do
  years=$(( (n + 99999) / 100000 ))
  from="$(( 2018 - years ))-10-17"
  rm -rf "$work/data" "$work"/store.db* "$work"/reg*.db*
  timeout 1800 nice "$bin/satisfy-datagen" --orders "$n" --seed 1 --out "$work/data" \
    --from "$from" --to 2018-10-17 >/dev/null
  fl=$(timeout 3600 nice "$bin/bench_retrain_scale" fill "$work/data" "$work/store.db")
  rm -rf "$work/data"
  b=$(timeout 3600 nice "$bin/bench_retrain_scale" retrain "$work/store.db" "$work/reg0.db" 0 "$lag")
  a=$(timeout 3600 nice "$bin/bench_retrain_scale" retrain "$work/store.db" "$work/reg1.db" "$window" "$lag")
  echo "$n before: $b" >&2
  echo "$n after: $a" >&2
  printf '| %s | %s | %s s | %s MB | %s s | %s MB | %s / %s | %s | %s s (%s events) |\n' \
    "$n" "$(kv events "$fl")" "$(kv retrain_s "$b")" "$(kv peak_rss_mb "$b")" \
    "$(kv retrain_s "$a")" "$(kv peak_rss_mb "$a")" "$(kv rows "$b")" "$(kv rows "$a")" \
    "$(( $(kv advance_events "$a") + $(kv read_events "$a") ))" "$(kv startup_s "$a")" \
    "$(kv startup_events "$a")"
done
rm -rf "$work"/store.db*
