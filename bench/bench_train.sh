#!/usr/bin/env bash
# bench_train.sh - GBDT training: satisfy's C path against python3-xgboost
# (Debian, /usr/bin/python3) on the very same matrix, in the same run.
#
# Data: a generated dataset (satisfy-datagen --orders N --seed 1 --gzip, N =
# BENCH_TRAIN_ORDERS, default 100000), reused from $BENCH_OUT/olist-train-N
# when already there, or the directory BENCH_TRAIN_DATA. bench_train builds the "full" feature rows of every stage, splits
# them by purchase time (newest 15% of orders = validation), exports rows,
# labels and the XGBoost params, and times sf_model_train (score and 1-2 star
# objectives, fixed rounds, early stopping off). train_xgb.py does the same
# two trainings on the exported files. Both sides: the same params, nthread,
# rounds, validation evaluation every round, OMP_WAIT_POLICY=passive from
# process start. Runs alternate (C, Python, Python with a QuantileDMatrix
# for the training rows as our C path builds, C, ...); the best of each counts.
# Env: SATISFY_BIN_DIR (required), SATISFY_SOURCE_DIR, BENCH_OUT (default
# /tmp), BENCH_TRAIN_ROUNDS (default 300), BENCH_TRAIN_RUNS (default 2),
# BENCH_TRAIN_NTHREAD (default 2), BENCH_TRAIN_ORDERS, BENCH_TRAIN_DATA.
set -euo pipefail
bin="${SATISFY_BIN_DIR:?set SATISFY_BIN_DIR to the bin directory of a build}"
here="$(cd "$(dirname "$0")" && pwd)"
out="${BENCH_OUT:-/tmp}"
rounds="${BENCH_TRAIN_ROUNDS:-300}"
runs="${BENCH_TRAIN_RUNS:-2}"
nthread="${BENCH_TRAIN_NTHREAD:-2}"
py=/usr/bin/python3 # Debian's python3-xgboost, not a pyenv python on PATH
export OMP_WAIT_POLICY=passive

if ! "$py" -c 'import xgboost, numpy' 2>/dev/null; then
  echo "bench_train.sh: $py cannot import xgboost and numpy (apt-get install python3-xgboost)" >&2
  exit 1
fi
orders="${BENCH_TRAIN_ORDERS:-100000}"
data="${BENCH_TRAIN_DATA:-$out/olist-train-$orders}"
if [ ! -s "$data/olist_orders_dataset.csv.gz" ]; then
  rm -rf "$data.tmp"
  "$bin/satisfy-datagen" --orders "$orders" --seed 1 --out "$data.tmp" --gzip >/dev/null
  rm -rf "$data" && mv "$data.tmp" "$data"
fi
exp="$(mktemp -d "${TMPDIR:-/tmp}/bench_train.XXXXXX")"
trap 'rm -rf "$exp"' EXIT

# value of key k in a "k=v k=v" line (the last occurrence)
kv() { tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p" | tail -1; }
best() { tr " " "\n" | grep -v "^$" | sort -g | head -1; }

c_times="" py_times="" pq_times="" c_line="" py_line="" pq_line=""
for _ in $(seq "$runs"); do
  c_line=$("$bin/bench_train" "$data" "$exp" "$rounds" 1 "$nthread")
  c_times="$c_times $(kv train_s "$c_line")"
  py_line=$("$py" "$here/train_xgb.py" "$exp" 1)
  py_times="$py_times $(kv train_s "$py_line")"
  pq_line=$("$py" "$here/train_xgb.py" "$exp" 1 quantile)
  pq_times="$pq_times $(kv train_s "$pq_line")"
done
c_best=$(best <<<"$c_times")
py_best=$(best <<<"$py_times")
pq_best=$(best <<<"$pq_times")
ratio=$(echo "$c_best / $py_best" | bc -l)
ratio_q=$(echo "$c_best / $pq_best" | bc -l)

printf '## GBDT training: satisfy (C, XGBoost C API) vs python3-xgboost\n\n'
printf 'Data: satisfy-datagen --orders %s --seed 1; %s orders, %s feature rows (all stages, "full" spec, %s features): %s training rows, %s validation rows (newest 15%% of orders by purchase time). ' \
  "$orders" "$(kv orders "$c_line")" "$(kv rows "$c_line")" "$(kv d "$c_line")" "$(kv train "$c_line")" "$(kv valid "$c_line")"
printf 'Both sides train the score model (reg:squarederror) and the 1-2 star model (binary:logistic) with the same params (tree_method=hist, depth 4, eta 0.1, min_child_weight 5, subsample 0.8, colsample 0.8, max_bin 256, seed 42), %s rounds each (early stopping off), nthread=%s, the validation rows evaluated every round, OMP_WAIT_POLICY=passive. Timed: matrix creation + boosting (+ on our side, our tree copies and the probability calibration); not timed: loading and features (%ss + %ss on our side), reading the exported files in Python. Best of %s alternating runs.\n\n' \
  "$rounds" "$nthread" "$(kv load_s "$c_line")" "$(kv features_s "$c_line")" "$runs"
printf '| path | seconds (best) | runs | valid RMSE (best round) | trees kept | 1-2 star AUC |\n|---|---:|---|---:|---:|---:|\n'
printf '| python3-xgboost %s (baseline) | %.2f | %s | %s | %s | %s |\n' "$(kv xgboost "$py_line")" \
  "$py_best" "$(echo $py_times | tr ' ' ',')" "$(kv valid_rmse "$py_line")" "$(kv trees "$py_line")" \
  "$(kv valid_auc_binary "$py_line")"
printf '| python3-xgboost, QuantileDMatrix for the training rows | %.2f | %s | %s | %s | %s |\n' \
  "$pq_best" "$(echo $pq_times | tr ' ' ',')" "$(kv valid_rmse "$pq_line")" "$(kv trees "$pq_line")" \
  "$(kv valid_auc_binary "$pq_line")"
printf '| satisfy sf_model_train (C) | %.2f | %s | %s | %s | %s |\n' "$c_best" \
  "$(echo $c_times | tr ' ' ',')" "$(kv valid_rmse "$c_line")" "$(kv trees "$c_line")" \
  "$(kv valid_auc_binary "$c_line")"
printf '| **ratio satisfy / python** (goal <= 1.0) | **%.2f** | | | | |\n' "$ratio"
printf '| ratio satisfy / python with QuantileDMatrix | %.2f | | | | |\n\n' "$ratio_q"
printf 'Equal validation metrics on both rows mean both sides trained the same trees.\n\n'
