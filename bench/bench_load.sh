#!/usr/bin/env bash
# bench_load.sh - Olist loader throughput against the decompression floor.
#
# Loads and joins a generated 100k-order dataset (.csv.gz) with bench_load
# (best of 3) and, in the same run, times `zcat` of the same files to
# /dev/null (best of 3): reading gzip is the least any loader must do, so the
# ratio says what parsing, checking and joining cost on top. Goal: <= 3x.
#
# The dataset is made with $SATISFY_BIN_DIR/satisfy-datagen (reused from
# $BENCH_OUT/olist-100k when already there). Without datagen it falls back
# to $OLIST_DIR (the real 15k-order sample) and says so.
# Env: SATISFY_BIN_DIR (required), BENCH_OUT (default /tmp), BENCH_ORDERS
# (default 100000), BENCH_RUNS (default 3).
set -euo pipefail
bin="${SATISFY_BIN_DIR:?set SATISFY_BIN_DIR to the bin directory of a build}"
out="${BENCH_OUT:-/tmp}"
orders="${BENCH_ORDERS:-100000}"
runs="${BENCH_RUNS:-3}"

if [ -x "$bin/satisfy-datagen" ]; then
  data="$out/olist-${orders}"
  if [ ! -s "$data/olist_orders_dataset.csv.gz" ]; then
    rm -rf "$data.tmp" && mkdir -p "$data.tmp"
    "$bin/satisfy-datagen" --orders "$orders" --seed 42 --out "$data.tmp" >/dev/null
    for f in "$data.tmp"/*.csv; do [ -e "$f" ] && gzip -6 -n "$f"; done
    rm -rf "$data" && mv "$data.tmp" "$data"
  fi
  what="satisfy-datagen --orders $orders --seed 42, gzip -6"
elif [ -n "${OLIST_DIR:-}" ] && [ -d "$OLIST_DIR" ]; then
  data="$OLIST_DIR"
  what="real Olist sample in \$OLIST_DIR (satisfy-datagen not built)"
else
  echo "bench_load.sh: neither $bin/satisfy-datagen nor OLIST_DIR available" >&2
  exit 1
fi

files=("$data"/*.csv.gz)
now() { date +%s.%N; }
best_zcat=""
for _ in $(seq "$runs"); do
  t0=$(now)
  zcat "${files[@]}" >/dev/null
  t=$(echo "$(now) - $t0" | bc -l)
  if [ -z "$best_zcat" ] || [ "$(echo "$t < $best_zcat" | bc -l)" = 1 ]; then best_zcat=$t; fi
done
res=$("$bin/bench_load" "$data" "$runs")
best_load=$(sed -n 's/.*best=\([0-9.]*\).*/\1/p' <<<"$res")
bytes=$(zcat "${files[@]}" | wc -c)
ratio=$(echo "$best_load / $best_zcat" | bc -l)

printf '## Olist loader: load + join vs zcat\n\n'
printf 'Data: %s (%s MB uncompressed, %s files). Best of %s runs each.\n\n' \
  "$what" "$(echo "$bytes / 1000000" | bc)" "${#files[@]}" "$runs"
printf '| measure | seconds |\n|---|---:|\n'
printf '| zcat of the same files to /dev/null (floor) | %.3f |\n' "$best_zcat"
printf '| sf_dataset_load: read, check, join | %.3f |\n' "$best_load"
printf '| **ratio load / zcat** (goal <= 3) | **%.2f** |\n\n' "$ratio"
printf 'Loaded: %s\n\n' "$res"
