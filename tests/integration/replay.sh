#!/usr/bin/env bash
# replay.sh - end-to-end replay into satisfy-broker.
#
# Replays $OLIST_DIR (or, without it, a 2,000-order dataset from
# satisfy-datagen) with --speed 0, consumes both topics back and checks that
# the counts per topic and per stage are exactly those derived from the
# tables (expect_counts), with consume_count's ordering and timestamp checks.
# Then: the JSON format; SIGINT flushes and reports what was produced; an
# unreachable broker fails within a bounded time with a clear message; the
# broker's --help states its limits.
source "$(dirname "$0")/common.bash"

# summary_count TOPIC_OR_STAGE FILE: the "produced" count of a summary line.
summary_count() {
  awk -v k="$1" '$1 == k && $3 == "produced" { print $2 }' "$2"
}

# --- data
use_data 2000 7
load_expected

# --- full replay, Avro
start_broker avro
timeout 300 "$bin/satisfy-producer" --brokers "$bs" --data "$data" --speed 0 --no-progress \
  >"$work/producer.out" 2>"$work/producer.err" || fail "satisfy-producer exited $?"
grep -q "failures: 0$" "$work/producer.out" || fail "producer reports failures: $(cat "$work/producer.out")"
# the topic check: what the topics hold against what was delivered
for t in satisfy.orders satisfy.reviews; do
  grep -Eq "topic check: $t +[0-9]+ appended +[0-9]+ delivered: ok$" "$work/producer.out" ||
    fail "no topic check ok for $t: $(grep 'topic check' "$work/producer.out")"
done
[ "$(summary_count satisfy.orders "$work/producer.out")" = "$events_want" ] ||
  fail "producer summary: orders $(summary_count satisfy.orders "$work/producer.out") != $events_want"
[ "$(summary_count satisfy.reviews "$work/producer.out")" = "$reviews_want" ] ||
  fail "producer summary: reviews != $reviews_want"
grep -q "bad rows skipped" "$work/producer.err" || fail "producer did not print the load summary"

timeout 300 "$bin/consume_count" --brokers "$bs" --timeout 240 >"$work/got.txt" \
  2>"$work/consume.err" || fail "consume_count found violations: $(head -20 "$work/consume.err")"
diff -u "$work/want.txt" "$work/got.txt" || fail "consumed counts differ from the expected ones"
echo "avro replay: $(tr '\n' ' ' <"$work/got.txt")"

# --- JSON format, first 3000 events
start_broker json
timeout 300 "$bin/satisfy-producer" --brokers "$bs" --data "$data" --format json --max-events 3000 \
  --no-progress >"$work/json.out" 2>"$work/json.err" || fail "satisfy-producer --format json failed"
"$bin/expect_counts" --data "$data" --max-events 3000 >"$work/want_json.txt" 2>/dev/null
timeout 120 "$bin/consume_count" --brokers "$bs" --timeout 100 >"$work/got_json.txt" \
  2>"$work/consume_json.err" || fail "consume_count (json): $(head -20 "$work/consume_json.err")"
diff -u "$work/want_json.txt" "$work/got_json.txt" || fail "json replay counts differ"
if command -v kcat >/dev/null; then
  first=$(timeout 30 kcat -b "$bs" -t satisfy.orders -C -o beginning -c 1 -e -q -f '%h %s\n')
  [[ "$first" == "schema=satisfy.v1.OrderEvent+json {"* ]] || fail "kcat sees: ${first:0:200}"
fi

# --- SIGINT: paced replay interrupted, everything produced is delivered
start_broker sigint
"$bin/satisfy-producer" --brokers "$bs" --data "$data" --speed 864000 --no-progress \
  >"$work/sigint.out" 2>"$work/sigint.err" &
ppid=$!
pids+=("$ppid")
# interrupted once the topics hold some events (consume_count reads them to
# their current high watermarks); the paced replay takes over a minute
topics_hold_some() {
  timeout 60 "$bin/consume_count" --brokers "$bs" --timeout 30 >"$work/got_early.txt" 2>/dev/null &&
    [ "$(awk '$1 == "topic" { s += $3 } END { print s + 0 }' "$work/got_early.txt")" -ge 100 ]
}
POLL_INTERVAL=0.2 wait_for 60 "the first 100 events on the topics" topics_hold_some
kill -INT "$ppid"
wait_exit "$ppid" 30 "producer (after SIGINT)"
[ "$exit_rc" = 130 ] || fail "producer exit status after SIGINT is $exit_rc, want 130"
grep -q "interrupted" "$work/sigint.err" || fail "no interruption message"
grep -q "failures: 0$" "$work/sigint.out" || fail "failures after SIGINT"
sent=$(($(summary_count satisfy.orders "$work/sigint.out") + $(summary_count satisfy.reviews "$work/sigint.out")))
[ "$sent" -gt 0 ] || fail "nothing produced before SIGINT"
[ "$sent" -lt $((events_want + reviews_want)) ] || fail "replay finished before SIGINT"
timeout 120 "$bin/consume_count" --brokers "$bs" --timeout 100 >"$work/got_sigint.txt" \
  2>"$work/consume_sigint.err" || fail "consume_count (sigint): $(head -20 "$work/consume_sigint.err")"
got=$(awk '$1 == "topic" { s += $3 } END { print s }' "$work/got_sigint.txt")
[ "$got" = "$sent" ] || fail "after SIGINT: consumed $got, producer reported $sent"
echo "sigint: $sent events produced and consumed"

# --- unreachable broker: fails within a bounded time, with a clear message
start=$(date +%s)
rc=0
timeout 60 "$bin/satisfy-producer" --brokers 127.0.0.1:1 --data "$data" --connect-timeout 3 \
  --no-progress >"$work/unreach.out" 2>"$work/unreach.err" || rc=$?
elapsed=$(($(date +%s) - start))
[ "$rc" = 1 ] || fail "unreachable broker: exit status $rc, want 1"
[ "$elapsed" -le 20 ] || fail "unreachable broker: took $elapsed s"
grep -q "cannot reach brokers 127.0.0.1:1 within 3 s" "$work/unreach.err" ||
  fail "unreachable broker message: $(tail -3 "$work/unreach.err")"

# --- usage errors and the broker's stated limits
expect_status 2 "no.such.property" \
  "$bin/satisfy-producer" --brokers "$bs" --data "$data" -X no.such.property=1
expect_status 2 "--from 2018-02-30" "$bin/satisfy-producer" --brokers "$bs" --data "$data" --from 2018-02-30
expect_status 2 '--speed: "fast" is not a number; expected a number in \[0, 1e+15\]' \
  "$bin/satisfy-producer" --brokers "$bs" --data "$data" --speed fast
expect_status 2 '--max-events: "0" is out of range; expected a positive integer' \
  "$bin/satisfy-producer" --brokers "$bs" --data "$data" --max-events 0
expect_status 2 '--partitions: "8x" has "x" after the number; expected an integer in 1..1000' \
  "$bin/satisfy-broker" --partitions 8x
help="$("$bin/satisfy-broker" --help)"
for w in "in memory" "5 MiB" "transactional" "--brokers"; do
  grep -q -- "$w" <<<"$help" || fail "satisfy-broker --help does not mention '$w'"
done

echo "replay: ok"
