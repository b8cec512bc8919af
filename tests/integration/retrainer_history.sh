#!/usr/bin/env bash
# retrainer_history.sh - satisfy.history as the retrainer publishes it, with
# a kill -9 mid-stream.
#
# A paced replay of $OLIST_DIR (or a 3,000-order satisfy-datagen dataset)
# runs while satisfy-retrainer (not retraining: the test is about the live
# history) consumes it. Once it has confirmed some history records published
# (its stats file), it is killed with kill -9 and restarted on the same
# store: the restart must load the state from the store (its log line). A
# second kill -9 lands while committed records are pending (its producer
# holds them 2 s: -X linger.ms=2000), which the restart must produce again
# from the store. The last restart joins another consumer group, so every
# event comes again (a redelivery the store must absorb). After the
# replay, once the store holds every event and nothing is pending, it is
# stopped, and history_check compares, for every stored order event, the
# history views of (1) satisfy.history read from the start and applied as a
# scorer does, (2) the store's history table, and (3) a history built
# directly from the stored events by the training replay: equal, so nothing
# was lost and nothing counted twice across the kills. Last, the store's
# history records are deleted (a store written before the table existed):
# the next start builds them from the stored events, publishes them, and
# the check passes again.
source "$(dirname "$0")/common.bash"
source "$(dirname "$0")/retrainer_common.bash"
FAIL_TAIL=15

sql() { sqlite3 -batch "$work/store.db" "$1"; }

use_data 3000 17
load_expected
start_broker

n_run=0
retrainer() {
  n_run=$((n_run + 1))
  start_retrainer "run$n_run" --retrain-every 100000000 --min-reviews 100000000 "$@"
}

# Paced: about two years of history in about 40 s.
timeout 300 "$bin/satisfy-producer" --brokers "$bs" --data "$data" --speed 1800000 --no-progress \
  >"$work/producer.out" 2>"$work/producer.err" &
ppid=$!
pids+=("$ppid")

# --- kill 1: once some records are confirmed published
retrainer
published() { stat_at_least history_published "$1"; }
wait_for 120 "run 1 to publish 2000 history records" published 2000
kill9_retrainer
echo "kill 1: after $(json_field "$work/stats.json" history_published) records published"

# --- kill 2: with records pending (committed, not yet sent: its producers
# hold messages 2 s, so the kill loses what the restart must produce again)
retrainer -X linger.ms=2000
wait_for 60 "run 2 to load the history" grep -q "history: loaded [1-9][0-9]* records" "$work/run2.err"
grep "history: loaded" "$work/run2.err" | head -1
pending_seen() {
  [ -s "$work/stats.json" ] && [ "$(json_field "$work/stats.json" history_pending)" -gt 0 ] &&
    [ "$(json_field "$work/stats.json" history_published)" -gt 500 ]
}
wait_for 60 "run 2 to have records pending" pending_seen
kill9_retrainer
echo "kill 2: with $(json_field "$work/stats.json" history_pending) records pending"

# --- restart in another consumer group, so that every event already stored
# is delivered again (must change nothing), read the whole stream, stop
retrainer --group satisfy-retrainer-again
wait "$ppid" || fail "satisfy-producer exited $?"
grep -q "failures: 0$" "$work/producer.out" || fail "producer failures"
done_all() {
  [ "$(sql 'SELECT count(*) FROM reviews')" = "$reviews_want" ] &&
    [ "$(sql 'SELECT count(*) FROM order_events')" = "$events_want" ] &&
    [ -s "$work/stats.json" ] && [ "$(json_field "$work/stats.json" history_pending)" = 0 ]
}
POLL_INTERVAL=0.5 wait_for 240 "the store to hold every event and no record pending" done_all
grep -q "history: loaded [1-9][0-9]* records" "$work/run3.err" || fail "run 3 did not load the history"
# reviews after their order's end: no tombstone for what the topic never had
stat_at_least history_skipped 1 || fail "run 3 published a tombstone for every order reviewed after its end"
echo "run 3: $(json_field "$work/stats.json" history_skipped) tombstones not published (orders reviewed after their end)"
stop_retrainer run3
grep "history: .* records published in this run" "$work/run3.err" | tail -1

"$bin/history_check" --brokers "$bs" --store "$work/store.db" --timeout 120 \
  >"$work/check.out" 2>"$work/check.err" || fail "history_check: $(tail -12 "$work/check.err")"
cat "$work/check.out"
grep -q "history: producing [1-9][0-9]* records above the published mark" "$work/run3.err" ||
  fail "run 3 did not produce the pending records again"

# --- an upgrade: a store with events and no history records (written before
# the table existed) gets them built from its events at start-up, published
sqlite3 "$work/store.db" "DELETE FROM history; DELETE FROM meta WHERE key = 'history_published'"
retrainer
wait_for 60 "run 4 to build the history from the stored events" \
  grep -q "history: the store has no history records: built them" "$work/run4.err"
grep "history: the store has no history records" "$work/run4.err"
none_pending() { [ -s "$work/stats.json" ] && [ "$(json_field "$work/stats.json" history_pending)" = 0 ]; }
wait_for 60 "run 4 to publish them" none_pending
stop_retrainer run4
"$bin/history_check" --brokers "$bs" --store "$work/store.db" --timeout 120 \
  >"$work/check4.out" 2>"$work/check4.err" || fail "history_check after the upgrade: $(tail -12 "$work/check4.err")"
cat "$work/check4.out"
echo "PASS"
