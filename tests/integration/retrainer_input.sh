#!/usr/bin/env bash
# retrainer_input.sh - careless and hostile input to `satisfy-retrainer run`,
# after a small replay it has consumed completely (no retrain: --retrain-every
# is out of reach):
#   - event times outside the valid range (docs/operations.md): an Avro
#     review created at 2^60, one answered at 2^60, one created 3 days ahead
#     of the clock, a JSON review created at -5, a JSON order event at 2^60;
#   - a review and a JSON order event whose Kafka key is not their order id;
#   - then 25 messages that are not events at all.
# Each is skipped with topic [partition] @offset and a reason naming the
# field and the value (or the key), counted in `bad`; nothing is stored: the
# store's counts and its newest event time (which drives interval
# retraining) do not move. Only the first 20 bad messages are logged one by
# one; a line says how many more were not logged, and so does the summary at
# exit. The start-up line states the retrain schedule in words (never "every
# 0 days").
source "$(dirname "$0")/common.bash"
source "$(dirname "$0")/retrainer_common.bash"
FAIL_TAIL=30

sql() { sqlite3 -batch "$work/store.db" "$1"; }

"$bin/satisfy-datagen" --orders 300 --seed 3 --out "$work/data" >"$work/datagen.out" \
  2>"$work/datagen.err" || fail "satisfy-datagen failed"
data="$work/data"
load_expected
start_broker

timeout 120 "$bin/satisfy-producer" --brokers "$bs" --data "$data" --speed 0 --no-progress \
  >"$work/producer.out" 2>"$work/producer.err" || fail "satisfy-producer exited $?"

start_retrainer run1 --retrain-every 100000 --min-reviews 10
wait_for 120 "all $events_want order events consumed" stat_at_least order_events "$events_want"
wait_for 60 "all $reviews_want reviews consumed" stat_at_least reviews "$reviews_want"
grep -q "retrain every 100000 new reviews (after 10 reviews)" "$work/run1.err" ||
  fail "start-up line: $(grep 'consuming' "$work/run1.err")"
! grep -q "days" <(grep 'consuming' "$work/run1.err") ||
  fail "start-up line names days with the interval off: $(grep 'consuming' "$work/run1.err")"

before="$(sql "SELECT count(*) FROM reviews; SELECT count(*) FROM order_events;
               SELECT value FROM meta WHERE key = 'max_event_time'")"
max0=$(sql "SELECT value FROM meta WHERE key = 'max_event_time'")
[ "$max0" -lt 4102444800000 ] || fail "store's newest event time $max0 before the test"
oid=$(sql "SELECT order_id FROM order_events ORDER BY order_id LIMIT 1")

# --- the crafted messages: Avro bodies written here (the codec refuses to
# write them), JSON from codec_sample's order view
mkdir -p "$work/sample"
"$bin/codec_sample" "$work/sample" >/dev/null || fail "codec_sample failed"
mkdir -p "$work/msg"
python3 - "$work/msg" "$oid" "$work/sample/order_0.json" <<'EOF' || fail "crafting messages"
import json, sys, time
out, oid, order_json = sys.argv[1], sys.argv[2], sys.argv[3]

def zz(n):
    u = ((n << 1) ^ (n >> 63)) & (2**64 - 1)
    b = bytearray()
    while u >= 0x80:
        b.append((u & 0x7F) | 0x80)
        u >>= 7
    b.append(u)
    return bytes(b)

def s(x):
    return zz(len(x)) + x.encode()

def review(rid, created, answered=None):
    body = s(rid) + s(oid) + zz(4) + zz(0) + zz(0) + zz(created)
    body += zz(0) if answered is None else zz(1) + zz(answered)
    return b"\0\0\0\0\2" + body

