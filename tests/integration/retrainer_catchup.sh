#!/usr/bin/env bash
# retrainer_catchup.sh - `satisfy-retrainer run` does not retrain while it is
# catching up on a backlog: its first retrain uses the whole backlog.
#
# The reference is `satisfy-retrainer train` on the same tables: how many
# orders and labeled orders the complete data has. Then, on the embedded
# broker, with $OLIST_DIR (or a 15,000-order satisfy-datagen dataset):
#   1. fresh start: the whole replay is produced before the retrainer starts
#      (empty store, due after 1,000 new reviews);
#   2. restart: on a new broker and store, a retrainer that never retrains
#      (--min-reviews out of reach) consumes the replay up to 2018-01-01 and
#      is killed with SIGKILL; the rest is produced while it is down; it is
#      restarted with retraining on, its store already holding thousands of
#      new reviews, so a retrain is due before its first message, while the
#      group still waits for the killed member (~10 s of empty polls).
# Each time the first retrain (log line and registered run) must have
# exactly the reference's orders and labeled orders, and the log must say
# the retrain waited for the catch-up. Both waits are bounded and end on
# observed progress (log lines, stats file), never on a sleep.
source "$(dirname "$0")/common.bash"
source "$(dirname "$0")/retrainer_common.bash"
not_sanitized "it judges when retrains happen; every retrainer test runs the catch-up code, test_catchup its rule"
FAIL_TAIL=15

use_data 15000 11
load_expected
"$bin/satisfy-retrainer" train --data "$data" --registry "$work/batch.db" --quiet \
  --report "$work/batch.json" >"$work/batch.out" 2>"$work/batch.err" ||
  fail "satisfy-retrainer train failed: $(tail -3 "$work/batch.err")"
orders_ref=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["data"]["orders"])' "$work/batch.json")
labeled_ref=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["data"]["labeled_orders"])' "$work/batch.json")
[ "$orders_ref" = "$orders_want" ] || fail "batch training saw $orders_ref orders, the data has $orders_want"
echo "reference (satisfy-retrainer train): $labeled_ref labeled orders of $orders_ref"

# produce FROM TO NAME: replays the events with FROM <= time < TO.
produce() {
  timeout 300 "$bin/satisfy-producer" --brokers "$bs" --data "$data" --speed 0 --no-progress \
    --from "$1" --to "$2" >"$work/$3.out" 2>"$work/$3.err" || fail "satisfy-producer $3 exited $?"
  grep -q "failures: 0$" "$work/$3.out" || fail "producer $3: $(cat "$work/$3.out")"
}

# retrainer NAME STORE ARGS...: start_retrainer NAME with $work/STORE.db and
# $work/STORE.registry, on the whole store (--train-window 0) like the
# reference.
retrainer() {
  RT_STORE="$work/$2.db" RT_REGISTRY="$work/$2.registry" start_retrainer "$1" --train-window 0 "${@:3}"
}

# check_first_retrain NAME REGISTRY: the first retrain's log line and
# registered run have the reference's counts.
check_first_retrain() {
  local line
  wait_for 600 "$1's first retrain" grep -q 'retrain 1: window\|retrain 1 (data' "$work/$1.err"
  line=$(grep -m1 'retrain 1: window\|retrain 1 (data' "$work/$1.err")
  echo "$1: ${line#*run: }" | cut -c1-200
  [[ "$line" == *" examples from $labeled_ref labeled orders of $orders_ref "* ]] ||
    fail "$1: the first retrain did not train on $labeled_ref labeled orders of $orders_ref: ${line#*run: }"
  local reg
  reg=$(sqlite3 -batch "$work/$2.registry" 'SELECT n_orders FROM runs ORDER BY id LIMIT 1')
  [ "$reg" = "$labeled_ref" ] || fail "$1: registered run has $reg labeled orders, want $labeled_ref"
  grep -q "retrain due: waiting to catch up" "$work/$1.err" ||
    fail "$1: no line saying the due retrain waited for the catch-up"
  grep 'waiting to catch up\|caught up' "$work/$1.err" | head -3 | sed 's/^[^ ]* satisfy-retrainer run: /  /' || true
}

# --- 1. fresh start on a backlog
start_broker broker1
produce 2016-01-01 2019-01-01 all
retrainer fresh fresh --retrain-every 1000 --min-reviews 500
check_first_retrain fresh fresh
stop_retrainer fresh

# --- 2. restart on a backlog, with a retrain due before the first message
kill -TERM "$broker_pid"
wait_exit "$broker_pid" 30 "satisfy-broker (after SIGTERM)"
start_broker broker2
produce 2016-01-01 2018-01-01 part1
n1_orders=$(awk '$1 == "satisfy.orders" { print $2 }' "$work/part1.out")
n1_reviews=$(awk '$1 == "satisfy.reviews" { print $2 }' "$work/part1.out")
retrainer before restart --retrain-every 1000 --min-reviews 1000000000
consumed() { stat_at_least order_events "$n1_orders" && stat_at_least reviews "$n1_reviews"; }
wait_for 300 "$n1_orders order events and $n1_reviews reviews consumed" consumed
kill -KILL "$rpid"
wait "$rpid" 2>/dev/null || true
new_reviews=$(sqlite3 -batch "$work/restart.db" 'SELECT count(*) FROM reviews')
echo "killed after consuming up to 2018-01-01: $new_reviews reviews stored, none trained on"
produce 2018-01-01 2019-01-01 part2
retrainer after restart --retrain-every 1000 --min-reviews 500
check_first_retrain after restart
stop_retrainer after
echo "PASS"
