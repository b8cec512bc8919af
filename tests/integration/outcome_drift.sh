#!/usr/bin/env bash
# outcome_drift.sh - an outcome drift alarm triggers a retrain end to end, on
# satisfy-broker and through Kafka, on the real sample when OLIST_DIR is set
# (a generated dataset otherwise). The drift is injected into a copy of the
# data: every review created from $CUT on has its score turned around
# (6 - score: customers now hate what they liked), a change of the relation
# between an order and its review that no input statistic can see.
# The champion v1 (ridge, trained on the orders of 2018) scores the orders of
# 2017, replayed in event time in one go, while satisfy-retrainer run
# --retrain-on-drift joins its delivered-stage predictions with the reviews.
# Page-Hinkley on the absolute error (docs/model.md, "Drift") must raise its
# first alarm on a review of about $CUT: none on the nine unchanged months
# before, and within a bounded time after. The retrain the alarm makes due
# starts at once (no schedule is due: --retrain-every is out of reach) and
# names its cause in the log, in the decision on satisfy.metrics
# ("trigger": "outcome-drift") and in the detector's state there.
# (One replay, not two windows: a replay stopped at a date leaves a transient
# at its end where only the reviews written before delivery, the late
# orders' and the angriest, have joined, and the detector rightly sees it.)
source "$(dirname "$0")/scorer_common.bash"
source "$(dirname "$0")/retrainer_common.bash"
not_sanitized "it judges alarm timing; shadow runs the detector and the drift-triggered retrain"

command -v kcat >/dev/null || fail "kcat missing (scripts/install-deps.sh installs kcat)"
CUT=2017-10-01
# the first alarm's review: not before $CUT - 7 days (pairs join in delivery
# order, so an unchanged review created a few days earlier can tip it), at
# most 14 days after (measured: 6 days, on the sample and on generated data)
EARLY_DAYS=-7
MAX_DAYS=14
use_data 15000 11

