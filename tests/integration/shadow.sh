#!/usr/bin/env bash
# shadow.sh - shadow challengers end to end on satisfy-broker, on the real
# sample when OLIST_DIR is set (a generated dataset otherwise):
#   1. the champion v1 is worse by construction (publish_model
#      --flip-labels: trained on 6 - the review score), v2 an honest model
#      registered without being served (both ridge, trained on the orders of
#      2018, the windows scored are earlier); `registry challenge 2` makes v2 the
#      challenger. The scorer scores a first window of orders with both:
#      every order event of the window gets exactly one prediction on
#      satisfy.predictions (v1's) and one on satisfy.shadow (v2's, the same
#      event id); none of the challenger's reach satisfy.predictions and
#      no shadow message lacks its champion prediction.
#   2. satisfy-retrainer run (it never retrains here) joins both models'
#      delivered-stage predictions with the reviews and promotes v2 on the
#      live orders (cause live); the scorer then serves v2, no challenger.
#   3. v3, worse by construction again, challenges v2; the next window is
#      replayed while the retrainer runs: v3 is retired (cause retire) and
#      the scorer drops it.
#   4. `registry promote 1` brings the bad v1 back (a promote to an older
#      version). (drift) An input drift alarm then triggers a retrain:
#      satisfy-retrainer run --retrain-on-drift reads PSI messages (as
#      scorers publish them) from satisfy.metrics; calendar and history
#      features raise no alarm, delivery_days at 0.5 does, once per model
#      version, and the retrain's decision carries "trigger": "input-drift".
#      With --challengers and a margin no candidate can reach (5 stars), the
#      candidate (far better than v1 but not confirmed) becomes the
#      challenger by itself: shadowed by the scorer, its challenge open.
# The registry's serving history and challenges, the judge's messages on
# satisfy.metrics (and the web page's GET /v1/challenge, read from them) and
# the retrainer's counters must all agree.
source "$(dirname "$0")/scorer_common.bash"
source "$(dirname "$0")/retrainer_common.bash"

command -v kcat >/dev/null || fail "kcat missing (scripts/install-deps.sh installs kcat)"
use_data 15000 11
start_broker
reg() { "$bin/satisfy-retrainer" registry "$@" --registry "$work/registry.db"; }
pub() { # version log [args...]
  local v="$1" log="$2"
  shift 2
  "$bin/publish_model" --brokers "$bs" --version "$v" --data "$data" --register "$work/registry.db" \
    --no-history --from 2018-01-01 "$@" >"$work/$log.out" 2>"$work/$log.err" ||
    fail "publish_model $v failed: $(cat "$work/$log.err")"
}
replay() { # from to
  timeout 300 "$bin/satisfy-producer" --brokers "$bs" --data "$data" --speed 0 --no-progress \
    --from "$1" --to "$2" >"$work/prod.$1.out" 2>"$work/prod.err" ||
    fail "satisfy-producer $1..$2 exited $?: $(tail -3 "$work/prod.err")"
  awk '$1 == "satisfy.orders" { print $2 }' "$work/prod.$1.out"
}

pub 1 pub1 --flip-labels
pub 2 pub2 --no-serve
start_scorer scorer --batch 200 --http 127.0.0.1:0
wait_log scorer "assigned 8 partition" 90
port=$(http_port scorer)
reg challenge 2 --brokers "$bs" --reason "test: v2 against a bad champion" >"$work/ch2.out" 2>&1 ||
  fail "registry challenge 2: $(cat "$work/ch2.out")"
grep -q "challenge: version 2 shadows champion 1" "$work/ch2.out" || fail "challenge 2: $(cat "$work/ch2.out")"
wait_log scorer "shadow: scoring with challenger model 2 as well" 30

