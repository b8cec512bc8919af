#!/usr/bin/env bash
# web_api.sh - satisfy-scorer --http on satisfy-broker: the web app and the
# JSON/MLflow/Prometheus endpoints of a real scorer, with a model that came
# through satisfy.models, while events flow. Bad requests (malformed JSON,
# unknown fields, a huge body, a client that stalls) get 4xx and the scorer
# keeps scoring: every order event still gets its prediction. The release
# carries its training distribution: /metrics shows the largest input drift
# PSI with its feature as a label, and the scorer's PSI message comes back
# from satisfy.metrics in GET /v1/drift.
source "$(dirname "$0")/scorer_common.bash"

make_data
start_broker
"$bin/publish_model" --brokers "$bs" --version 1 --data "$data" --algo gbdt \
  >"$work/pub1.out" 2>"$work/pub1.err" || fail "publish_model failed: $(cat "$work/pub1.err")"
start_scorer scorer --http 127.0.0.1:0 --drift-interval 1
wait_log scorer "serving /healthz and /metrics on port [1-9]" 30
port=$(sed -n 's/.*serving \/healthz and \/metrics on port \([0-9]*\).*/\1/p' "$work/scorer.err")
url="http://127.0.0.1:$port"
wait_log scorer "scoring with model 1" 60
c() { curl -s --max-time 10 "$@"; }
code() { curl -s -o "$work/body" -w '%{http_code}' --max-time 10 "$@"; }

# the page and its assets are compiled in
c "$url/" >"$work/index.html"
grep -q '<form id="order-form"' "$work/index.html" || fail "GET / is not the web app"
c "$url/app.js" >"$work/app.js"
grep -q "/v1/predict" "$work/app.js" || fail "GET /app.js"
[ "$(code "$url/style.css")" = 200 ] || fail "GET /style.css"

# replay in the background while bad requests hit the server
timeout 300 "$bin/satisfy-producer" --brokers "$bs" --data "$data" --speed 0 --no-progress \
  >"$work/prod.out" 2>"$work/prod.err" &
prod=$!
pids+=("$prod")
exec 3<>"/dev/tcp/127.0.0.1/$port" # a client that sends half a request and stalls
printf 'POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n{' >&3
for _ in 1 2 3; do
  [ "$(code -X POST -H 'Content-Type: application/json' -d '{"order_id": ' "$url/v1/predict")" = 400 ] ||
    fail "malformed JSON: $(cat "$work/body")"
  grep -q "malformed JSON" "$work/body" || fail "malformed JSON reason: $(cat "$work/body")"
  [ "$(code -X POST -H 'Content-Type: application/json' -d '{"inputs":[{"colour":1}]}' "$url/invocations")" = 400 ] ||
    fail "unknown column"
  grep -q "unknown column 'colour'" "$work/body" || fail "unknown column reason: $(cat "$work/body")"
  head -c 2000000 /dev/zero | tr '\0' ' ' >"$work/huge"
  [ "$(code -X POST -H 'Content-Type: application/json' --data-binary @"$work/huge" "$url/invocations")" = 413 ] ||
    fail "huge body: $(cat "$work/body")"
  [ "$(code -X POST -H 'Content-Type: text/csv' -d 'a' "$url/invocations")" = 415 ] || fail "csv"
done
wait "$prod" || fail "replay failed"
exec 3>&-
wait_covered all 240
r="$work/all"
[ "$(count duplicates "$r")" = 0 ] && [ "$(count bad "$r")" = 0 ] || fail "predictions: $(tr '\n' ' ' <"$r")"
echo "scored all $(count predictions "$r") order events while bad requests were refused"

# the stream shows in the JSON API
c "$url/v1/stats" >"$work/stats.json"
python3 - "$work/stats.json" "$(count predictions "$r")" <<'PY' || fail "/v1/stats: $(cat "$work/stats.json")"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["events"] >= int(sys.argv[2]) and s["model_version"] == 1 and s["lag"] is not None, s
assert s["latency_ms"]["process"]["p50"] > 0, s
PY
c "$url/v1/predictions/recent?n=3" >"$work/recent.json"
python3 -c 'import json,sys; p=json.load(sys.stdin)["predictions"]; assert len(p)==3 and p[0]["model_version"]==1, p' <"$work/recent.json" ||
  fail "/v1/predictions/recent"
