#!/usr/bin/env bash
# datagen_cli.sh - satisfy-datagen end to end: writes a gzip dataset, the same
# seed gives byte-identical files, --stats --strict loads it through the Olist
# loader in strict mode (any bad row fails), and bad arguments get clear
# messages. With OLIST_DIR, prints the real sample next to the generated data.
set -euo pipefail
BIN=${SATISFY_BIN_DIR:?}/satisfy-datagen
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$BIN" --help | grep -q -- "--orders N" || fail "--help does not describe --orders"

"$BIN" --orders 20000 --seed 9 --gzip --out "$TMP/a/nested" 2>"$TMP/log"
grep -q "20000 olist_orders_dataset" "$TMP/log" || fail "no row counts reported: $(cat "$TMP/log")"
"$BIN" --orders 20000 --seed 9 --gzip --out "$TMP/b" 2>/dev/null
n=0
for f in "$TMP"/a/nested/*.csv.gz; do
    cmp -s "$f" "$TMP/b/$(basename "$f")" || fail "$(basename "$f") differs for the same seed"
    n=$((n + 1))
done
[ "$n" -eq 9 ] || fail "expected 9 gzip tables, found $n"
[ "$(zcat "$TMP/a/nested/olist_orders_dataset.csv.gz" | head -1)" = \
  "order_id,customer_id,order_status,order_purchase_timestamp,order_approved_at,order_delivered_carrier_date,order_delivered_customer_date,order_estimated_delivery_date" ] \
    || fail "orders header differs from the Kaggle one"

"$BIN" --stats --strict "$TMP/a/nested" >"$TMP/stats" 2>"$TMP/stats.err" \
    || fail "strict load failed: $(cat "$TMP/stats.err")"
grep -q "^| orders | 20000 |$" "$TMP/stats" || fail "stats: wrong order count: $(cat "$TMP/stats")"
grep -q "^| bad rows skipped | 0 |$" "$TMP/stats" || fail "stats: bad rows in generated data"

# A corrupted copy fails in strict mode, naming file, line and column.
mkdir "$TMP/bad"
cp "$TMP"/b/*.csv.gz "$TMP/bad/"
zcat "$TMP/b/olist_order_items_dataset.csv.gz" | sed '5s/,[0-9]*\.[0-9]*,\([0-9.]*\)$/,abc,\1/' \
    | gzip >"$TMP/bad/olist_order_items_dataset.csv.gz"
if "$BIN" --stats --strict "$TMP/bad" >/dev/null 2>"$TMP/bad.err"; then
    fail "strict load accepted a malformed price"
fi
grep -q "olist_order_items_dataset.csv.gz:5" "$TMP/bad.err" || fail "no file:line: $(cat "$TMP/bad.err")"
grep -q "abc" "$TMP/bad.err" || fail "bad value not named: $(cat "$TMP/bad.err")"

# Argument errors.
expect_error() {
    local want=$1; shift
    if "$BIN" "$@" >/dev/null 2>"$TMP/err"; then fail "accepted: $*"; fi
    grep -q -- "$want" "$TMP/err" || fail "'$*': expected '$want', got: $(cat "$TMP/err")"
}
expect_error '--orders: "0" is out of range; expected an integer in 1..2000000000' --orders 0 --out "$TMP/x"
expect_error '--orders: "12x" has "x" after the number' --orders 12x --out "$TMP/x"
expect_error '--seed: "-1" is negative; expected a non-negative integer' --orders 10 --seed -1 --out "$TMP/x"
expect_error "--orders and --out are required" --orders 10
expect_error "expected a date YYYY-MM-DD" --orders 10 --out "$TMP/x" --from 2017-02-30
expect_error "empty purchase window" --orders 10 --out "$TMP/x" --from 2018-01-02 --to 2018-01-01
expect_error "needs at least one directory" --stats
expect_error "cannot create directory" --orders 10 --out /proc/satisfy-nope

if [ -n "${OLIST_DIR:-}" ] && [ -d "$OLIST_DIR" ]; then
    "$BIN" --stats "$OLIST_DIR" "$TMP/a/nested" 2>/dev/null | tee "$TMP/cmp"
    grep -q "^| orders | 15000 | 20000 |$" "$TMP/cmp" || fail "real vs generated table"
fi
echo "datagen_cli: ok"