# --- 1: dual scoring, exactly once per event
n_a=$(replay 2017-01-01 2017-06-01)
[ "${n_a:-0}" -gt 1000 ] || fail "window 1 replayed ${n_a:-0} order events"
end=$((SECONDS + 120))
while :; do
  timeout 200 "$bin/consume_predictions" --brokers "$bs" --orders --idle 1 --timeout 180 \
    --shadow "$work/shadow1.txt" >"$work/report1" 2>"$work/report1.err" ||
    fail "consume_predictions: $(tail -3 "$work/report1.err")"
  [ "$(count shadow "$work/report1")" = "$n_a" ] && [ "$(count missing "$work/report1")" = 0 ] && break
  [ $SECONDS -lt $end ] || fail "window 1 not covered in 120 s: $(tr '\n' ' ' <"$work/report1")"
  sleep 1
done
v1=$(awk '$1 == "version" && $2 == 1 { print $3 }' "$work/report1")
s2=$(awk '$1 == "shadow_version" && $2 == 2 { print $3 }' "$work/report1")
echo "window 1: $n_a order events; predictions $(count predictions "$work/report1") (v1: $v1), shadow $(count shadow "$work/report1") (v2: $s2)"
[ "$(count predictions "$work/report1")" = "$n_a" ] && [ "$v1" = "$n_a" ] &&
  [ "$(count duplicates "$work/report1")" = 0 ] ||
  fail "window 1: want $n_a predictions, all v1, none duplicated: $(tr '\n' ' ' <"$work/report1")"
[ "$(count shadow_unique "$work/report1")" = "$n_a" ] && [ "$s2" = "$n_a" ] ||
  fail "window 1: want $n_a distinct shadow predictions, all v2: $(tr '\n' ' ' <"$work/report1")"
for k in shadow_bad shadow_missing shadow_overlap bad; do
  [ "$(count $k "$work/report1")" = 0 ] || fail "window 1: $k is not 0: $(tr '\n' ' ' <"$work/report1")"
done

# --- 2: the retrainer judges v2 on the backlog and promotes it
start_retrainer rt --retrain-every 100000000 --min-reviews 100000000 --challenge-min-orders 200 \
  --challenge-max-orders 2000
POLL_INTERVAL=0.2 wait_for 120 "v2 promoted on live orders" _log_has rt "challenge: challenger v2 PROMOTED on live outcomes"
grep -o "challenge: challenger v2 PROMOTED.*" "$work/rt.err"
wait_log scorer "serving model 2 (was 1): serving state epoch [0-9]* (live)" 30
wait_log scorer "shadow: no challenger now (was model 2)" 30

# --- 3: v3 (worse by construction) challenges v2, live, and is retired
pub 3 pub3 --flip-labels --no-serve
reg challenge 3 --brokers "$bs" --reason "test: a bad challenger" >"$work/ch3.out" 2>&1 ||
  fail "registry challenge 3: $(cat "$work/ch3.out")"
wait_log scorer "shadow: scoring with challenger model 3 as well" 30
POLL_INTERVAL=0.2 wait_for 60 "the judge of v3" _log_has rt "challenge: judging challenger v3 against champion v2"
n_b=$(replay 2017-06-01 2017-10-01)
POLL_INTERVAL=0.2 wait_for 120 "v3 retired" _log_has rt "challenge: challenger v3 RETIRED"
grep -o "challenge: challenger v3 RETIRED.*" "$work/rt.err"
wait_log scorer "shadow: no challenger now (was model 3)" 30
POLL_INTERVAL=0.2 wait_for 30 "the retrainer's counters" stat_at_least challenges_retired 1
# the web page's data: GET /v1/challenge from the judge's messages
_page_shows() {
  curl -s --max-time 5 "http://127.0.0.1:$port/v1/challenge" >"$work/challenge.json" &&
    python3 - "$work/challenge.json" 2>"$work/challenge.err" <<'PY'
import json, sys
o = json.load(open(sys.argv[1]))
c, h = o["current"], o["history"]
assert c and c["challenger"] == 3 and c["status"] == "retired" and c["champion"] == 2, c
assert h and h[0]["challenger"] == 2 and h[0]["status"] == "promoted", h
assert c["rmse_challenger_ci"][0] > c["rmse_champion_ci"][1] and o["bad_messages"] == 0, o
PY
}
POLL_INTERVAL=0.5 poll 30 _page_shows ||
  fail "/v1/challenge does not show v3 retired after v2 promoted: $(tail -1 "$work/challenge.err") $(head -c 600 "$work/challenge.json")"
