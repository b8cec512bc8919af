#!/usr/bin/env bash
# datagen_cli.sh - satisfy-datagen end to end: writes a gzip dataset, the same
# seed gives byte-identical files, --stats --strict loads it through the Olist
# loader in strict mode (any bad row fails), and bad arguments get clear
# messages. With OLIST_DIR, prints the real sample next to the generated data.
source "$(dirname "$0")/common.bash"
BIN=$bin/satisfy-datagen

"$BIN" --help | grep -q -- "--orders N" || fail "--help does not describe --orders"

"$BIN" --orders 20000 --seed 9 --gzip --out "$work/a/nested" 2>"$work/log"
grep -q "20000 olist_orders_dataset" "$work/log" || fail "no row counts reported: $(cat "$work/log")"
"$BIN" --orders 20000 --seed 9 --gzip --out "$work/b" 2>/dev/null
n=0
for f in "$work"/a/nested/*.csv.gz; do
    cmp -s "$f" "$work/b/$(basename "$f")" || fail "$(basename "$f") differs for the same seed"
    n=$((n + 1))
done
[ "$n" -eq 9 ] || fail "expected 9 gzip tables, found $n"
[ "$(zcat "$work/a/nested/olist_orders_dataset.csv.gz" | head -1)" = \
  "order_id,customer_id,order_status,order_purchase_timestamp,order_approved_at,order_delivered_carrier_date,order_delivered_customer_date,order_estimated_delivery_date" ] \
    || fail "orders header differs from the Kaggle one"

"$BIN" --stats --strict "$work/a/nested" >"$work/stats" 2>"$work/stats.err" \
    || fail "strict load failed: $(cat "$work/stats.err")"
grep -q "^| orders | 20000 |$" "$work/stats" || fail "stats: wrong order count: $(cat "$work/stats")"
grep -q "^| bad rows skipped | 0 |$" "$work/stats" || fail "stats: bad rows in generated data"

# A corrupted copy fails in strict mode, naming file, line and column.
mkdir "$work/bad"
cp "$work"/b/*.csv.gz "$work/bad/"
zcat "$work/b/olist_order_items_dataset.csv.gz" | sed '5s/,[0-9]*\.[0-9]*,\([0-9.]*\)$/,abc,\1/' \
    | gzip >"$work/bad/olist_order_items_dataset.csv.gz"
if "$BIN" --stats --strict "$work/bad" >/dev/null 2>"$work/bad.err"; then
    fail "strict load accepted a malformed price"
fi
grep -q "olist_order_items_dataset.csv.gz:5" "$work/bad.err" || fail "no file:line: $(cat "$work/bad.err")"
grep -q "abc" "$work/bad.err" || fail "bad value not named: $(cat "$work/bad.err")"

# Argument errors: usage (2) and failures (1), each with its message.
expect_status 2 '--orders: "0" is out of range; expected an integer in 1..2000000000' \
    "$BIN" --orders 0 --out "$work/x"
expect_status 2 '--orders: "12x" has "x" after the number' "$BIN" --orders 12x --out "$work/x"
expect_status 2 '--seed: "-1" is negative; expected a non-negative integer' \
    "$BIN" --orders 10 --seed -1 --out "$work/x"
expect_status 2 "--orders and --out are required" "$BIN" --orders 10
expect_status 2 "expected a date YYYY-MM-DD" "$BIN" --orders 10 --out "$work/x" --from 2017-02-30
expect_status 1 "empty purchase window" \
    "$BIN" --orders 10 --out "$work/x" --from 2018-01-02 --to 2018-01-01
expect_status 2 "needs at least one directory" "$BIN" --stats
expect_status 1 "cannot create directory" "$BIN" --orders 10 --out /proc/satisfy-nope

if [ -n "${OLIST_DIR:-}" ] && [ -d "$OLIST_DIR" ]; then
    "$BIN" --stats "$OLIST_DIR" "$work/a/nested" 2>/dev/null | tee "$work/cmp"
    grep -q "^| orders | 15000 | 20000 |$" "$work/cmp" || fail "real vs generated table"
fi
echo "datagen_cli: ok"
