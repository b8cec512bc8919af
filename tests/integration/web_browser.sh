#!/usr/bin/env bash
# web_browser.sh - the web app in a real browser: headless Chromium (Debian
# package chromium) driven by playwright-core (tests/browser, installed with
# npm ci when node_modules is missing) against satisfy-scorer --http on
# satisfy-broker. Loads /, fills and submits the form, expects stars, the
# risk gauge and reasons; while a replay flows, expects a nonzero event rate,
# the model in the timeline, recent predictions, and a line of version 1 in
# the online RMSE chart (online accuracy messages produced to satisfy.metrics
# with kcat, as satisfy-retrainer run would publish them), and the gate
# decisions in the model timeline (v1 released and loaded, shown once; v2
# rejected, with its reason; also produced with kcat), the drift panel
# (the scorer's PSI per feature, the retrainer's Page-Hinkley state produced
# with kcat), the alerts panel (the scorer runs with --alert-threshold
# 0.3: at-risk orders, each once, at or above it, with their reasons) and the
# champion panel (read-only: no control in it, POST /v1/serving refused)
# showing v1 and the two ServingStates produced with kcat, the rollback
# first, with its reason; and the champion and challenger panel (read-only,
# POST /v1/challenge refused): two challenge messages produced with kcat
# (v4 running against v1, v3 retired earlier) and one keyed as another
# version, checked in /v1/challenge (the bad one counted) and on the page
# (both versions, both RMSEs with their intervals, the orders, the status,
# v3 in the past challenges).
# Screenshots are saved in
# $SATISFY_BUILD_DIR/test-artifacts/web/.
source "$(dirname "$0")/scorer_common.bash"

src="${SATISFY_SOURCE_DIR:?}"
artifacts="${SATISFY_BUILD_DIR:?}/test-artifacts/web"
mkdir -p "$artifacts"
[ -x /usr/bin/chromium ] || fail "/usr/bin/chromium missing (scripts/install-deps.sh installs chromium)"
command -v node >/dev/null || fail "node missing"
if [ ! -d "$src/tests/browser/node_modules/playwright-core" ]; then
  (cd "$src/tests/browser" && timeout 300 npm ci --no-audit --no-fund >"$work/npm.out" 2>&1) ||
    fail "npm ci in tests/browser failed: $(tail -5 "$work/npm.out")"
fi

make_data
start_broker
"$bin/publish_model" --brokers "$bs" --version 1 --data "$data" --algo gbdt \
  >"$work/pub1.out" 2>"$work/pub1.err" || fail "publish_model failed: $(cat "$work/pub1.err")"
start_scorer scorer --http 127.0.0.1:0 --alert-threshold 0.3
wait_log scorer "serving /healthz and /metrics on port [1-9]" 30
port=$(sed -n 's/.*serving \/healthz and \/metrics on port \([0-9]*\).*/\1/p' "$work/scorer.err")
wait_log scorer "scoring with model 1" 60
command -v kcat >/dev/null || fail "kcat missing (scripts/install-deps.sh installs kcat)"
for i in 0 1 2 3 4 5 6 7; do
  printf '{"model_version":1,"n":%d,"rmse":%s,"auc":0.7,"window":1000,"total":%d,"event_time":%d}\n' \
    $((100 * (i + 1))) "1.$((30 - 2 * i))" $((100 * (i + 1))) $((1514764800000 + i * 604800000))
done | timeout 30 kcat -P -b "$bs" -t satisfy.metrics -k 1 2>"$work/kcat.err" ||
  fail "kcat -P satisfy.metrics failed: $(cat "$work/kcat.err")"