[ "$(json_field "$work/stats.json" challenges_promoted)" = 1 ] || fail "stats: $(cat "$work/stats.json")"

timeout 200 "$bin/consume_predictions" --brokers "$bs" --idle 1 --timeout 180 \
  --shadow "$work/shadow2.txt" >"$work/report2" 2>"$work/report2.err" ||
  fail "consume_predictions: $(tail -3 "$work/report2.err")"
s3=$(awk '$1 == "shadow_version" && $2 == 3 { print $3 }' "$work/report2")
echo "window 2: $n_b order events; v3 shadowed ${s3:-0} of them before it was retired"
[ "${s3:-0}" -gt 0 ] || fail "no shadow prediction of v3: $(tr '\n' ' ' <"$work/report2")"
for k in shadow_bad shadow_missing shadow_overlap; do
  [ "$(count $k "$work/report2")" = 0 ] || fail "$k is not 0: $(tr '\n' ' ' <"$work/report2")"
done
if awk '$1 == "version" && $2 == 3' "$work/report2" | grep -q .; then
  fail "a prediction of the challenger v3 reached satisfy.predictions"
fi

# --- the records: serving history, challenges, satisfy.metrics
reg history >"$work/history.txt" || fail "registry history failed"
awk 'NR > 1 { printf "%s/%s/%s ", $2, $3, $4 }' "$work/history.txt" >"$work/history.short"
[ "$(cat "$work/history.short")" = "1/0/gate 1/2/challenger 2/0/live 2/3/challenger 2/0/retire " ] ||
  fail "registry history: $(cat "$work/history.txt")"
reg challenges --json >"$work/challenges.json" || fail "registry challenges failed"
python3 - "$work/challenges.json" <<'PY' || fail "registry challenges: $(cat "$work/challenges.json")"
import json, sys
c = json.load(open(sys.argv[1]))
assert [(x["challenger"], x["champion"], x["outcome"]) for x in c] == [(2, 1, "promoted"), (3, 2, "retired")], c
for x in c:
    r = x["result"]
    assert r["orders"] >= 200 and r["challenger"] == x["challenger"], r
assert c[0]["result"]["lower"] > 0 and c[0]["result"]["rmse_challenger"] < c[0]["result"]["rmse_champion"], c[0]
assert c[1]["result"]["upper"] < 0, c[1]
print("challenges:", "; ".join("v%d vs v%d %s on %d orders, RMSE %.3f vs %.3f" % (
    x["challenger"], x["champion"], x["outcome"], x["result"]["orders"],
    x["result"]["rmse_challenger"], x["result"]["rmse_champion"]) for x in c))
PY
timeout 30 kcat -C -b "$bs" -t satisfy.metrics -e -q -f '%k\t%s\n' >"$work/metrics.txt" 2>"$work/kcat.err" ||
  fail "kcat: $(cat "$work/kcat.err")"
grep -q '^challenge-2	.*"status":"promoted"' "$work/metrics.txt" &&
  grep -q '^challenge-3	.*"status":"retired"' "$work/metrics.txt" ||
  fail "satisfy.metrics lacks the decisions: $(grep '^challenge-' "$work/metrics.txt" | tail -4)"
stop_retrainer rt

