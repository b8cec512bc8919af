#!/usr/bin/env bash
# rules.sh - deploy/prometheus: the alert rules and the scrape configuration
# load (`promtool check rules`, `promtool check config`), and every alert
# fires on the series built to break it and stays silent on healthy ones
# (`promtool test rules deploy/prometheus/alerts_test.yml`). Negative
# controls make sure a broken rule file (the DLQ threshold, the online RMSE
# margin) is refused, so a pass means something.
source "$(dirname "$0")/lib.bash"
command -v promtool >/dev/null || die "promtool missing: apt-get install prometheus (scripts/install-deps.sh test)"
p="$src/deploy/prometheus"

promtool check rules "$p/alerts.yml" || die "promtool check rules alerts.yml"
promtool check config "$p/prometheus.yml" || die "promtool check config prometheus.yml"
promtool test rules "$p/alerts_test.yml" || die "promtool test rules alerts_test.yml"

# every alert of alerts.yml has a test case that expects it to fire
"$PY" - "$p/alerts.yml" "$p/alerts_test.yml" <<'PYEOF' || die "an alert without a firing test"
import sys, yaml
rules = [r["alert"] for g in yaml.safe_load(open(sys.argv[1]))["groups"] for r in g["rules"] if "alert" in r]
fired = {t["alertname"] for case in yaml.safe_load(open(sys.argv[2]))["tests"]
         for t in case.get("alert_rule_test", []) if t.get("exp_alerts")}
missing = [r for r in rules if r not in fired]
print("alerts: %d, each with a firing test case" % len(rules) if not missing else "untested: %s" % missing)
sys.exit(1 if missing else 0)
PYEOF

# negative control: a threshold changed in alerts.yml breaks its test
mkdir -p "$work/neg"
sed 's/increase(satisfy_scorer_dlq_total\[5m\]) > 0/increase(satisfy_scorer_dlq_total[5m]) > 5/' \
  "$p/alerts.yml" >"$work/neg/alerts.yml"
cp "$p/alerts_test.yml" "$work/neg/"
cmp -s "$p/alerts.yml" "$work/neg/alerts.yml" && die "negative control: sed changed nothing"
if promtool test rules "$work/neg/alerts_test.yml" >"$work/neg.log" 2>&1; then
  die "negative control: promtool test rules passed with a broken DLQ rule"
fi
# negative control: the configured online RMSE margin is what the test checks
# (at 0, the served version within the margin fires)
mkdir -p "$work/neg2"
cp "$p/alerts_test.yml" "$work/neg2/"
"$PY" - "$p/alerts.yml" "$work/neg2/alerts.yml" <<'PYEOF' || die "negative control: no recording rule satisfy:online_rmse_margin"
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
rules = [r for g in doc["groups"] for r in g["rules"] if r.get("record") == "satisfy:online_rmse_margin"]
if len(rules) != 1:
    sys.exit("satisfy:online_rmse_margin: %d recording rules" % len(rules))
rules[0]["expr"] = "vector(0)"
yaml.safe_dump(doc, open(sys.argv[2], "w"), sort_keys=False)
PYEOF
if promtool test rules "$work/neg2/alerts_test.yml" >"$work/neg2.log" 2>&1; then
  die "negative control: promtool test rules passed with the online RMSE margin at 0"
fi
echo "rules: promtool check and test pass; a broken rule and a changed margin are caught"