# the retrainer's gate decisions (lib/release/decision.c's shape): v1 released (the
# model the scorer loaded: one entry, marked loaded), v2 rejected
decision() { # version released reason cand_rmse ref_rmse ref_name ref_version
  printf '{"version":%s,"released":%s,"reason":"%s","run_id":%s,' "$1" "$2" "$3" "$1"
  printf '"candidate":{"name":"gbdt","algorithm":"gbdt","features":"full","rmse":%s,"mae":null,"r2":null,"auc":0.71,"pr_auc":null},' "$4"
  printf '"reference":{"name":"%s","algorithm":"-","features":"-","version":%s,"rmse":%s,"mae":null,"r2":null,"auc":null,"pr_auc":null},' "$6" "$7" "$5"
  printf '"gate":{"gain":0.01,"margin":0.005,"boot_lower":null,"boot_upper":null},'
  printf '"train_rows":4000,"train_orders":1600,"holdout_rows":1000,"holdout_orders":400,'
  printf '"train_from":1483228800000,"train_to":1514764800000,"data_until":1522540800000,"decided_at":%s}\n' "$(($(date +%s) * 1000))"
}
decision 1 true "released (both tests pass): browser test" 1.1234 1.3456 mean 0 |
  timeout 30 kcat -P -b "$bs" -t satisfy.metrics -k decision-1 -H schema=satisfy.v1.ModelDecision+json 2>"$work/kcat.err" ||
  fail "kcat -P decision 1 failed: $(cat "$work/kcat.err")"
decision 2 false "rejected (gain below margin): browser test" 1.1300 1.1234 "champion v1" 1 |
  timeout 30 kcat -P -b "$bs" -t satisfy.metrics -k decision-2 -H schema=satisfy.v1.ModelDecision+json 2>"$work/kcat.err" ||
  fail "kcat -P decision 2 failed: $(cat "$work/kcat.err")"
# the retrainer's outcome drift state (drift_detect.h's shape), one alarm
printf '{"detector":"page-hinkley","delta":0.1,"lambda":30,"min_samples":200,"n":120,"mean":0.8,"stat":3.5,"total":4413,"alarms":1,"last_alarm_at":4367,"mean_before":0.9,"retrain_on_drift":false,"drift_due":false,"drift_retrains":0,"last_alarm_time":1529471016000,"at":%s}\n' "$(($(date +%s) * 1000))" |
  timeout 30 kcat -P -b "$bs" -t satisfy.metrics -k outcome-drift -H schema=satisfy.v1.OutcomeDrift+json 2>"$work/kcat.err" ||
  fail "kcat -P outcome drift failed: $(cat "$work/kcat.err")"

# the retrainer's live judge of shadow challengers (lib/release/challenge.c's
# shape, key challenge-<challenger>): v3 retired earlier, v4 running against
# v1; then one whose key names another version (counted as bad, ignored)
challenge() { # challenger status reason orders started_at decided_at rmse_champion rmse_challenger
  printf '{"challenger":%s,"champion":1,"status":"%s","reason":"%s","orders":%s,"min_orders":300,"max_orders":3000,' "$1" "$2" "$3" "$4"
  printf '"confidence":0.95,"rmse_champion":%s,"rmse_challenger":%s,' "$7" "$8"
  awk -v a="$7" -v b="$8" 'BEGIN { printf "\"rmse_champion_ci\":[%.4f,%.4f],\"rmse_challenger_ci\":[%.4f,%.4f],\"gain\":%.4f,", a - 0.06, a + 0.06, b - 0.06, b + 0.06, a - b }'
  printf '"margin":0.005,"diff_mean":0.2,"lower":0.1,"upper":0.3,"resamples":1000,'
  printf '"started_at":%s,"decided_at":%s,"event_time":1529471016000,"at":%s}\n' "$5" "$6" "$(($(date +%s) * 1000))"
}
now_ms=$(($(date +%s) * 1000))
challenge 3 retired "retired: worse than the champion on 900 live orders (browser test)" 900 $((now_ms - 7200000)) $((now_ms - 3600000)) 1.2000 1.4100 |
  timeout 30 kcat -P -b "$bs" -t satisfy.metrics -k challenge-3 -H schema=satisfy.v1.Challenge+json 2>"$work/kcat.err" ||
  fail "kcat -P challenge 3 failed: $(cat "$work/kcat.err")"
challenge 4 running "412 of 300 orders compared: no decision yet (browser test)" 412 $((now_ms - 600000)) 0 1.3100 1.2200 |
  timeout 30 kcat -P -b "$bs" -t satisfy.metrics -k challenge-4 -H schema=satisfy.v1.Challenge+json 2>"$work/kcat.err" ||
  fail "kcat -P challenge 4 failed: $(cat "$work/kcat.err")"
