#!/usr/bin/env bash
# scripts/train_window_choice.sh - the experiment behind the default of
# `satisfy-retrainer run --train-window` (docs/model.md, "Training window").
#
# For each window (DAYS, 0 = every order) and seed it runs `satisfy-retrainer
# train --train-window DAYS` on $OLIST_DIR into a fresh registry (no champion:
# the gate compares against the mean row) and prints the candidate's holdout
# RMSE and AUC (ALL rows). Two holdouts:
#   own     the gate's holdout as a retrain makes it: the most recent 20% of
#           the window's labeled orders (so it differs between windows);
#   common  the same orders for every window: the own holdout of the
#           smallest window (the first of WINDOWS), which is the most recent
#           part of every larger window, selected by passing each window the
#           --holdout share that picks exactly those orders; every window then
#           trains on its orders before the same cut.
# Usage: scripts/train_window_choice.sh BIN_DIR [SEEDS] [WINDOWS]
set -euo pipefail
bin="${1:?usage: $0 BIN_DIR [SEEDS] [WINDOWS]}"
seeds="${2:-1 2 3 4 5}"
windows="${3:-90 180 270 365 0}"
data="${OLIST_DIR:?set OLIST_DIR to the real Olist sample}"
export OMP_WAIT_POLICY=passive
work="$(mktemp -d "${TMPDIR:-/tmp}/window_choice.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# run DAYS SEED HOLDOUT -> "labeled test_orders rmse auc"
run() {
  rm -f "$work/r.db"*
  nice "$bin/satisfy-retrainer" train --data "$data" --registry "$work/r.db" --quiet \
    --train-window "$1" --seed "$2" --holdout "$3" --report "$work/rep.json" 2>/dev/null
  python3 - "$work/rep.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
a = j["rows"][j["candidate"]]["stages"]["ALL"]
print(j["data"]["labeled_orders"], j["data"]["test_orders"], "%.4f" % a["rmse"], "%.4f" % a["auc"])
PY
}

first="${windows%% *}"
read -r n_first test_all _ < <(run "$first" 1 0.2)
echo "window $first: $n_first labeled orders; common holdout: its most recent $test_all"
printf '%-6s %-5s %-8s %-8s %-8s %-8s %-8s %-8s\n' window seed labeled own_n own_rmse own_auc com_rmse com_auc
for w in $windows; do
  for s in $seeds; do
    read -r n own_n own_rmse own_auc < <(run "$w" "$s" 0.2)
    frac=$(python3 -c "print(min(0.9, ($test_all - 0.5) / $n))")
    read -r _ com_n com_rmse com_auc < <(run "$w" "$s" "$frac")
    [ "$com_n" = "$test_all" ] || { echo "window $w: common holdout has $com_n orders, not $test_all" >&2; exit 1; }
    printf '%-6s %-5s %-8s %-8s %-8s %-8s %-8s %-8s\n' "$w" "$s" "$n" "$own_n" "$own_rmse" "$own_auc" "$com_rmse" "$com_auc"
  done
done