[ "$(code "$url/readyz")" = 200 ] || fail "/readyz: $(cat "$work/body")"
c "$url/v1/models" >"$work/models.json"
python3 -c 'import json,sys; m=json.load(sys.stdin); assert m["active"]["version"]==1 and m["timeline"][0]["event"]=="loaded", m' <"$work/models.json" ||
  fail "/v1/models"

# a prediction over HTTP from an event of the dataset, as the stream would score it
order='{"order_id":"0123456789abcdef0123456789abcdef","customer_id":"11111111111111111111111111111111","customer_unique_id":"22222222222222222222222222222222","stage":"PURCHASED","event_time":1520864000000,"purchase_time":1520864000000,"estimated_delivery":1522937600000,"approved_time":null,"carrier_time":null,"delivered_time":null,"customer":{"zip":"01000","city":"sao paulo","state":"SP","lat":-23.55,"lng":-46.63},"items":[{"seq":1,"product_id":"33333333333333333333333333333333","seller_id":"44444444444444444444444444444444","price":89.9,"freight":16.5,"shipping_limit":1521382400000,"category":"health_beauty","name_len":48,"desc_len":600,"photos":2,"weight_g":700,"length_cm":30,"height_cm":15,"width_cm":20,"seller":{"zip":"13000","city":"campinas","state":"SP","lat":-22.9,"lng":-47.06}}],"payments":[{"seq":1,"type":"credit_card","installments":3,"value":106.4}]}'
[ "$(code -X POST -H 'Content-Type: application/json' -d "$order" "$url/v1/predict")" = 200 ] ||
  fail "/v1/predict: $(cat "$work/body")"
grep -q '"model_version":1' "$work/body" && grep -q '"reasons":\[{' "$work/body" || fail "/v1/predict body: $(cat "$work/body")"
[ "$(code -X POST -H 'Content-Type: application/json' -d '{"dataframe_split":{"columns":["late","delay_days"],"data":[[1,10],[0,-5]]}}' "$url/invocations")" = 200 ] ||
  fail "/invocations: $(cat "$work/body")"
python3 -c 'import json,sys; p=json.load(open(sys.argv[1]))["predictions"]; assert len(p)==2 and all(1<=r["score"]<=5 and 0<=r["p_dissatisfied"]<=1 and r["reasons"] for r in p), p' "$work/body" ||
  fail "/invocations body: $(cat "$work/body")"

# Prometheus exposition
c "$url/metrics" >"$work/metrics.txt"
command -v promtool >/dev/null || fail "promtool missing (scripts/install-deps.sh installs prometheus)"
promtool check metrics <"$work/metrics.txt" || fail "promtool check metrics"
grep -q '^satisfy_http_model_info{version="1"' "$work/metrics.txt" || fail "model info metric"
grep -q '^satisfy_http_requests_total{class="4xx"} [1-9]' "$work/metrics.txt" || fail "4xx not counted"
# input drift: the largest PSI, a feature label and a finite value
grep -Eq '^satisfy_scorer_drift_psi_max\{feature="[a-z_]+"\} [0-9.e+-]+$' "$work/metrics.txt" ||
  fail "no finite satisfy_scorer_drift_psi_max{feature=...}: $(grep drift "$work/metrics.txt")"
grep -Eq '^satisfy_scorer_drift_psi\{feature="[a-z_]+"\} ' "$work/metrics.txt" || fail "no per-feature PSI gauge"
_drift_published() {
  c "$url/v1/drift" >"$work/drift.json" &&
    python3 -c 'import json,sys,math; d=json.load(sys.stdin); s=[x for x in d["scorers"] if x["scorer"]=="test"]; assert d["input"] and math.isfinite(d["input"]["psi_max"]) and s and s[0]["features"], d' <"$work/drift.json" 2>/dev/null
}
wait_for 30 "the scorer's PSI on satisfy.metrics in /v1/drift" _drift_published
stop_scorer
echo "web_api: ok"
