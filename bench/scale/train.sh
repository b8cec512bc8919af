#!/usr/bin/env bash
# scale/train.sh - batch training at 100k and one million orders: wall
# time, its steps, peak RSS and release size of `satisfy-retrainer train`,
# for the code before the scale work (commit 75adabd) and this build, in the
# same run; then the GBDT training against python3-xgboost on the 1M matrix
# (bench_train.sh) and the replay of 1M orders (bench_produce.sh). Prints a
# markdown section (docs/benchmarks.md, "Scale: one million orders").
#
# Data: satisfy-datagen --orders N --seed 1 --gzip into a temporary
# directory, removed at exit (never committed). Each size runs before, after,
# before, ... (BENCH_SCALE_RUNS rounds, default 1), one at a time, nice'd,
# --threads 2, OMP_WAIT_POLICY=passive, each into a fresh registry; peak RSS
# from /usr/bin/time -v (apt-get install time). The "before" build is
# BENCH_BEFORE_BIN (a bin directory), else it is built from `git archive
# 75adabd` into $BENCH_OUT/before-75adabd once and reused.
# Env: SATISFY_BIN_DIR (required), SATISFY_SOURCE_DIR, BENCH_OUT (default
# /tmp), BENCH_SCALE_SIZES (default "100000 1000000"), BENCH_SCALE_RUNS,
# BENCH_BEFORE_BIN, BENCH_SCALE_PEERS=0 to skip the python and producer parts.
set -euo pipefail
bin="${SATISFY_BIN_DIR:?set SATISFY_BIN_DIR to the bin directory of a build}"
here="$(cd "$(dirname "$0")/.." && pwd)" # bench/
src="${SATISFY_SOURCE_DIR:-$(dirname "$here")}"
out="${BENCH_OUT:-/tmp}"
sizes="${BENCH_SCALE_SIZES:-100000 1000000}"
runs="${BENCH_SCALE_RUNS:-1}"
before_rev=75adabd
export OMP_WAIT_POLICY=passive

if [ ! -x /usr/bin/time ]; then
  echo "scale/train.sh: /usr/bin/time missing (apt-get install time)" >&2
  exit 1
fi
work="$(mktemp -d "${TMPDIR:-/tmp}/bench_scale_train.XXXXXX")"
trap 'rm -rf "$work"' EXIT

before="${BENCH_BEFORE_BIN:-}"
if [ -z "$before" ]; then
  bdir="$out/before-$before_rev"
  if [ ! -x "$bdir/build/bin/satisfy-retrainer" ]; then
    rm -rf "$bdir" && mkdir -p "$bdir/src"
    git -C "$src" archive "$before_rev" | tar -x -C "$bdir/src"
    cmake -S "$bdir/src" -B "$bdir/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
    nice cmake --build "$bdir/build" -j2 --target satisfy-retrainer >/dev/null
  fi
  before="$bdir/build/bin"
fi

# one run: prints "wall ingest features train rss_kb artifact_bytes rmse"
run_train() {
  local b="$1" data="$2" tag="$3"
  rm -f "$work/$tag.db"
  nice /usr/bin/time -v -o "$work/$tag.time" "$b/satisfy-retrainer" train --data "$data" \
    --registry "$work/$tag.db" --threads 2 --quiet --report "$work/$tag.json" >/dev/null
  local rss wall
  rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$work/$tag.time")
  wall=$(awk '/Elapsed \(wall clock\)/ { print $NF }' "$work/$tag.time" |
    awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s }')
  python3 - "$work/$tag.json" "$wall" "$rss" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
s = r["seconds"]
rmse = r["rows"]["gbdt"]["stages"]["ALL"]["rmse"]
print(sys.argv[2], s["ingest"], s["features"], s["train"], sys.argv[3], r["artifact_bytes"], rmse)
EOF
}

rows=""
for n in $sizes; do
  data="$work/d$n"
  "$bin/satisfy-datagen" --orders "$n" --seed 1 --out "$data" --gzip >/dev/null
  best_b="" best_a=""
  for i in $(seq "$runs"); do
    lb=$(run_train "$before" "$data" "b$n-$i")
    la=$(run_train "$bin" "$data" "a$n-$i")
    # keep the faster run of each side
    if [ -z "$best_b" ] || awk -v x="${lb%% *}" -v y="${best_b%% *}" 'BEGIN { exit !(x < y) }'; then best_b=$lb; fi
    if [ -z "$best_a" ] || awk -v x="${la%% *}" -v y="${best_a%% *}" 'BEGIN { exit !(x < y) }'; then best_a=$la; fi
  done
  for side in before after; do
    l=$([ "$side" = before ] && echo "$best_b" || echo "$best_a")
    read -r wall ing feat tr rss art rmse <<<"$l"
    rows="$rows$(printf '| %s | %s | %.1f s (ingest %.1f, features %.1f, train %.1f) | %.2f GiB | %s | %.4f |' \
      "$n" "$side" "$wall" "$ing" "$feat" "$tr" "$(echo "$rss / 1048576" | bc -l)" "$art" "$rmse")"$'\n'
  done
  [ "$n" = 1000000 ] && data1m="$data"
done

echo "## Scale: batch training at 100k and one million orders"
echo
echo "satisfy-retrainer train --threads 2 on satisfy-datagen --orders N --seed 1 --gzip, the code"
echo "before the scale work ($before_rev) and this build, alternating, one at a time, best of"
echo "$runs; peak RSS from /usr/bin/time -v; RMSE of the gbdt row over the whole holdout."
echo
echo "| orders | code | wall time (steps) | peak RSS | release artifact bytes | gbdt RMSE |"
echo "|---:|---|---|---:|---:|---:|"
printf '%s' "$rows"
echo

if [ "${BENCH_SCALE_PEERS:-1}" != 0 ] && [ -n "${data1m:-}" ]; then
  BENCH_TRAIN_ORDERS=1000000 BENCH_TRAIN_DATA="$data1m" BENCH_TRAIN_RUNS=1 \
    bash "$here/bench_train.sh"
  BENCH_ORDERS=1000000 BENCH_PRODUCE_DATA="$data1m" bash "$here/bench_produce.sh"
fi
