#!/usr/bin/env bash
# retrainer_run.sh - the streaming retrainer end to end on satisfy-broker.
#
# Replays $OLIST_DIR (or, without it, a 15,000-order satisfy-datagen dataset:
# 5,000 synthetic orders are too few for the gate to release twice) at about
# two years of history in 35 s while `satisfy-retrainer run` consumes it and
# retrains every 1,000 new reviews. Then checks: every review and order event
# is in the store exactly once; at least 2 releases on satisfy.models, each
# decodable, keyed by its version and loadable (release_list), and exactly
# the versions the log says were released; the registry lists every run with
# its decision and reason, and satisfy.metrics carries the same decisions
# (key decision-<version>, released flag and reason as registered; exactly
# one per version). Then replays the whole dataset a second time into
# the same topics and restarts the retrainer: it consumes every duplicate,
# and no store count, no registry version and no release changes (its
# startup republishes every stored decision: identical repeats). Last, the
# broker is replaced by a fresh one (empty topics) and the retrainer
# restarted on the same registry: the fresh satisfy.metrics holds exactly
# one decision per registered version, as registered, and satisfy.models
# the champion.
source "$(dirname "$0")/common.bash"
source "$(dirname "$0")/retrainer_common.bash"
not_sanitized "gbdt retrains take minutes under ASan; shadow, retrainer_history and retrainer_json run the loop, test_gbdt the learner"
FAIL_TAIL=25

sql() { sqlite3 -batch "$work/store.db" "$1"; }

# --- data, expected counts, broker
use_data 15000 11
load_expected
start_broker

# retrainer NAME: start_retrainer retraining every 1,000 new reviews.
retrainer() { start_retrainer "$1" --retrain-every 1000 --min-reviews 2000; }

# wait_consumed EVENTS REVIEWS SECONDS: until the stats file shows that many consumed.
wait_consumed() {
  POLL_INTERVAL=1 poll "$3" consumed "$1" "$2" ||
    fail "consumed $(cat "$work/stats.json" 2>/dev/null) after $3 s, want $1 order events and $2 reviews"
}
consumed() { stat_at_least order_events "$1" && stat_at_least reviews "$2"; }

# check_decisions METRICS LIST MODE: the gate decisions on satisfy.metrics
# (kcat '%k\t%h\t%s' lines in METRICS; decision.h) = the registry's runs
# (registry list --json in LIST): the same released flag and reason, its
# RMSEs those the reason quotes. MODE strict: exactly one message per
# version; repeats (a topic a restarted retrainer republished to): at least
# one per version, all of a version's messages identical.
check_decisions() {
  python3 - "$1" "$2" "$3" <<'EOF'
import json, sys
lines = [l.split("\t", 2) for l in open(sys.argv[1]).read().splitlines() if l]
strict = sys.argv[3] == "strict"
for k, h, v in lines:
    assert k.startswith("decision-") == (h == "schema=satisfy.v1.ModelDecision+json"), (k, h)
texts = {}
for k, h, v in lines:
    if k.startswith("decision-"):
        texts.setdefault(k, []).append(v)
reg = {v["version"]: v for v in json.load(open(sys.argv[2]))}
assert len(texts) == len(reg), f"decisions for {len(texts)} versions, {len(reg)} registered"
for k, vs in texts.items():
    if strict:
        assert len(vs) == 1, f"{k}: {len(vs)} messages, want 1"
    assert all(v == vs[0] for v in vs), f"{k}: {len(vs)} messages that differ"
dec = [(k, json.loads(vs[0])) for k, vs in texts.items()]
for k, d in dec:
    assert k == f"decision-{d['version']}" and d["version"] in reg, (k, d["version"])
    r = reg[d["version"]]
    assert d["released"] == (r["status"] != "rejected"), (d["version"], d["released"], r["status"])
    assert d["reason"] == r["reason"], (d["reason"], r["reason"])
    c, ref = d["candidate"], d["reference"]
    assert f"RMSE {c['rmse']:.4f} vs {ref['name']} {ref['rmse']:.4f}" in d["reason"], d
    assert d["holdout_orders"] > 0 and d["train_orders"] > 0 and d["data_until"] >= d["train_to"], d
rel = sum(d["released"] for _, d in dec)
n = sum(len(vs) for vs in texts.values())
print(f"decisions on satisfy.metrics: {len(dec)} ({rel} released, {len(dec) - rel} rejected) "
      f"in {n} messages, as in the registry")
EOF
}

