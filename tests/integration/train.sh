#!/usr/bin/env bash
# train.sh - the batch pipeline end to end: satisfy-retrainer train on the
# real Olist sample (OLIST_DIR) or, without it, on a generated dataset; checks
# the JSON report (gbdt beats the seed baseline and the mean at the delivered
# stage, AUC > 0.65, first model released against the mean row), then trains
# again on the same data and checks that the second model is rejected (no
# significant gain) and recorded with its reason; registry list/show --json
# parse; usage errors exit 2 and a missing version exits 1 with its message.
source "$(dirname "$0")/common.bash"
RT=$bin/satisfy-retrainer
PY=/usr/bin/python3

use_data 20000 3

REG=$work/registry.db
"$RT" train --data "$data" --registry "$REG" --threads 2 --report "$work/r1.json" \
    | tee "$work/out1.txt"
grep -q "gate: RELEASED" "$work/out1.txt" || fail "first run not released"

$PY - "$work/r1.json" <<'PYEOF'
import json, sys
r = json.load(open(sys.argv[1]))
rows = r["rows"]
for name in ("mean", "seed", "ridge", "gbdt"):
    assert name in rows, f"row {name} missing from the report"
    for stage in ("PURCHASED", "DELIVERED", "ALL"):
        m = rows[name]["stages"][stage]
        for k in ("rmse", "mae", "r2", "auc", "pr_auc", "n"):
            assert k in m, f"{name}/{stage}: {k} missing"
        assert m["n"] > 0, f"{name}/{stage}: no rows"
d = {n: rows[n]["stages"]["DELIVERED"] for n in rows}
print("delivered rmse: " + ", ".join(f"{n} {d[n]['rmse']:.4f}" for n in d))
print(f"delivered gbdt auc {d['gbdt']['auc']:.4f}, purchased gbdt auc "
      f"{rows['gbdt']['stages']['PURCHASED']['auc']:.4f}")
assert d["gbdt"]["rmse"] < d["seed"]["rmse"], "gbdt does not beat the seed baseline at DELIVERED"
assert d["gbdt"]["rmse"] < d["mean"]["rmse"], "gbdt does not beat the mean at DELIVERED"
assert d["gbdt"]["auc"] > 0.65, f"gbdt DELIVERED AUC {d['gbdt']['auc']} <= 0.65"
assert r["candidate"] == "gbdt"
assert r["released"] is True and r["version"] == 1 and r["champion_before"] == 0
g = r["gate"]
assert g["reference"] == "mean" and g["boot_lower"] > 0 and g["gain"] >= g["margin"]
assert g["reason"].startswith("released"), g["reason"]
assert r["data"]["test_orders"] > 0 and r["data"]["train_orders"] > r["data"]["test_orders"]
for s in ("ingest", "features", "train", "evaluate", "gate", "register"):
    assert r["seconds"][s] >= 0
PYEOF

# Same data again: the new model is not significantly better than the champion.
"$RT" train --data "$data" --registry "$REG" --threads 2 --report "$work/r2.json" \
    | tee "$work/out2.txt"
grep -q "gate: REJECTED" "$work/out2.txt" || fail "second run not rejected"
grep -q "champion v1" "$work/out2.txt" || fail "second run does not show the champion row"

"$RT" registry list --registry "$REG" --json >"$work/list.json"
"$RT" registry list --registry "$REG" | tee "$work/list.txt"
"$RT" registry show 2 --registry "$REG" --json >"$work/show.json"
"$RT" registry show 2 --registry "$REG" >"$work/show.txt"
grep -q "^status *rejected" "$work/show.txt" || fail "registry show 2 table has no rejected status"

$PY - "$work/r2.json" "$work/list.json" "$work/show.json" <<'PYEOF'
import json, sys
r2 = json.load(open(sys.argv[1]))
lst = json.load(open(sys.argv[2]))
show = json.load(open(sys.argv[3]))
assert r2["released"] is False and r2["version"] == 2 and r2["champion_before"] == 1
assert "champion v1" in r2["rows"], "champion row missing from the second report"
g = r2["gate"]
assert g["has_champion"] and g["reference"] == "champion v1"
assert not (g["boot_lower"] > 0 and g["gain"] >= g["margin"]), "gate numbers say release"
print("second run:", g["reason"])
by = {v["version"]: v for v in lst}
assert set(by) == {1, 2}, by.keys()
assert by[1]["status"] == "champion" and by[1]["champion"] is True
assert by[2]["status"] == "rejected" and by[2]["reason"].startswith("rejected")
assert "RMSE" in by[2]["reason"] and "bootstrap" in by[2]["reason"]
assert show["version"] == 2 and show["run"]["status"] == "finished"
models = {(m["model"], m["stage"]) for m in show["run_metrics"]}
for row in ("mean", "seed", "ridge", "gbdt", "champion"):
    assert (row, "DELIVERED") in models, f"{row} DELIVERED missing from run_metrics"
assert set(show["steps"]) == {"ingest", "features", "train", "evaluate", "gate", "register"}
PYEOF

# Errors: usage (2), with the option, value and range of a bad number, and a
# missing version or data directory (1) with its message.
expect_status 2 "--data and --registry are required" "$RT" train --registry "$REG"
expect_status 2 '--holdout: "0.95" is out of range; expected a number in \[0.01, 0.9\]' \
    "$RT" train --data "$data" --registry "$REG" --holdout 0.95
expect_status 2 '--threads: "two" is not an integer; expected an integer in 1..256' \
    "$RT" train --data "$data" --registry "$REG" --threads two
expect_status 2 'registry show: "2x" has "x" after the number; expected a positive integer' \
    "$RT" registry show 2x --registry "$REG"
expect_status 1 "no version 99" "$RT" registry show 99 --registry "$REG"
expect_status 1 "nowhere" "$RT" train --data "$work/nowhere" --registry "$REG"
echo "train.sh: ok"