# --- 4: an input drift alarm triggers a retrain (--retrain-on-drift): PSI
# messages as a scorer publishes them (drift.h), produced with kcat. Calendar
# and history features are not watched: no alarm; delivery_days at 0.5 is an
# alarm for the champion v1, once (a repeat for v1 is not another).
reg promote 1 --brokers "$bs" --reason "test: the bad champion back" >"$work/promote1.out" 2>&1 ||
  fail "registry promote 1: $(cat "$work/promote1.out")"
wait_log scorer "serving model 1 (was 2): serving state epoch [0-9]* (promote)" 30
start_retrainer rt2 --retrain-on-drift --min-reviews 100 --retrain-every 100000000 --algorithm ridge \
  --challengers --margin 5
wait_log rt2 "consuming satisfy.orders" 60
psi() { # delivery_days' PSI
  printf '{"scorer":"test","model_version":1,"window":5000,"n":5000,"events":9000,"at":%s,"psi_max":7.1,"feature_max":"purchase_month","alarm":0.25,"features":[{"name":"purchase_month","psi":7.1},{"name":"seller_late_rate","psi":0.9},{"name":"delivery_days","psi":%s}]}\n' \
    "$(date +%s%3N)" "$1" | timeout 30 kcat -P -b "$bs" -t satisfy.metrics -k drift/test \
    -H schema=satisfy.v1.InputDrift+json 2>"$work/kcat.err" || fail "kcat -P: $(cat "$work/kcat.err")"
}
psi 0.1
POLL_INTERVAL=0.2 wait_for 60 "the first PSI message read" stat_at_least input_drift_messages 1
[ "$(json_field "$work/stats.json" input_drift_alarms)" = 0 ] ||
  fail "an alarm on calendar and history features: $(grep 'input drift' "$work/rt2.err")"
psi 0.5
POLL_INTERVAL=0.2 wait_for 60 "the input drift alarm" _log_has rt2 "input drift: alarm from scorer test (model v1): PSI of delivery_days = 0.500"
POLL_INTERVAL=0.5 wait_for 180 "the retrain it triggers" _log_has rt2 "retrain 1: .*RE[LJ]E[AC]"
grep -q "retrain 1: .*REJECTED v4 (rejected (gain below margin)" "$work/rt2.err" ||
  fail "v4 is not rejected for its margin: $(grep 'retrain 1' "$work/rt2.err")"
wait_log rt2 "challenge: v4 shadows champion v1" 30
wait_log scorer "shadow: scoring with challenger model 4 as well" 30
reg challenges --json >"$work/challenges2.json" || fail "registry challenges failed"
python3 - "$work/challenges2.json" <<'PY' || fail "registry challenges: $(cat "$work/challenges2.json")"
import json, sys
c = json.load(open(sys.argv[1]))[-1]
assert (c["challenger"], c["champion"], c["outcome"]) == (4, 1, "running"), c
PY
grep -q "retrain 1: started .*cause: input-drift alarm" "$work/rt2.err" ||
  fail "the retrain does not name its cause: $(grep 'retrain 1' "$work/rt2.err")"
psi 0.6
POLL_INTERVAL=0.2 wait_for 60 "the repeat read" stat_at_least input_drift_messages 3
[ "$(json_field "$work/stats.json" input_drift_alarms)" = 1 ] || fail "stats: $(cat "$work/stats.json")"
timeout 30 kcat -C -b "$bs" -t satisfy.metrics -e -q -f '%k\t%s\n' >"$work/metrics2.txt" 2>"$work/kcat.err" ||
  fail "kcat: $(cat "$work/kcat.err")"
grep '^decision-4	' "$work/metrics2.txt" | grep -q '"trigger":"input-drift".*"drift_feature":"delivery_days"' ||
  fail "decision 4 lacks its trigger: $(grep '^decision-' "$work/metrics2.txt" | tail -2)"
echo "input drift: $(grep -o 'retrain 1: started.*' "$work/rt2.err" | head -1)"
echo "gate challenger: $(grep -o 'challenge: v4 shadows.*' "$work/rt2.err" | head -1)"
stop_retrainer rt2
stop_scorer
echo "PASS"
