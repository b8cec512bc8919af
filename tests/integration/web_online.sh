#!/usr/bin/env bash
# web_online.sh - online accuracy in the web API: satisfy-scorer --http on
# satisfy-broker follows satisfy.metrics from the beginning (messages
# produced before it started count) and live. Online accuracy messages of two
# versions, produced with kcat, show up as points of GET /v1/online in event
# time order (a repeated event time replaces its point); a message that is
# not JSON and one whose key is not its version are counted and ignored.
# Also: GET /version answers like MLflow, the satisfy version is in
# X-Satisfy-Version and /v1/version. Then satisfy-retrainer run retrains
# twice on the same broker, once against the training mean (released) and
# once forced to reject (--margin 5): /v1/online and /v1/models list both
# gate decisions with the registry's released flag and reason, and the
# release, loaded by the scorer, appears in its timeline once.
source "$(dirname "$0")/scorer_common.bash"
not_sanitized "fuzz_metrics_json runs its parser under the sanitizers, web_api and web_browser the server"

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

# --- the retrainer's gate decisions: satisfy-retrainer run on two
# windows of data; the first retrain gates against the training mean, the
# second runs with --margin 5 (no candidate can gain 5 stars of RMSE) and so
# is rejected while the first is released. Each window is first consumed completely by a retrainer that
# cannot retrain yet (reviews may be read before their orders), then a
# restarted one retrains exactly once on the whole store. The page's JSON
# (/v1/online and /v1/models) must then list every registered run as a
# decision with the registry's released flag and reason, and show a release
# the scorer loaded once.
# the real sample, or 15,000 synthetic orders (with fewer the gate cannot
# tell a model from the mean, and nothing would be released)
if [ -n "${OLIST_DIR:-}" ]; then
  data="$OLIST_DIR"
else
  "$bin/satisfy-datagen" --orders 15000 --seed 11 --out "$work/data" >"$work/datagen.out" \
    2>"$work/datagen.err" || fail "satisfy-datagen failed"
  data="$work/data"
fi
w_events=0 w_reviews=0
produce_window() { # from to
  local out="$work/producer.$1.out"
  timeout 300 "$bin/satisfy-producer" --brokers "$bs" --data "$data" --speed 0 --no-progress \
    --from "$1" --to "$2" >"$out" 2>"$work/producer.err" || fail "satisfy-producer $1..$2 exited $?"
  grep -q "failures: 0$" "$out" || fail "producer failures: $(cat "$out")"
  w_events=$(awk '$1 == "satisfy.orders" { print $2 }' "$out")
  w_reviews=$(awk '$1 == "satisfy.reviews" { print $2 }' "$out")
}
stat_ge() { # field value: the retrainer's stats file shows field >= value
  [ -s "$work/rt.stats" ] &&
    python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))[sys.argv[2]] >= int(sys.argv[3]) else 1)' \
      "$work/rt.stats" "$1" "$2" 2>/dev/null
}
# run_retrainer NAME UNTIL-CONDITION [options]: runs until the condition
# holds (400 s at most), then stops it with SIGTERM (exit 0).
run_retrainer() {
  local name="$1" until="$2"
  shift 2
  rm -f "$work/rt.stats"
  timeout 600 "$bin/satisfy-retrainer" run --brokers "$bs" --registry "$work/registry.db" \
    --store "$work/store.db" --retrain-every 1 --quiet --stats-file "$work/rt.stats" "$@" \
    >"$work/$name.out" 2>"$work/$name.err" &
  local rpid=$!
  pids+=("$rpid")
  local end=$((SECONDS + 400))
  until eval "$until"; do
    [ $SECONDS -lt $end ] || fail "$name: not '$until' in 400 s: $(cat "$work/rt.stats" 2>/dev/null)"
    kill -0 "$rpid" 2>/dev/null || fail "$name: satisfy-retrainer exited"
    sleep 0.5
  done
  kill -TERM "$rpid"
  wait "$rpid" || fail "$name: exit status $? after SIGTERM"
}
window() { # from to [gate options]: consume the window, then retrain once
  produce_window "$1" "$2"
  shift 2
  run_retrainer "ingest.$n_win" "stat_ge order_events $w_events && stat_ge reviews $w_reviews" \
    --min-reviews 1000000000
  run_retrainer "retrain.$n_win" "stat_ge retrains 1" --min-reviews 1 "$@"
  grep -q 'retrains 1: released [01], rejected [01], failed 0' "$work/retrain.$n_win.err" ||
    fail "retrain.$n_win: $(grep 'stopped:' "$work/retrain.$n_win.err")"
  n_win=$((n_win + 1))
}
n_win=1
window 2016-01-01 2018-02-01
window 2018-02-01 2018-05-01 --margin 5
"$bin/satisfy-retrainer" registry list --registry "$work/registry.db" --json >"$work/list.json" ||
  fail "registry list failed"

