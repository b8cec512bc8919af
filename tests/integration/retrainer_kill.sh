#!/usr/bin/env bash
# retrainer_kill.sh - satisfy-retrainer run killed with SIGKILL and restarted.
#
# A paced replay of $OLIST_DIR (or a 5,000-order satisfy-datagen dataset)
# runs while the retrainer (retraining every 400 new reviews) is killed with
# kill -9 twice: once during ingestion, once right after it logs the start of
# a training run (consumption is paused then, so the kill lands inside
# sf_train_run unless the run is faster than our 0.1 s polling; the test says
# which). After each kill it is restarted on the same store and registry.
# At the end: PRAGMA integrity_check is ok for both files; the store holds
# every order event, order and review exactly once (no loss, no double
# count); every finished retrain left one registry version with a reason;
# the champion is on satisfy.models; and the restarted retrainer carried on
# (it retrained after the last kill).
source "$(dirname "$0")/common.bash"
source "$(dirname "$0")/retrainer_common.bash"
not_sanitized "kill -9 leaves nothing for the sanitizers to report; retrainer_history and shadow run the same code"
FAIL_TAIL=15

sql() { sqlite3 -batch "$work/store.db" "$1"; }
rsql() { sqlite3 -batch "$work/registry.db" "$1"; }

use_data 5000 11
load_expected
start_broker

# retrainer: the next run (run1, run2, ...), retraining every 400 new reviews.
n_run=0
retrainer() {
  n_run=$((n_run + 1))
  start_retrainer "run$n_run" --retrain-every 400 --min-reviews 400
}

# Paced: ~two years of history in about 60 s, so both kills land mid-stream.
timeout 300 "$bin/satisfy-producer" --brokers "$bs" --data "$data" --speed 1200000 --no-progress \
  >"$work/producer.out" 2>"$work/producer.err" &
ppid=$!
pids+=("$ppid")

# --- kill 1: during ingestion (after some reviews are stored)
retrainer
n=0
stored_300() {
  n=$(sql 'SELECT count(*) FROM reviews' 2>/dev/null || echo 0)
  [ "${n:-0}" -ge 300 ]
}
poll 120 stored_300 || fail "run 1 stored only ${n:-0} reviews in 120 s"
kill9_retrainer
echo "kill 1: during ingestion, $n reviews stored"

# --- kill 2: at the start of a training run
retrainer
hit=no
retrain_started() { grep -q 'retrain [0-9]*: started' "$work/run2.err"; }
poll 150 retrain_started || fail "run 2 started no retrain in 150 s"
kill9_retrainer
k=$(sed -n 's/.*retrain \([0-9]*\): started.*/\1/p' "$work/run2.err" | tail -1)
grep -q "retrain $k: window\|retrain $k (data" "$work/run2.err" || hit=yes
[ -n "${k:-}" ] || fail "run 2: no retrain number in the log"
echo "kill 2: at the start of retrain $k (killed inside the training run: $hit)"

# --- restart, let it finish the stream, stop it
retrainer
wait "$ppid" || fail "satisfy-producer exited $?"
grep -q "failures: 0$" "$work/producer.out" || fail "producer failures"
all_stored() {
  [ "$(sql 'SELECT count(*) FROM reviews')" = "$reviews_want" ] &&
    [ "$(sql 'SELECT count(*) FROM order_events')" = "$events_want" ]
}
# stopped once the store is complete and run 3 has finished a retrain of its
# own (both checked again, with their values, below: not fatal here)
run3_done() { all_stored && grep -q 'retrain [0-9]*: window' "$work/run3.err"; }
POLL_INTERVAL=0.5 poll 240 run3_done || true
kill -TERM "$rpid"
wait_exit "$rpid" 120 "run 3 (after SIGTERM)"
[ "$exit_rc" = 0 ] || fail "run 3 exit status $exit_rc after SIGTERM"

# --- integrity and counts
[ "$(sqlite3 "$work/registry.db" 'PRAGMA integrity_check')" = ok ] || fail "registry integrity_check"
[ "$(sqlite3 "$work/store.db" 'PRAGMA integrity_check')" = ok ] || fail "store integrity_check"
got="$(sql 'SELECT count(*) FROM order_events'):$(sql 'SELECT count(DISTINCT order_id) FROM order_events'):$(sql 'SELECT count(*) FROM reviews')"
[ "$got" = "$events_want:$orders_want:$reviews_want" ] ||
  fail "store events:orders:reviews = $got, want $events_want:$orders_want:$reviews_want"
dups=$(sql 'SELECT count(*) FROM (SELECT review_id, order_id FROM reviews GROUP BY 1, 2 HAVING count(*) > 1)')
[ "$dups" = 0 ] || fail "$dups duplicated reviews"

# --- registry: one version with a reason per finished retrain
finished=$(cat "$work"/run*.err | grep -c 'retrain [0-9]*: window' || true)
versions=$(rsql 'SELECT count(*) FROM model_versions')
[ "$versions" = "$finished" ] || fail "$versions registry versions for $finished finished retrains"
[ "$(rsql "SELECT count(*) FROM model_versions WHERE reason IS NULL OR reason = ''")" = 0 ] ||
  fail "a version without a reason"
grep -q 'retrain [0-9]*: window' "$work/run3.err" || fail "the restarted retrainer did not retrain"
echo "retrains finished: $finished ($(grep -h -c 'retrain [0-9]*: window' "$work"/run*.err | tr '\n' ' ') per run), registry versions: $versions"

# --- the champion (if any) is on satisfy.models
champ=$(rsql "SELECT version FROM model_versions WHERE status = 'champion'")
"$bin/release_list" --brokers "$bs" --timeout 60 >"$work/releases.txt" 2>"$work/releases.err" ||
  fail "release_list: $(cat "$work/releases.err")"
if [ -n "$champ" ]; then
  awk '{ print $2 }' "$work/releases.txt" | grep -qx "$champ" || fail "champion v$champ is not on satisfy.models"
fi
while read -r _ v _; do
  st=$(rsql "SELECT status FROM model_versions WHERE version = $v")
  [ "$st" = champion ] || [ "$st" = archived ] || fail "release v$v on the topic has status '$st'"
done <"$work/releases.txt"
echo "releases on satisfy.models: $(awk '{ printf "v%s ", $2 }' "$work/releases.txt")(champion v${champ:-none})"
echo "PASS"
