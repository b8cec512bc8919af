#!/usr/bin/env bash
# bench_codec.sh - codec throughput: the direct Avro encoder and decoder
# (lib/events/codec_write.c, lib/events/codec_read.c) against Avro-C's generic writer and
# reader (the way the codec worked before), on the same events in the same
# run: the order and review events of a replay of a generated dataset, and
# one prediction per order event. Best of BENCH_RUNS rounds each,
# alternating. Prints a markdown section. Env: SATISFY_BIN_DIR (required), BENCH_ORDERS (default 20000),
# BENCH_RUNS (default 3).
set -euo pipefail
bin="${SATISFY_BIN_DIR:?SATISFY_BIN_DIR not set}"
orders="${BENCH_ORDERS:-20000}"
runs="${BENCH_RUNS:-3}"
work="$(mktemp -d "${TMPDIR:-/tmp}/satisfy-bench-codec-XXXXXX")"
trap 'rm -rf "$work"' EXIT

"$bin/satisfy-datagen" --orders "$orders" --seed 7 --out "$work/data" >/dev/null 2>"$work/datagen.err"
"$bin/bench_codec" --data "$work/data" --rounds "$runs" >"$work/out"

read -r _ _ n_orders _ n_reviews _ n_preds < <(grep '^events' "$work/out")
echo "## Codec: direct Avro encoder/decoder vs Avro-C generic values"
echo
echo "Events of a replay of satisfy-datagen --orders $orders --seed 7: $n_orders order events,"
echo "$n_reviews reviews, and $n_preds predictions (one per order event, 3 reasons each)."
echo "Baseline: Avro-C generic values (avro_value_write / avro_value_read) with the same"
echo "sf_check_* contract checks, as the codec worked before (the baseline decoder omits the"
echo "former validating pre-pass, so it is a little faster than the former decoder was)."
echo "Decoding includes the decoded event's allocation and free. Best of $runs rounds each."
echo
echo "| measure | codec events/s | Avro-C generic events/s | ratio |"
echo "|---|---:|---:|---:|"
grep -v '^events' "$work/out" | while read -r name _ fast _ avroc _ ratio; do
  printf '| %s | %s | %s | **%s** |\n' "${name/_/ }" "$fast" "$avroc" "$ratio"
done
echo
