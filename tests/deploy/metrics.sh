#!/usr/bin/env bash
# metrics.sh - the Grafana dashboard (deploy/grafana/satisfy.json) and the
# alert rules (deploy/prometheus/alerts.yml) against a live scorer:
#   1. satisfy-broker, satisfy-retrainer run, satisfy-scorer (--http on a free
#      127.0.0.1 port) and satisfy-producer on a generated dataset, until the
#      scorer has a released model and has scored events, then until it
#      exports online accuracy (satisfy_online_rmse) and a released version's
#      holdout RMSE (satisfy_model_holdout_rmse), each bounded;
#   2. every metric named by a dashboard query or an alert rule must be in the
#      scorer's GET /metrics (Prometheus's own `up` and the rule file's
#      recording rules aside) - a negative control adds an unknown name and
#      must be caught;
#   3. Prometheus (on 127.0.0.1) scrapes that scorer every second with the
#      alert rules loaded: every dashboard query returns data, every rule
#      evaluates without error, and none of the alerts fires on this healthy
#      scorer except the ones that must (none);
#   4. the JSON-API panel (gate decisions): its root and column selectors
#      exist in the scorer's GET /v1/online.
source "$(dirname "$0")/lib.bash"
command -v prometheus >/dev/null || die "prometheus missing: apt-get install prometheus"

# ---- 1. a small live pipeline -------------------------------------------------
if [ -n "${OLIST_DIR:-}" ]; then
  data="$OLIST_DIR"
else
  data="$work/data"
  "$bin/satisfy-datagen" --orders 6000 --seed 1 --out "$data" >/dev/null 2>"$work/datagen.err" ||
    die "satisfy-datagen failed: $(tail -3 "$work/datagen.err")"
fi
timeout 600 "$bin/satisfy-broker" --partitions 4 --bootstrap-file "$work/bootstrap" >"$work/broker.out" 2>"$work/broker.err" &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/bootstrap" ] && break; sleep 0.1; done
[ -s "$work/bootstrap" ] || die "satisfy-broker did not start: $(tail -3 "$work/broker.err")"
bs="$(cat "$work/bootstrap")"
port=$(free_port)
# One release, v1: the first retrain comes after 60 % of the dataset's reviews
# and the other 40 % cannot make a second. The scorer consumes nothing before
# it (it waits for a model), so every event is scored by the version it then
# serves and that version gets online accuracy; a release made after the
# replay was scored never would, and the online panels and the alert would
# have no data for the served version.
reviews=$("$PY" - "$data" <<'PYEOF'
import csv, glob, gzip, sys
f = sorted(glob.glob(sys.argv[1] + "/olist_order_reviews_dataset.csv*"))[0]
with (gzip.open if f.endswith(".gz") else open)(f, "rt", newline="") as fh:
    print(sum(1 for _ in csv.reader(fh)) - 1)
PYEOF
)
every=$((reviews * 6 / 10))
[ "$every" -ge 1000 ] || die "only $reviews reviews in $data: too few for a retrain at 60 %"
timeout 600 "$bin/satisfy-retrainer" run --brokers "$bs" --registry "$work/registry.db" \
  --retrain-every "$every" --min-reviews 1000 >"$work/retrainer.out" 2>"$work/retrainer.err" &
pids+=($!)
timeout 600 "$bin/satisfy-scorer" --brokers "$bs" --instance-id metrics --http "127.0.0.1:$port" \
  >"$work/scorer.out" 2>"$work/scorer.err" &
pids+=($!)
timeout 300 "$bin/satisfy-producer" --brokers "$bs" --data "$data" --speed 4000000 --no-progress \
  >"$work/producer.out" 2>"$work/producer.err" || die "satisfy-producer failed: $(tail -3 "$work/producer.err")"

