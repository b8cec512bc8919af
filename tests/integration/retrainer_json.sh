#!/usr/bin/env bash
# retrainer_json.sh - the streaming retrainer reads JSON order events and
# reviews (satisfy-producer --format json; first byte '{', docs/kafka.md):
# every one is stored exactly once, as from Avro; a JSON review that does
# not validate (a score of 9) and one cut in half are skipped with a reason
# naming their topic, partition and offset.
source "$(dirname "$0")/common.bash"

sql() { sqlite3 -batch "$work/store.db" "$1"; }

use_data 3000 11
load_expected
start_broker
timeout 300 "$bin/satisfy-producer" --brokers "$bs" --data "$data" --speed 0 --format json \
  --no-progress >"$work/prod.out" 2>"$work/prod.err" || fail "JSON replay failed"
# two bad JSON reviews, keyed by an order id
oid=0123456789abcdef0123456789abcdef
printf '%s\n' "{\"review_id\":\"$oid\",\"order_id\":\"$oid\",\"score\":9,\"created\":1514800000000,\"answered\":null,\"title\":null,\"message\":null}" \
  '{"review_id":"0123' | kcat -b "$bs" -P -t satisfy.reviews -k "$oid" -l /dev/stdin ||
  fail "kcat could not produce the bad reviews"

timeout 600 "$bin/satisfy-retrainer" run --brokers "$bs" --registry "$work/registry.db" \
  --store "$work/store.db" --retrain-every 1000000 --min-reviews 1000000 \
  --stats-file "$work/stats.json" >"$work/r.out" 2>"$work/r.err" &
rpid=$!
pids+=("$rpid")
consumed() {
  [ -s "$work/stats.json" ] &&
    [ "$(json_field "$work/stats.json" order_events)" -ge "$events_want" ] &&
    [ "$(json_field "$work/stats.json" reviews)" -ge "$reviews_want" ] &&
    [ "$(grep -c 'skipping satisfy.reviews' "$work/r.err")" -ge 2 ]
}
POLL_INTERVAL=1 poll 180 consumed ||
  fail "consumed $(cat "$work/stats.json" 2>/dev/null), want $events_want events and $reviews_want reviews"
kill -TERM "$rpid"
wait_exit "$rpid" 120 "retrainer (after SIGTERM)"
[ "$(sql 'SELECT count(*) FROM reviews')" = "$reviews_want" ] ||
  fail "store has $(sql 'SELECT count(*) FROM reviews') reviews, want $reviews_want"
[ "$(sql 'SELECT count(*) FROM order_events')" = "$events_want" ] ||
  fail "store has $(sql 'SELECT count(*) FROM order_events') order events, want $events_want"
grep 'skipping satisfy.reviews' "$work/r.err" | grep -q "score" ||
  fail "no reason naming the score: $(grep skipping "$work/r.err")"
grep 'skipping satisfy.reviews' "$work/r.err" | grep -q "ReviewEvent JSON: syntax error" ||
  fail "no reason for the cut review: $(grep skipping "$work/r.err")"
grep 'skipping' "$work/r.err" | sed 's/^/  /'
echo "retrainer_json: $events_want JSON order events and $reviews_want reviews stored once, 2 bad skipped: ok"