challenge 4 running "bad: keyed as another version" 1 $((now_ms)) 0 1.0 1.0 |
  timeout 30 kcat -P -b "$bs" -t satisfy.metrics -k challenge-9 -H schema=satisfy.v1.Challenge+json 2>"$work/kcat.err" ||
  fail "kcat -P bad challenge failed: $(cat "$work/kcat.err")"
# /v1/challenge: v4 current (running, its RMSEs and intervals), v3 in the history, the bad one counted
challenge_json() { curl -sf --max-time 5 "http://127.0.0.1:$port/v1/challenge" >"$work/challenge.json"; }
_challenges_read() { challenge_json && [ "$(jq '.messages' "$work/challenge.json")" -ge 3 ]; }
wait_for 30 "the 3 challenge messages in /v1/challenge" _challenges_read
jq -e '.current.challenger == 4 and .current.champion == 1 and .current.status == "running" and
  .current.orders == 412 and .current.rmse_challenger_ci == [1.16, 1.28] and
  (.history | length) == 1 and .history[0].challenger == 3 and .history[0].status == "retired" and
  .messages == 3 and .bad_messages == 1 and (.last_bad | test("key .challenge-9. is not challenge-4"))' \
  "$work/challenge.json" >/dev/null || fail "/v1/challenge: $(cat "$work/challenge.json")"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X POST "http://127.0.0.1:$port/v1/challenge")
[ "$code" = 405 ] || fail "POST /v1/challenge answered $code, want 405 (read-only)"

# two ServingStates (serving_state.avsc, key "serving" on satisfy.models):
# v1 by the gate (epoch 1), then rolled back to by hand (epoch 2)
serving() { # epoch champion cause reason -> framed Avro bytes in $work/serving-$1.bin
  python3 - "$@" "$work/serving-$1.bin" <<'PY'
import sys, time
def zz(v):
    u, out = (v << 1) ^ (v >> 63), bytearray()
    while u >= 0x80:
        out.append((u & 0x7f) | 0x80); u >>= 7
    return bytes(out + bytes([u]))
s = lambda t: zz(len(t.encode())) + t.encode()
epoch, champ, cause, reason, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
open(out, "wb").write(b"\0\0\0\0\5" + zz(epoch) + zz(champ) + zz(0) + s(cause) + s(reason) + zz(int(time.time() * 1000)))
PY
  timeout 30 kcat -P -b "$bs" -t satisfy.models -p 0 -k serving "$work/serving-$1.bin" 2>"$work/kcat.err" ||
    fail "kcat -P serving state $1 failed: $(cat "$work/kcat.err")"
}
serving 1 1 gate "released (both tests pass): browser test"
serving 2 1 rollback "ana: browser test rollback"
wait_log scorer "serving state epoch 2: model 1 is the champion (rollback: ana: browser test rollback)" 30
# read-only: the API refuses anything but GET
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X POST "http://127.0.0.1:$port/v1/serving")
[ "$code" = 405 ] || fail "POST /v1/serving answered $code, want 405 (read-only)"

timeout 180 node "$src/tests/browser/web.mjs" "http://127.0.0.1:$port/" "$artifacts" --wait-rate \
  >"$work/browser.out" 2>"$work/browser.err" &
browser_pid=$!
pids+=("$browser_pid")
# events flow while the browser looks: replays back to back until it is done
# (at most 30; the scorer scores the repeats too)
(for _ in $(seq 30); do
  kill -0 "$browser_pid" 2>/dev/null || exit 0
  timeout 120 "$bin/satisfy-producer" --brokers "$bs" --data "$data" --speed 0 --no-progress \
    >>"$work/prod.out" 2>>"$work/prod.err" || exit 1
done) &
pids+=($!)
wait_exit "$browser_pid" 200 "the browser test"
[ "$exit_rc" = 0 ] || fail "browser test (exit $exit_rc): $(cat "$work/browser.out" "$work/browser.err" | tail -20)"
cat "$work/browser.out"
[ -s "$artifacts/web-predict.png" ] && [ -s "$artifacts/web-live.png" ] && [ -s "$artifacts/web-challenge.png" ] ||
  fail "screenshots missing"
echo "web_browser: ok, screenshots in $artifacts"
