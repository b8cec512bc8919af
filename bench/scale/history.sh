#!/usr/bin/env bash
# scale/history.sh - the scorer's live history at scale: satisfy.history on
# satisfy-broker holds N generated customers (tests/tools/history_write:
# bought as on Olist, 97% once; default N = 1,000,000, plus N/50 sellers),
# a scorer starts and rebuilds its state from the topic; reported: the
# rebuild time the scorer logs, its RSS and peak (VmHWM) once rebuilt, and its RSS and peak
# after a model release is loaded and a 2,000-order replay (about 8,000
# events) is scored at --speed 0 - a steady scorer, not one catching up a
# backlog, whose 128 MiB prefetch alone is the bench_scorer.sh figure.
# BENCH_HISTORY_HEAVY=1 makes a third of the customers buy three times
# (purchase times beyond two go to the heap: the worst case per customer).
# Prints a markdown section. The goal (issue 19): RSS <= 128 MB.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/../lib.sh"
bench_start bench_history
n="${BENCH_HISTORY_CUSTOMERS:-1000000}"
heavy=()
[ "${BENCH_HISTORY_HEAVY:-0}" = 1 ] && heavy=(--repeat-heavy)

# wait_grep FILE PATTERN SECONDS
wait_grep() {
  local end=$((SECONDS + $3))
  until grep -q -- "$2" "$1" 2>/dev/null; do
    [ $SECONDS -lt $end ] || die "no '$2' in $1 after $3 s: $(tail -3 "$1")"
    sleep 0.2
  done
}
rss_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

timeout 1800 "$bin/satisfy-broker" --partitions 8 --bootstrap-file "$work/bs" >"$work/broker.out" \
  2>"$work/broker.err" &
pids+=($!)
wait_grep "$work/broker.out" "127.0.0.1" 10
bs="$(head -1 "$work/broker.out")"

"$bin/satisfy-datagen" --orders 2000 --seed 5 --out "$work/data" >/dev/null 2>&1 ||
  die "satisfy-datagen failed"
timeout 600 "$bin/history_write" --brokers "$bs" --customers "$n" "${heavy[@]}" >"$work/write.out" \
  2>"$work/write.err" || die "history_write failed: $(cat "$work/write.err")"
read -r _ records _ bytes _ wsecs <"$work/write.out"

"$bin/satisfy-scorer" --brokers "$bs" --instance-id bench --http 127.0.0.1:0 --history-wait 600 \
  >"$work/scorer.out" 2>"$work/scorer.err" &
spid=$!
pids+=("$spid")
wait_grep "$work/scorer.err" "history rebuilt in" 620
rebuild=$(sed -n 's/.*history rebuilt in \([0-9.]*\) s.*/\1/p' "$work/scorer.err")
customers=$(sed -n 's/.*, \([0-9]*\) customers,.*/\1/p' "$work/scorer.err" | head -1)
rss_rebuilt=$(rss_kb "$spid" VmRSS)
hwm_rebuilt=$(rss_kb "$spid" VmHWM)

"$bin/publish_model" --brokers "$bs" --version 1 --data "$work/data" --algo gbdt >/dev/null \
  2>"$work/pub.err" || die "publish_model failed: $(cat "$work/pub.err")"
wait_grep "$work/scorer.err" "scoring with model 1" 120
timeout 300 "$bin/satisfy-producer" --brokers "$bs" --data "$work/data" --speed 0 --no-progress \
  >/dev/null 2>"$work/prod.err" || die "replay failed: $(tail -3 "$work/prod.err")"
port=$(sed -n 's/.*on port \([0-9]*\).*/\1/p' "$work/scorer.err" | head -1)
end=$((SECONDS + 300))
until [ "$(metric "$port" satisfy_scorer_consumer_lag)" = 0 ] &&
  [ "$(metric "$port" satisfy_scorer_events_total)" -gt 0 ]; do
  [ $SECONDS -lt $end ] || die "the replay was not scored in 300 s"
  sleep 0.5
done
events=$(metric "$port" satisfy_scorer_events_total)
rss_scoring=$(rss_kb "$spid" VmRSS)
hwm=$(rss_kb "$spid" VmHWM)
stop_pid "$spid"

mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
echo "## Scale: the scorer's history state"
echo
echo "| customers | records on satisfy.history (bytes, write time) | rebuild at start | RSS rebuilt | peak RSS rebuilding | RSS scoring ($events events) | peak RSS | goal |"
echo "|---:|---|---:|---:|---:|---:|---:|---|"
echo "| $customers$([ ${#heavy[@]} -gt 0 ] && echo ' (a third buy 3 times)') | $records ($bytes bytes, $wsecs s) | $rebuild s | $(mb "$rss_rebuilt") MB | $(mb "$hwm_rebuilt") MB | $(mb "$rss_scoring") MB | $(mb "$hwm") MB | RSS <= 128 MB |"
