#!/usr/bin/env bash
# release_size.sh - a release does not grow with the history (issue 19): on
# 300,000 generated orders (satisfy-datagen --gzip) `satisfy-retrainer train`
# (2 threads) makes a release artifact of at most 1,000,000 bytes, below
# Kafka's default 1 MB message size. Before the live history it carried the
# seller and customer snapshot: 805,889 bytes at 100k orders, about 3 MB at
# 1M (docs/benchmarks.md); now about 30 KB at any size.
#
# Release builds only (exit 77, skipped, otherwise): on this 2-core machine
# datagen takes 6-12 s and training 300k orders 38-100 s (with and without
# other work running), several times that under ASan.
source "$(dirname "$0")/common.bash"

release_only "training 300k orders takes minutes under ASan; train and test_gbdt run it"
t0=$SECONDS
timeout 300 "$bin/satisfy-datagen" --orders 300000 --seed 3 --out "$work/data" --gzip \
  >"$work/datagen.out" 2>"$work/datagen.err" || fail "satisfy-datagen failed: $(tail -3 "$work/datagen.err")"
t1=$SECONDS
timeout 600 "$bin/satisfy-retrainer" train --data "$work/data" --registry "$work/registry.db" \
  --threads 2 --report "$work/report.json" --quiet >"$work/train.out" 2>"$work/train.err" ||
  fail "satisfy-retrainer train failed: $(tail -5 "$work/train.err")"
bytes=$(json_field "$work/report.json" artifact_bytes)
echo "release at 300k orders: $bytes bytes (datagen $((t1 - t0)) s, train $((SECONDS - t1)) s)"
[ "$bytes" -gt 0 ] && [ "$bytes" -le 1000000 ] || fail "the release is $bytes bytes, want <= 1,000,000"
echo "release_size: ok"