def write(name, data):
    with open(f"{out}/{name}", "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())

ahead = int(time.time() * 1000) + 3 * 86400000
write("r1_created_2p60.bin", review("a" * 32, 2**60))
write("r2_answered_2p60.bin", review("b" * 32, 1508000000000, 2**60))
write("r3_created_ahead.bin", review("c" * 32, ahead))
write("r4_created_neg.json", json.dumps({"review_id": "d" * 32, "order_id": oid, "score": 2,
                                          "created": -5}))
o = json.load(open(order_json))
o["order_id"] = oid
o["event_time"] = 2**60
write("o1_event_time_2p60.json", json.dumps(o))
write("r5_key.bin", review("e" * 32, 1508000000000))
o["event_time"] = o["purchase_time"]
write("o2_key.json", json.dumps(o))
EOF
produce() { # TOPIC KEY FILE
  timeout 30 kcat -b "$bs" -t "$1" -P -k "$2" "$3" || fail "kcat produce $3 failed"
}
for f in r1_created_2p60.bin r2_answered_2p60.bin r3_created_ahead.bin r4_created_neg.json; do
  produce satisfy.reviews "$oid" "$work/msg/$f"
done
produce satisfy.orders "$oid" "$work/msg/o1_event_time_2p60.json"
produce satisfy.reviews ffffffffffffffffffffffffffffffff "$work/msg/r5_key.bin"
produce satisfy.orders "not-the-order-id" "$work/msg/o2_key.json"
wait_for 60 "7 bad messages counted" stat_at_least bad 7

skip_line() { # TOPIC PATTERN: the skip line of TOPIC with PATTERN
  grep -q "skipping $1 \[[0-9]*\] @[0-9]*: .*$2" "$work/run1.err" ||
    fail "no skip line on $1 with '$2'"
}
skip_line satisfy.reviews "created: 1152921504606846976 is not a valid event time"
skip_line satisfy.reviews "answered: 1152921504606846976 is not a valid event time"
skip_line satisfy.reviews "created: [0-9]* ([0-9T:-]*Z) is more than 24 h ahead of the clock"
skip_line satisfy.reviews "created: -5 is not a valid event time"
skip_line satisfy.orders "event_time: 1152921504606846976 is not a valid event time"
skip_line satisfy.reviews "key 'ffffffffffffffffffffffffffffffff' does not match order_id $oid"
skip_line satisfy.orders "key 'not-the-order-id' does not match order_id $oid"
after="$(sql "SELECT count(*) FROM reviews; SELECT count(*) FROM order_events;
              SELECT value FROM meta WHERE key = 'max_event_time'")"
[ "$after" = "$before" ] || fail "store moved: reviews, order events, newest time $(echo $before) -> $(echo $after)"
grep 'skipping' "$work/run1.err" | sed 's/^[^ ]* satisfy-retrainer run: /  /' | cut -c1-160
echo "7 bad events skipped with their reasons; store unchanged (newest event time $max0)"

# --- 25 messages that are no events: 13 logged (20 in all), 12 only counted
for i in $(seq 25); do echo "not an event $i"; done >"$work/garbage.txt"
timeout 30 kcat -b "$bs" -t satisfy.reviews -P -k "$oid" -l "$work/garbage.txt" ||
  fail "kcat produce garbage failed"
wait_for 60 "32 bad messages counted" stat_at_least bad 32
not_logged() { grep -q "bad messages not logged" "$work/run1.err"; }
wait_for 30 "the line on bad messages not logged" not_logged
[ "$(grep -c 'skipping satisfy' "$work/run1.err")" = 20 ] ||
  fail "$(grep -c 'skipping satisfy' "$work/run1.err") skip lines, want 20"
grep 'bad messages not logged' "$work/run1.err" | sed 's/^[^ ]* //'
stop_retrainer run1
[ "$(json_field "$work/stats.json" bad)" = 32 ] || fail "bad: $(cat "$work/stats.json")"
grep -q "stopped: .*, 32 bad (12 not logged);" "$work/run1.err" ||
  fail "summary: $(grep 'stopped:' "$work/run1.err")"
[ "$(sql "SELECT value FROM meta WHERE key = 'max_event_time'")" = "$max0" ] ||
  fail "store's newest event time moved"

# --- the schedule in words: interval only, and both
start_retrainer run2 --retrain-every 0 --retrain-interval 0.25
wait_for 60 "run 2's start-up line" grep -q "consuming satisfy.orders" "$work/run2.err"
stop_retrainer run2
grep -q "retrain every 6 h of event time (after 500 reviews)" "$work/run2.err" ||
  fail "start-up line: $(grep 'consuming' "$work/run2.err")"
start_retrainer run3 --retrain-every 700 --retrain-interval 7
wait_for 60 "run 3's start-up line" grep -q "consuming satisfy.orders" "$work/run3.err"
stop_retrainer run3
grep -q "retrain every 700 new reviews or 7 days of event time, whichever comes first" \
  "$work/run3.err" || fail "start-up line: $(grep 'consuming' "$work/run3.err")"
grep 'consuming' "$work"/run*.err | sed 's/.*run: //'
echo "PASS"
