#!/usr/bin/env bash
# bench_predict.sh - batched predict with top-3 reasons on one core, against
# XGBoosterPredictFromDMatrix (no reasons) in the same run. Uses OLIST_DIR's
# real sample when set, else synthetic rows. Prints a markdown section.
set -euo pipefail
bin="${SATISFY_BIN_DIR:?SATISFY_BIN_DIR must point at the bin directory of a build}"
export OMP_WAIT_POLICY=passive
taskset -c 0 "$bin/bench_predict" "${BENCH_PREDICT_ROWS:-200000}"
