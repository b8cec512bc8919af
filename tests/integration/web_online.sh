#!/usr/bin/env bash
# web_online.sh - online accuracy in the web API: satisfy-scorer --http on
# satisfy-broker follows satisfy.metrics from the beginning (messages
# produced before it started count) and live. Online accuracy messages of two
# versions, produced with kcat, show up as points of GET /v1/online in event
# time order (a repeated event time replaces its point); a message that is
# not JSON and one whose key is not its version are counted and ignored.
# Also: GET /version answers like MLflow, the satisfy version is in
# X-Satisfy-Version and /v1/version.
source "$(dirname "$0")/scorer_common.bash"

command -v kcat >/dev/null || fail "kcat missing (scripts/install-deps.sh installs kcat)"
start_broker
produce() { # key, then messages on stdin, one a line
  timeout 30 kcat -P -b "$bs" -t satisfy.metrics -k "$1" 2>>"$work/kcat.err" ||
    fail "kcat -P key $1 failed"
}
m() { # version n rmse auc event_time
  printf '{"model_version":%s,"n":%s,"rmse":%s,"auc":%s,"window":1000,"total":%s,"event_time":%s}\n' \
    "$1" "$2" "$3" "$4" "$2" "$5"
}

# before the scorer: version 1, two points
{ m 1 100 1.20 0.70 1500000000000; m 1 200 1.10 0.72 1500086400000; } | produce 1

start_scorer scorer --http 127.0.0.1:0
wait_log scorer "serving /healthz and /metrics on port [1-9]" 30
port=$(sed -n 's/.*serving \/healthz and \/metrics on port \([0-9]*\).*/\1/p' "$work/scorer.err")
url="http://127.0.0.1:$port"
c() { curl -s --max-time 10 "$@"; }

# wait_messages N: until /v1/online has read N messages (30 s)
wait_messages() {
  local end=$((SECONDS + 30))
  while [ $SECONDS -lt $end ]; do
    c "$url/v1/online" >"$work/online.json" || true
    python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))["messages"] >= int(sys.argv[2]) else 1)' \
      "$work/online.json" "$1" 2>/dev/null && return 0
    sleep 0.3
  done
  fail "/v1/online did not read $1 messages in 30 s: $(cat "$work/online.json")"
}
wait_messages 2

# while it runs: more of version 1 (one repeating an event time), version 2, bad ones
{ m 1 300 1.00 0.74 1500172800000; m 1 300 0.95 0.75 1500172800000; } | produce 1
{ m 2 50 0.90 null 1500100000000; m 2 80 0.85 0.77 1500200000000; } | produce 2
echo 'this is not JSON' | produce 1
m 1 10 0.5 0.5 1500300000000 | produce 7
wait_messages 8

python3 - "$work/online.json" <<'PY' || fail "/v1/online: $(cat "$work/online.json")"
import json, sys
o = json.load(open(sys.argv[1]))
assert o["topic"] == "satisfy.metrics" and o["partitions"] >= 1, o
assert o["messages"] == 8 and o["bad_messages"] == 2, o
# the two bad ones are on different partitions: either may be the last read
assert o["last_bad"].startswith("satisfy.metrics ["), o
assert "key '7' is not model_version 1" in o["last_bad"] or "not JSON" in o["last_bad"], o
assert o["columns"] == ["event_time", "rmse", "auc", "n"], o
v = {s["model_version"]: s["points"] for s in o["versions"]}
assert sorted(v) == [1, 2], v
assert v[1] == [[1500000000000, 1.2, 0.7, 100], [1500086400000, 1.1, 0.72, 200],
                [1500172800000, 0.95, 0.75, 300]], v[1]
assert v[2] == [[1500100000000, 0.9, None, 50], [1500200000000, 0.85, 0.77, 80]], v[2]
PY
echo "/v1/online: $(python3 -c 'import json,sys; o=json.load(open(sys.argv[1])); print(o["messages"], "messages,", o["bad_messages"], "bad,", sum(len(s["points"]) for s in o["versions"]), "points")' "$work/online.json")"

c "$url/metrics" >"$work/metrics.txt"
grep -q '^satisfy_http_online_messages_total 8$' "$work/metrics.txt" &&
  grep -q '^satisfy_http_online_bad_messages_total 2$' "$work/metrics.txt" || fail "online counters in /metrics"

# MLflow's /version: the bare version string; satisfy's own elsewhere
curl -s -D "$work/version.h" --max-time 10 "$url/version" >"$work/version.body"
grep -Eq '^[0-9]+\.[0-9]+\.[0-9]+$' "$work/version.body" || fail "/version: '$(cat "$work/version.body")'"
grep -qi '^X-Satisfy-Version: [0-9]' "$work/version.h" || fail "no X-Satisfy-Version: $(cat "$work/version.h")"
c "$url/v1/version" | grep -q "\"mlflow\":\"$(cat "$work/version.body")\"" || fail "/v1/version"
stop_scorer
echo "web_online: ok"