# wait_decisions: until /v1/online lists as many decisions as the registry has runs
n_runs=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$work/list.json")
[ "$n_runs" = 2 ] || fail "$n_runs registered runs, want 2: $(cat "$work/list.json")"
end=$((SECONDS + 30))
until c "$url/v1/online" >"$work/online.json" &&
  python3 -c 'import json,sys; sys.exit(0 if len(json.load(open(sys.argv[1]))["decisions"]) >= 2 else 1)' "$work/online.json" 2>/dev/null; do
  [ $SECONDS -lt $end ] || fail "/v1/online lists no 2 decisions after 30 s: $(head -c 600 "$work/online.json")"
  sleep 0.3
done
# a release is loaded by the scorer's own watcher too: wait for its timeline entry
released=$(python3 -c 'import json,sys; print(" ".join(str(v["version"]) for v in json.load(open(sys.argv[1])) if v["status"] != "rejected"))' "$work/list.json")
for v in $released; do
  end=$((SECONDS + 60))
  until c "$url/v1/models" >"$work/models.json" &&
    python3 -c 'import json,sys; sys.exit(0 if any(e["event"] == "loaded" and e["version"] == int(sys.argv[2]) for e in json.load(open(sys.argv[1]))["timeline"]) else 1)' "$work/models.json" "$v" 2>/dev/null; do
    [ $SECONDS -lt $end ] || fail "release v$v never loaded by the HTTP watcher: $(head -c 600 "$work/models.json")"
    sleep 0.3
  done
done
c "$url/v1/models" >"$work/models.json"
python3 - "$work/online.json" "$work/models.json" "$work/list.json" <<'PY' || fail "decisions in the page's JSON"
import json, sys
online, models, reg = (json.load(open(p)) for p in sys.argv[1:4])
reg = {v["version"]: v for v in reg}
for src, ds in (("/v1/online", online["decisions"]), ("/v1/models", models["decisions"])):
    assert [d["version"] for d in ds] == sorted(reg), (src, [d["version"] for d in ds], sorted(reg))
    for d in ds:
        r = reg[d["version"]]
        assert d["released"] == (r["status"] != "rejected"), (src, d["version"], d["released"], r["status"])
        assert d["reason"] == r["reason"] and d["reason"].startswith(("released (", "rejected (")), (src, d, r)
        c, ref = d["candidate"], d["reference"]
        assert f"RMSE {c['rmse']:.4f} vs {ref['name']} {ref['rmse']:.4f}" in d["reason"], (src, d)
first, second = (online["decisions"][i] for i in (0, 1))
assert first["reference"]["name"] == "mean" and first["reference"]["version"] == 0, first
assert second["released"] is False and second["gate"]["margin"] == 5, second
assert "gain below margin" in second["reason"], second["reason"]
# on this much data (both datasets) the model clearly beats the mean
assert first["released"] is True, first["reason"]
assert second["reference"]["name"] == f"champion v{first['version']}", second
assert second["data_until"] > first["data_until"], (first["data_until"], second["data_until"])
assert online["bad_messages"] == 2, online["bad_messages"]  # the two produced above, no more
loaded = [e for e in models["timeline"] if e["event"] == "loaded"]
for d in online["decisions"]:
    n = sum(e["version"] == d["version"] for e in loaded)
    assert n == (1 if d["released"] else 0), (d["version"], d["released"], models["timeline"])
for d in online["decisions"]:
    print(f"  decision v{d['version']}: {'RELEASED' if d['released'] else 'REJECTED'}, "
          f"RMSE {d['candidate']['rmse']:.4f} vs {d['reference']['rmse']:.4f} ({d['reference']['name']}), "
          f"holdout {d['holdout_orders']} orders")
PY
stop_scorer
echo "web_online: ok"