# --- first replay, in event-time windows, with the retrainer running. Each
# window is consumed completely before the next is produced, so where retrains
# happen depends on the data, not on how fast this machine trains (under ASan
# a paced replay could outrun training and merge several retrain points).
retrainer run1
ev_sum=0
rv_sum=0
bounds=(2016-01-01 2017-05-01 2017-09-01 2018-01-01 2018-04-01 2018-07-01 2019-01-01)
for ((w = 0; w + 1 < ${#bounds[@]}; w++)); do
  out="$work/producer1.$w.out"
  timeout 300 "$bin/satisfy-producer" --brokers "$bs" --data "$data" --speed 0 --no-progress \
    --from "${bounds[$w]}" --to "${bounds[$((w + 1))]}" >"$out" 2>"$work/producer1.err" ||
    fail "satisfy-producer (window $w) exited $?"
  grep -q "failures: 0$" "$out" || fail "producer failures: $(cat "$out")"
  ev_sum=$((ev_sum + $(awk '$1 == "satisfy.orders" { print $2 }' "$out")))
  rv_sum=$((rv_sum + $(awk '$1 == "satisfy.reviews" { print $2 }' "$out")))
  wait_consumed "$ev_sum" "$rv_sum" 300
done
[ "$ev_sum" = "$events_want" ] && [ "$rv_sum" = "$reviews_want" ] ||
  fail "windows replayed $ev_sum order events and $rv_sum reviews, want $events_want and $reviews_want"
stop_retrainer run1

# --- store: everything exactly once
[ "$(sql 'SELECT count(*) FROM reviews')" = "$reviews_want" ] ||
  fail "store has $(sql 'SELECT count(*) FROM reviews') reviews, want $reviews_want"
[ "$(sql 'SELECT count(*) FROM order_events')" = "$events_want" ] ||
  fail "store has $(sql 'SELECT count(*) FROM order_events') order events, want $events_want"
[ "$(sql 'SELECT count(DISTINCT order_id) FROM order_events')" = "$orders_want" ] ||
  fail "store has $(sql 'SELECT count(DISTINCT order_id) FROM order_events') orders, want $orders_want"
[ "$(sqlite3 "$work/store.db" 'PRAGMA integrity_check')" = ok ] || fail "store integrity_check"
[ "$(sqlite3 "$work/registry.db" 'PRAGMA integrity_check')" = ok ] || fail "registry integrity_check"

# --- releases on the topic = the versions the log released
"$bin/release_list" --brokers "$bs" --timeout 60 >"$work/releases.txt" 2>"$work/releases.err" ||
  fail "release_list: $(cat "$work/releases.err")"
n_rel=$(wc -l <"$work/releases.txt")
# How many retrains the gate releases depends on where batches cut the data;
# at least one must, and (below) exactly the ones the log says. The pipeline
# test asserts >= 2 releases over a whole replay with the scorer.
[ "$n_rel" -ge 1 ] || fail "$n_rel releases on satisfy.models, want >= 1: $(grep 'retrain [0-9]*:' "$work/run1.err" | sed 's/.*candidate/candidate/' | cut -c1-120)"
awk '{ print $2 }' "$work/releases.txt" >"$work/rel_versions.txt"
sed -n 's/.*: RELEASED v\([0-9]*\) .*/\1/p' "$work/run1.err" >"$work/log_released.txt"
diff -u "$work/log_released.txt" "$work/rel_versions.txt" || fail "released versions in the log differ from satisfy.models"
sort -n -c "$work/rel_versions.txt" || fail "release versions not increasing"

# --- the registry lists every run with its decision and reason
n_retrain=$(grep -c 'retrain [0-9]*: window' "$work/run1.err" || true)
n_rejected=$(grep -c ': REJECTED v' "$work/run1.err" || true)
[ "$n_retrain" -ge 3 ] || fail "only $n_retrain retrains logged"
"$bin/satisfy-retrainer" registry list --registry "$work/registry.db" --json >"$work/list.json" ||
  fail "registry list failed"
python3 - "$work/list.json" "$n_retrain" "$n_rel" "$work/rel_versions.txt" <<'EOF' || fail "registry content"
import json, sys
versions = json.load(open(sys.argv[1]))
n_retrain, n_rel = int(sys.argv[2]), int(sys.argv[3])
released = {int(x) for x in open(sys.argv[4]).read().split()}
assert len(versions) == n_retrain, f"{len(versions)} versions for {n_retrain} retrains"
for v in versions:
    assert v["reason"] and ("released" in v["reason"] or "rejected" in v["reason"]), v
    want = "rejected" if v["version"] not in released else ("champion", "archived")
    assert v["status"] in want, f"v{v['version']} status {v['status']}, want {want}"
assert sum(1 for v in versions if v["champion"]) == 1
assert max(released) == [v for v in versions if v["champion"]][0]["version"]
EOF
echo "run 1: $n_retrain retrains, $n_rel released, $n_rejected rejected"
# no restart yet: exactly one decision message per version
timeout 60 kcat -b "$bs" -t satisfy.metrics -C -o beginning -e -q -f '%k\t%h\t%s\n' >"$work/metrics1.txt" ||
  fail "kcat satisfy.metrics failed"
check_decisions "$work/metrics1.txt" "$work/list.json" strict ||
  fail "gate decisions on satisfy.metrics after run 1"
sed -n 's/.*: retrain \([0-9]*\): window .*candidate \(.*\): \(RELEASED\|REJECTED\) \(v[0-9]*\) .*, \([0-9.]* s\)$/  retrain \1: \2: \3 \4 in \5/p' "$work/run1.err"

# --- the same data again into the same topics, plus the champion's
# delivered-stage predictions (predict_feed stands in for the scorer); restart:
# nothing double counted, and online accuracy is published for the champion
before_counts="$(sql 'SELECT count(*) FROM reviews; SELECT count(*) FROM order_events')"
before_versions="$(sqlite3 "$work/registry.db" 'SELECT count(*) FROM model_versions')"
timeout 300 "$bin/satisfy-producer" --brokers "$bs" --data "$data" --speed 0 --no-progress \
  >"$work/producer2.out" 2>"$work/producer2.err" || fail "second replay exited $?"
timeout 300 "$bin/predict_feed" --brokers "$bs" --timeout 240 >"$work/feed.out" 2>"$work/feed.err" ||
  fail "predict_feed: $(cat "$work/feed.err")"
delivered_want=$(awk '$1 == "stage" && $2 == "DELIVERED" { print $3 }' "$work/want.txt")
champion=$(tail -1 "$work/rel_versions.txt")
[ "$(cat "$work/feed.out")" = "predictions $((2 * delivered_want)) version $champion" ] ||
  fail "predict_feed: $(cat "$work/feed.out"), want $((2 * delivered_want)) predictions of v$champion"
# bad input among them: skipped with topic [partition] @offset and the reason
printf 'not an event\n{"order_id": "nope"}\n' |
  timeout 30 kcat -b "$bs" -t satisfy.orders -P -p 0 || fail "kcat produce failed"
printf '\x00\x00\x00\x00\x02\x01\n' | timeout 30 kcat -b "$bs" -t satisfy.reviews -P -p 0 -D '\n' ||
  fail "kcat produce failed"
retrainer run2
wait_consumed "$events_want" "$reviews_want" 240
predictions_consumed() { [ "$(json_field "$work/stats.json" predictions)" -ge $((2 * delivered_want)) ]; }
POLL_INTERVAL=1 poll 120 predictions_consumed || fail "predictions consumed: $(cat "$work/stats.json")"
# and the three bad messages produced after the replay (the last ones on
# their partitions): everything on the topics has been read
POLL_INTERVAL=0.2 poll 60 stat_at_least bad 3 || fail "bad messages counted: $(cat "$work/stats.json")"
stop_retrainer run2
grep -q "stopped: consumed $events_want order events (0 new), $reviews_want reviews (0 new)" "$work/run2.err" ||
  fail "second replay: $(grep 'stopped:' "$work/run2.err")"
[ "$(json_field "$work/stats.json" bad)" = 3 ] || fail "bad messages counted: $(cat "$work/stats.json")"
grep -q 'skipping satisfy.orders \[0\] @[0-9]*: .*' "$work/run2.err" || fail "no skip line for satisfy.orders"
grep -q 'skipping satisfy.reviews \[0\] @[0-9]*: .*' "$work/run2.err" || fail "no skip line for satisfy.reviews"
grep 'skipping' "$work/run2.err" | sed 's/^[^ ]* //' | cut -c1-150
[ "$(sql 'SELECT count(*) FROM reviews; SELECT count(*) FROM order_events')" = "$before_counts" ] ||
  fail "store counts changed after the second replay"
[ "$(sqlite3 "$work/registry.db" 'SELECT count(*) FROM model_versions')" = "$before_versions" ] ||
  fail "a retrain happened on replayed data"
grep -q "retrains 0:" "$work/run2.err" || fail "run 2 retrained: $(grep 'stopped:' "$work/run2.err")"
grep -q "republished $n_retrain gate decisions from the registry to satisfy.metrics" "$work/run2.err" ||
  fail "run 2: $(grep -i 'republish' "$work/run2.err" || echo 'no republication logged')"
"$bin/release_list" --brokers "$bs" --timeout 60 >"$work/releases2.txt" 2>"$work/releases2.err" ||
  fail "release_list (2): $(cat "$work/releases2.err")"
cmp -s "$work/releases.txt" "$work/releases2.txt" || fail "releases changed after a restart with a published champion"

# --- online accuracy: each delivered order paired once with its review
[ "$(sql 'SELECT count(*) FROM predictions')" = "$delivered_want" ] ||
  fail "store keeps $(sql 'SELECT count(*) FROM predictions') delivered predictions, want $delivered_want"
pairs_want=$(sql 'SELECT count(*) FROM predictions p WHERE EXISTS (SELECT 1 FROM reviews r WHERE r.order_id = p.order_id)')
pairs=$(sql 'SELECT count(*) FROM predictions WHERE paired = 1')
[ "$pairs" = "$pairs_want" ] && [ "$pairs" -gt 100 ] || fail "$pairs pairs, want $pairs_want"
[ "$(json_field "$work/stats.json" pairs)" = "$pairs" ] || fail "pairs counted: $(cat "$work/stats.json")"
timeout 60 kcat -b "$bs" -t satisfy.metrics -C -o beginning -e -q -f '%k\t%h\t%s\n' >"$work/metrics.txt" ||
  fail "kcat satisfy.metrics failed"
# the decisions again: run 2's startup republished each (identical repeats)
check_decisions "$work/metrics.txt" "$work/list.json" repeats ||
  fail "gate decisions on satisfy.metrics after the restart"
python3 - "$work/metrics.txt" "$champion" "$pairs" <<'EOF' || fail "online accuracy on satisfy.metrics"
import json, math, sys
lines = [l.split("\t", 2)[::2] for l in open(sys.argv[1]).read().splitlines() if l]
drift = [json.loads(v) for k, v in lines if k == "outcome-drift"]
lines = [(k, v) for k, v in lines if not k.startswith("decision-") and k != "outcome-drift"]
champion, pairs = int(sys.argv[2]), int(sys.argv[3])
# the outcome drift detector saw every pair (drift_detect.h)
ph = max(drift, key=lambda m: m["total"]) if drift else None
assert ph and ph["detector"] == "page-hinkley" and ph["total"] == pairs, ph
assert math.isfinite(ph["stat"]) and ph["alarms"] >= 0 and ph["lambda"] == 30, ph
assert lines, "nothing on satisfy.metrics"
for key, value in lines:
    m = json.loads(value)
    assert key == str(m["model_version"]) == str(champion), (key, m)
    assert set(m) >= {"model_version", "n", "rmse", "auc", "window", "event_time"}, m
last = max((json.loads(v) for _, v in lines), key=lambda m: m["total"])
assert last["total"] == pairs and last["n"] == min(pairs, last["window"]), last
assert 0.2 < last["rmse"] < 2.5 and 0.0 <= last["auc"] <= 1.0, last
print(f"online accuracy v{champion}: n {last['n']} (of {pairs} pairs), rmse {last['rmse']:.4f}, auc {last['auc']:.4f}")
print(f"outcome drift: {ph['total']} errors, mean {ph['mean']:.3f}, statistic {ph['stat']:.2f}, {ph['alarms']} alarms")
EOF
[ "$(json_field "$work/stats.json" drift_pairs)" = "$pairs" ] || fail "drift_pairs in the stats: $(cat "$work/stats.json")"
echo "second replay: $events_want order events and $reviews_want reviews consumed again, 0 new"

# --- a FRESH broker (empty topics) and the same registry: a restarted
# retrainer republishes the champion and every decision, exactly once each
kill -TERM "$broker_pid"
wait_exit "$broker_pid" 30 "satisfy-broker (after SIGTERM)"
start_broker broker2
retrainer run3
started() { grep -q "consuming satisfy.orders" "$work/run3.err"; }
POLL_INTERVAL=0.5 poll 120 started || fail "run 3 did not start up in 120 s"
stop_retrainer run3
grep -q "republished $n_retrain gate decisions from the registry to satisfy.metrics" "$work/run3.err" ||
  fail "run 3: $(grep -i 'republish' "$work/run3.err" || echo 'no republication logged')"
grep -q "retrains 0:" "$work/run3.err" || fail "run 3 retrained: $(grep 'stopped:' "$work/run3.err")"
timeout 60 kcat -b "$bs" -t satisfy.metrics -C -o beginning -e -q -f '%k\t%h\t%s\n' >"$work/metrics3.txt" ||
  fail "kcat satisfy.metrics (fresh broker) failed"
check_decisions "$work/metrics3.txt" "$work/list.json" strict ||
  fail "gate decisions on the fresh broker's satisfy.metrics"
"$bin/release_list" --brokers "$bs" --timeout 60 >"$work/releases3.txt" 2>"$work/releases3.err" ||
  fail "release_list (fresh broker): $(cat "$work/releases3.err")"
[ "$(awk '{ print $2 }' "$work/releases3.txt")" = "$champion" ] ||
  fail "fresh broker: releases $(awk '{ printf "v%s ", $2 }' "$work/releases3.txt"), want the champion v$champion"
echo "fresh broker: the champion v$champion and $n_retrain decisions republished"
echo "PASS"
