#!/usr/bin/env bash
# scorer_join.sh - a second scorer joins the group mid-stream and the first
# one does not stop: the group rebalances cooperatively
# (partition.assignment.strategy=cooperative-sticky, the scorer's default),
# so scorer A keeps the partitions that do not move and goes on scoring them
# while B joins.
#
# Shown three ways, each on what the scorers report (no fixed sleeps): A's
# log never revokes all of its partitions during B's join (an eager
# rebalance revokes every one, then assigns again); A's prediction count
# (its /metrics), read every 0.1 s from B's start until B is assigned its
# share, never stands still for 3 s (an eager rebalance stops it for the
# whole join: 5 s on satisfy-broker with these tests' session timeout); and
# at the end every order event has exactly one prediction: no loss, and no
# duplicate (on satisfy-broker too: librdkafka commits a revoked
# partition's stored offsets before B is given it).
source "$(dirname "$0")/scorer_common.bash"

make_data
start_broker
"$bin/publish_model" --brokers "$bs" --version 1 --data "$data" >"$work/pub.out" \
  2>"$work/pub.err" || fail "publish_model failed: $(cat "$work/pub.err")"

start_scorer a --instance-id a --batch 50 --batch-ms 5 --http 127.0.0.1:0
a_pid=$scorer_pid
a_port=$(http_port a)
wait_log a "assigned 8 partition" 90
# paced: about 30 s for the whole history, so B joins mid-stream
timeout 300 "$bin/satisfy-producer" --brokers "$bs" --data "$data" --speed 2000000 \
  --no-progress >"$work/prod.out" 2>"$work/prod.err" &
prod_pid=$!
pids+=("$prod_pid")
wait_for 60 "scorer A's first predictions" _more_than "$a_port" 0

start_scorer b --instance-id b --batch 50 --batch-ms 5 --http 127.0.0.1:0
b_pid=$scorer_pid
# While B joins (from its start until it is assigned its share), A's count
# is read every 0.1 s: the longest time it did not rise is how long A stood
# still. An eager rebalance stops A for the whole join (seconds on
# satisfy-broker, which waits for every member to rejoin).
at_start=$(predictions "$a_port")
last=$at_start t_last=$(date +%s.%N) longest=0 end=$((SECONDS + 90))
until _log_has b "assigned [1-9]"; do
  [ $SECONDS -lt $end ] || fail "scorer B not assigned within 90 s"
  c=$(predictions "$a_port") t=$(date +%s.%N)
  if [ "${c:-0}" -gt "$last" ]; then last=$c t_last=$t; fi
  longest=$(awk -v a="$longest" -v t="$t" -v l="$t_last" 'BEGIN { d = t - l; print (d > a ? d : a) }')
  sleep 0.1 # the sampling interval
done
echo "scorer A during B's join: $at_start -> $last predictions, longest without a new one: $longest s"
grep -h "revoked\|assigned" "$work/a.err" "$work/b.err" | sed 's/^/  /'
if grep -q "revoked 8 partition" "$work/a.err"; then
  fail "scorer A gave up all 8 partitions while B joined (an eager rebalance)"
fi
[ "$last" -gt "$at_start" ] || fail "scorer A scored nothing while B joined"
awk -v l="$longest" 'BEGIN { exit !(l < 3.0) }' ||
  fail "scorer A stood still for $longest s while B joined (want < 3 s)"

wait "$prod_pid" || fail "replay failed: $(tail -3 "$work/prod.err")"
wait_covered report 300
for p in "$a_pid" "$b_pid"; do
  scorer_pid=$p
  stop_scorer
done
r="$work/report"
n=$(count expected "$r")
echo "$n order events, $(count predictions "$r") predictions, missing $(count missing "$r"), duplicates $(count duplicates "$r")"
[ "$(count bad "$r")" = 0 ] || fail "bad predictions"
[ "$(count unexpected "$r")" = 0 ] || fail "unexpected ids"
[ "$(count duplicates "$r")" = 0 ] || fail "$(count duplicates "$r") duplicate predictions, want none"
echo "scorer_join: ok"