# the drifted copy: the other tables linked, the reviews rewritten
drift="$work/drifted"
mkdir -p "$drift"
for f in "$data"/*.csv "$data"/*.csv.gz; do
  [ -e "$f" ] || continue
  case "$f" in *olist_order_reviews_dataset*) ;; *) ln -s "$f" "$drift/" ;; esac
done
# ($work/flipped: the creation day of each review turned around, for the delay)
python3 - "$data" "$drift" "$CUT" >"$work/flipped" <<'EOF' || fail "could not write the drifted reviews"
import csv, glob, gzip, os, sys
src, dst, cut = sys.argv[1:]
path = (glob.glob(os.path.join(src, "olist_order_reviews_dataset.csv")) +
        glob.glob(os.path.join(src, "olist_order_reviews_dataset.csv.gz")))[0]
opener = gzip.open if path.endswith(".gz") else open
with opener(path, "rt", newline="", encoding="utf-8") as fi, \
     opener(os.path.join(dst, os.path.basename(path)), "wt", newline="", encoding="utf-8") as fo:
    rows = csv.reader(fi)
    out = csv.writer(fo, lineterminator="\n")
    head = next(rows)
    out.writerow(head)
    score, created = head.index("review_score"), head.index("review_creation_date")
    for row in rows:
        if row[created] >= cut:
            row[score] = str(6 - int(float(row[score])))
            print(row[created][:10])
        out.writerow(row)
EOF
flipped=$(wc -l <"$work/flipped")
[ "${flipped:-0}" -gt 500 ] || fail "only ${flipped:-0} reviews turned around from $CUT"
echo "drifted copy: $flipped reviews created from $CUT on turned around"

# start NAME DATA: a broker, the champion v1, a scorer and the retrainer of
# its own (registry and store $work/NAME.*); then one replay of 2017 in
# event time: sets $n (order events) and $n_rev (reviews) replayed
start() {
  local name="$1" dir="$2"
  start_broker "$name"
  RT_REGISTRY="$work/$name.registry.db" RT_STORE="$work/$name.store.db"
  "$bin/publish_model" --brokers "$bs" --version 1 --data "$data" --register "$RT_REGISTRY" \
    --no-history --from 2018-01-01 >"$work/$name.pub.out" 2>"$work/$name.pub.err" ||
    fail "publish_model 1 failed: $(cat "$work/$name.pub.err")"
  start_scorer "$name.scorer" --batch 200
  wait_log "$name.scorer" "assigned 8 partition" 90
  start_retrainer "$name.rt" --retrain-on-drift --min-reviews 100 --retrain-every 100000000 --algorithm ridge
  wait_log "$name.rt" "consuming satisfy.orders" 60
  timeout 300 "$bin/satisfy-producer" --brokers "$bs" --data "$dir" --speed 0 --no-progress \
    --from 2017-01-01 --to 2018-01-01 >"$work/$name.prod.out" 2>"$work/$name.prod.err" ||
    fail "satisfy-producer exited $?: $(tail -3 "$work/$name.prod.err")"
  n=$(awk '$1 == "satisfy.orders" { print $2 }' "$work/$name.prod.out")
  n_rev=$(awk '$1 == "satisfy.reviews" { print $2 }' "$work/$name.prod.out")
  [ "${n:-0}" -gt 1000 ] && [ "${n_rev:-0}" -gt 300 ] || fail "$name: replayed ${n:-0} order events, ${n_rev:-0} reviews"
}
joined() { stat_at_least predictions "$n" && stat_at_least reviews "$n_rev"; }

# --- the control: the unchanged data raises no alarm in 2017
start control "$data"
POLL_INTERVAL=0.5 wait_for 180 "the retrainer to read all $n predictions and $n_rev reviews" joined
pairs=$(json_field "$work/stats.json" drift_pairs)
[ "$pairs" -ge 1000 ] || fail "control: only $pairs pairs for the detector: $(cat "$work/stats.json")"
echo "control: $n order events, $n_rev reviews, $pairs pairs, mean absolute error $(json_field "$work/stats.json" drift_mean), $(json_field "$work/stats.json" drift_alarms) alarms"
[ "$(json_field "$work/stats.json" drift_alarms)" = 0 ] ||
  fail "control: an alarm on the unchanged data: $(grep 'outcome drift' "$work/control.rt.err" | head -3)"
[ "$(json_field "$work/stats.json" retrains)" = 0 ] || fail "control: a retrain: $(grep 'retrain' "$work/control.rt.err")"
stop_retrainer control.rt
stop_scorer
stop_pids "$broker_pid"

# --- the drift from $CUT on: the alarm and the retrain it triggers
start drifted "$drift"
POLL_INTERVAL=0.2 wait_for 180 "the outcome drift alarm" _log_has drifted.rt "outcome drift: Page-Hinkley alarm 1 at pair"
alarm=$(grep -m1 "outcome drift: Page-Hinkley alarm 1 at pair" "$work/drifted.rt.err")
echo "alarm: $alarm"
when=$(sed -E 's/.*review of ([0-9-]+).*/\1/' <<<"$alarm")
days=$((($(date -ud "$when" +%s) - $(date -ud "$CUT" +%s)) / 86400))
within=$(awk -v w="$when" '$1 <= w' "$work/flipped" | wc -l)
echo "alarm delay: on a review of $when, $days days after the drift began on $CUT ($within reviews created in between)"
[ "$days" -ge "$EARLY_DAYS" ] || fail "a false alarm: on a review of $when, before the drift began on $CUT"
[ "$days" -le "$MAX_DAYS" ] || fail "the alarm came $days days after the drift began, bound $MAX_DAYS"
grep -q -- "--retrain-on-drift: a retrain is due" <<<"$alarm" || fail "the alarm does not make a retrain due: $alarm"
POLL_INTERVAL=0.5 wait_for 240 "the retrain the alarm triggers" _log_has drifted.rt "retrain 1: .*RE[LJ]E[AC]"
grep -q "retrain 1: started .*cause: outcome-drift alarm" "$work/drifted.rt.err" ||
  fail "the retrain does not name its cause: $(grep 'retrain 1' "$work/drifted.rt.err")"
POLL_INTERVAL=0.5 wait_for 60 "drift_retrains in the stats" stat_at_least drift_retrains 1
timeout 30 kcat -C -b "$bs" -t satisfy.metrics -e -q -f '%k\t%s\n' >"$work/metrics.txt" 2>"$work/kcat.err" ||
  fail "kcat: $(cat "$work/kcat.err")"
grep '^decision-2	' "$work/metrics.txt" | grep -q '"trigger":"outcome-drift"' ||
  fail "decision 2 lacks its trigger: $(grep '^decision-' "$work/metrics.txt" | tail -2)"
python3 - "$work/metrics.txt" <<'EOF' || fail "the detector's state on satisfy.metrics"
import json, sys
states = [json.loads(l.split("\t", 1)[1]) for l in open(sys.argv[1]) if l.startswith("outcome-drift\t")]
last = states[-1]
assert last["detector"] == "page-hinkley" and last["alarms"] >= 1 and last["drift_retrains"] >= 1, last
assert last["retrain_on_drift"] is True and last["last_alarm_time"] > 0, last
EOF
echo "retrain: $(grep -o 'retrain 1: started.*' "$work/drifted.rt.err" | head -1)"
stop_retrainer drifted.rt
stop_scorer
echo "PASS"
