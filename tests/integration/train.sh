#!/usr/bin/env bash
# train.sh - the batch pipeline end to end: satisfy-retrainer train on the
# real Olist sample (OLIST_DIR) or, without it, on a generated dataset; checks
# the JSON report (gbdt beats the seed baseline and the mean at the delivered
# stage, AUC > 0.65, first model released against the mean row), then trains
# again on the same data and checks that the second model is rejected (no
# significant gain) and recorded with its reason; registry list/show --json
# parse; usage errors exit 2 and a missing version exits 1 with its message.
set -euo pipefail

BIN=${SATISFY_BIN_DIR:?SATISFY_BIN_DIR not set}
RT=$BIN/satisfy-retrainer
PY=/usr/bin/python3
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

if [[ -n "${OLIST_DIR:-}" ]]; then
    DATA=$OLIST_DIR
elif [[ -x $BIN/satisfy-datagen ]]; then
    DATA=$WORK/data
    "$BIN/satisfy-datagen" --orders 20000 --seed 3 --out "$DATA" >/dev/null
else
    fail "neither OLIST_DIR nor $BIN/satisfy-datagen is available: no data to train on"
fi
echo "data: $DATA"

REG=$WORK/registry.db
"$RT" train --data "$DATA" --registry "$REG" --threads 2 --report "$WORK/r1.json" \
    | tee "$WORK/out1.txt"
grep -q "gate: RELEASED" "$WORK/out1.txt" || fail "first run not released"

$PY - "$WORK/r1.json" <<'PYEOF'
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
"$RT" train --data "$DATA" --registry "$REG" --threads 2 --report "$WORK/r2.json" \
    | tee "$WORK/out2.txt"
grep -q "gate: REJECTED" "$WORK/out2.txt" || fail "second run not rejected"
grep -q "champion v1" "$WORK/out2.txt" || fail "second run does not show the champion row"

"$RT" registry list --registry "$REG" --json >"$WORK/list.json"
"$RT" registry list --registry "$REG" | tee "$WORK/list.txt"
"$RT" registry show 2 --registry "$REG" --json >"$WORK/show.json"
"$RT" registry show 2 --registry "$REG" >"$WORK/show.txt"
grep -q "^status *rejected" "$WORK/show.txt" || fail "registry show 2 table has no rejected status"

$PY - "$WORK/r2.json" "$WORK/list.json" "$WORK/show.json" <<'PYEOF'
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

# Errors: usage (2) and a missing version (1) with its message.
set +e
"$RT" train --registry "$REG" 2>"$WORK/e1.txt"; rc1=$?
"$RT" registry show 99 --registry "$REG" 2>"$WORK/e2.txt"; rc2=$?
"$RT" train --data "$WORK/nowhere" --registry "$REG" 2>"$WORK/e3.txt"; rc3=$?
set -e
[[ $rc1 == 2 ]] && grep -q -- "--data and --registry are required" "$WORK/e1.txt" \
    || fail "missing --data: rc $rc1"
[[ $rc2 == 1 ]] && grep -q "no version 99" "$WORK/e2.txt" || fail "show 99: rc $rc2"
[[ $rc3 == 1 ]] && grep -q "nowhere" "$WORK/e3.txt" || fail "missing data dir: rc $rc3"
echo "train.sh: ok"