metric() { curl -s --max-time 5 "http://127.0.0.1:$port/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
ok=0
for _ in $(seq 360); do # up to 180 s
  v=$(metric satisfy_scorer_model_version || true)
  e=$(metric satisfy_scorer_events_total || true)
  if [ "${v:-0}" -gt 0 ] 2>/dev/null && [ "${e:-0}" -gt 0 ] 2>/dev/null; then ok=1; break; fi
  sleep 0.5
done
[ "$ok" = 1 ] || die "no model or no events after 180 s: $(grep -v CONFWARN "$work/scorer.err" | tail -3; tail -3 "$work/retrainer.err")"
# The online accuracy gauges appear once the retrainer has joined reviews with
# predictions of a released version and published them on satisfy.metrics,
# the holdout RMSE once the scorer has read that version's decision: wait
# until the version the scorer serves has all three (the online panels and the
# alert join them on it), up to 240 s. The AUC needs both classes among the
# joined pairs (a satisfied and a dissatisfied review): the first few pairs
# may all be one class, slowly so under the sanitizers.
served() { sed -n 's/^satisfy_http_model_info{version="\([0-9]*\)".*/\1/p' "$work/metrics.txt"; }
has() { grep -q "^$1{model_version=\"$2\"} " "$work/metrics.txt"; }
ok=0
for _ in $(seq 480); do
  curl -s --max-time 5 "http://127.0.0.1:$port/metrics" >"$work/metrics.txt" || true
  sv=$(served)
  if [ -n "$sv" ] && has satisfy_online_rmse "$sv" && has satisfy_online_auc "$sv" &&
    has satisfy_model_holdout_rmse "$sv"; then
    ok=1
    break
  fi
  sleep 0.5
done
if [ "$ok" != 1 ]; then
  missing=""
  for m in satisfy_online_rmse satisfy_online_auc satisfy_model_holdout_rmse; do has $m "$sv" || missing+=" $m"; done
  die "after 240 s the scorer serves version '${sv}' and exports no${missing} for it: the retrainer published no online accuracy or no decision for it on satisfy.metrics ($(grep -E '^satisfy_(online_rmse|online_auc|online_pairs|model_holdout_rmse)\{|^satisfy_http_online_(bad_)?messages_total ' "$work/metrics.txt" | tr '\n' ' ')); retrainer: $(tail -3 "$work/retrainer.err")"
fi
v=$(awk '$1 == "satisfy_scorer_model_version" { print $2 }' "$work/metrics.txt")
e=$(awk '$1 == "satisfy_scorer_events_total" { print $2 }' "$work/metrics.txt")
curl -s --max-time 5 "http://127.0.0.1:$port/v1/online" >"$work/online.json"
echo "live scorer: model v$v, $e events scored; online accuracy and holdout RMSE:"
grep -E '^satisfy_(online_[a-z]+|model_holdout_rmse)\{' "$work/metrics.txt" | sed 's/^/  /'

# ---- 2. names ------------------------------------------------------------------
check_names() { # DASHBOARD ALERTS
  "$PY" - "$src/tests/deploy" "$1" "$2" "$work/metrics.txt" <<'PYEOF'
import sys
sys.path.insert(0, sys.argv[1])
import promql
prom, inf = promql.dashboard(sys.argv[2])
exprs = [("dashboard: " + t, e) for t, e in prom] + [("alert " + a, e) for a, e in promql.alert_exprs(sys.argv[3])]
# a recording rule's name counts as exported: its own expression is checked
have = promql.exported(open(sys.argv[4]).read()) | promql.PROMETHEUS_OWN | promql.recorded(sys.argv[3])
bad = []
used = set()
for where, e in exprs:
    names = promql.metric_names(e)
    if not names and not promql.constant(e):
        bad.append("%s: no metric name found in %r" % (where, e))
    used |= names
    bad += ["%s: %s is not exported by the scorer" % (where, n) for n in sorted(names - have)]
for b in bad:
    print("  " + b)
print("%d expressions, %d metric names: %s" % (len(exprs), len(used), " ".join(sorted(used))))
sys.exit(1 if bad else 0)
PYEOF
}
check_names "$src/deploy/grafana/satisfy.json" "$src/deploy/prometheus/alerts.yml" ||
  die "the dashboard or the alerts name metrics the scorer does not export"
sed 's/satisfy_scorer_consumer_lag{/satisfy_scorer_consumer_lagg{/' "$src/deploy/grafana/satisfy.json" >"$work/neg.json"
if check_names "$work/neg.json" "$src/deploy/prometheus/alerts.yml" >"$work/neg.log" 2>&1; then
  die "negative control: a misspelt metric in the dashboard was not caught"
fi
grep -q "satisfy_scorer_consumer_lagg is not exported" "$work/neg.log" || die "negative control: $(cat "$work/neg.log")"

# ---- 3. Prometheus runs every query against the scorer ----------------------------
pport=$(free_port)
mkdir -p "$work/prom"
cp "$src/deploy/prometheus/alerts.yml" "$work/prom/"
sed -e 's/scrape_interval: 15s/scrape_interval: 1s/' -e 's/evaluation_interval: 15s/evaluation_interval: 1s/' \
  -e "s/targets: \[.*\]/targets: [\"127.0.0.1:$port\"]/" "$src/deploy/prometheus/prometheus.yml" >"$work/prom/prometheus.yml"
grep -q "127.0.0.1:$port" "$work/prom/prometheus.yml" || die "could not point prometheus.yml at the scorer"
timeout 300 prometheus --config.file="$work/prom/prometheus.yml" --storage.tsdb.path="$work/prom/data" \
  --web.listen-address="127.0.0.1:$pport" >"$work/prometheus.out" 2>"$work/prometheus.err" &
pids+=($!)
"$PY" - "$src/tests/deploy" "$src/deploy/grafana/satisfy.json" "$pport" <<'PYEOF' || die "Prometheus did not answer every dashboard query with data"
import json, sys, time, urllib.parse, urllib.request
sys.path.insert(0, sys.argv[1])
import promql
base = "http://127.0.0.1:%s/api/v1/" % sys.argv[3]

def get(path):
    with urllib.request.urlopen(base + path, timeout=5) as r:
        return json.load(r)

def query(e):
    return get("query?" + urllib.parse.urlencode({"query": promql.grafana_vars(e)}))["data"]["result"]

end = time.time() + 60
while True:  # Prometheus up, the scorer scraped several times (rate() needs 2 samples)
    try:
        if len(query("up[30s]")[0]["values"]) >= 5:
            break
    except Exception:
        pass
    if time.time() > end:
        sys.exit("FAIL: Prometheus did not scrape the scorer 5 times within 60 s")
    time.sleep(0.5)
prom, _ = promql.dashboard(sys.argv[2])
bad = 0
for title, e in prom:
    res = query(e)
    print("  %-34s %2d series  %s" % (title[:34], len(res), e[:90]))
    if not res:
        bad += 1
        print("    FAIL: no data")
# the rules judged on what is there now: wait (bounded) until every rule has
# been evaluated again since the queries above (its lastEvaluation moved on)
def evaluated(groups):
    return [r.get("lastEvaluation") for g in groups for r in g["rules"]]
seen = evaluated(get("rules")["data"]["groups"])
end = time.time() + 60
while True:
    rules = get("rules")["data"]["groups"]
    now = evaluated(rules)
    if now and len(now) == len(seen) and all(a != b for a, b in zip(now, seen)):
        break
    if time.time() > end:
        sys.exit("FAIL: not every rule was evaluated again within 60 s: %s -> %s" % (seen, now))
    time.sleep(0.2)
for g in rules:
    for r in g["rules"]:
        if r.get("health") != "ok":
            bad += 1
            print("  FAIL: rule %s health %s: %s" % (r["name"], r.get("health"), r.get("lastError")))
        if r.get("state") not in (None, "inactive"):
            bad += 1
            print("  FAIL: alert %s is %s on a healthy scorer" % (r["name"], r.get("state")))
print("%d rules evaluated" % sum(len(g["rules"]) for g in rules))
sys.exit(1 if bad else 0)
PYEOF

# ---- 4. JSON-API panels ----------------------------------------------------------------
"$PY" - "$src/tests/deploy" "$src/deploy/grafana/satisfy.json" "$work/online.json" <<'PYEOF' || die "a JSON-API panel reads a field /v1/online does not have"
import json, sys
sys.path.insert(0, sys.argv[1])
import promql
_, inf = promql.dashboard(sys.argv[2])
online = json.load(open(sys.argv[3]))
bad = 0
if not inf:
    sys.exit("FAIL: no JSON-API panel found")
for title, t in inf:
    if t.get("url") != "/v1/online":
        bad += 1
        print("  FAIL: %s reads %s; only /v1/online is checked" % (title, t.get("url")))
        continue
    rows = promql.select(online, t["root_selector"])
    if not isinstance(rows, list):
        bad += 1
        print("  FAIL: %s: %s is not a list" % (title, t["root_selector"]))
        continue
    if t["root_selector"] == "decisions" and not rows:
        bad += 1
        print("  FAIL: no gate decision in /v1/online after a retrain")
    for c in t["columns"]:
        for row in rows:
            try:
                promql.select(row, c["selector"])
            except (KeyError, TypeError):
                bad += 1
                print("  FAIL: %s: column %s missing in a row of %s" % (title, c["selector"], t["root_selector"]))
                break
    print("  %-36s %d rows of %s, columns %s" % (title, len(rows), t["root_selector"],
                                                 ", ".join(c["selector"] for c in t["columns"])))
sys.exit(1 if bad else 0)
PYEOF
echo "metrics: dashboard and alerts use only exported metrics; every query has data"
