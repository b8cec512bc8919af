#!/usr/bin/env bash
# scorer_dlq_big.sh - a ~1 MB order message whose DLQ
# copy (with its headers) exceeds the scorer producer's message.max.bytes.
# It used to abort and rewind its batch ~100 times a second forever and stall
# its partition. Now: the big message is in satisfy.dlq as a bounded prefix
# with its reason, source coordinates and original size; the good events
# around it get exactly one prediction each; the scorer stops cleanly with
# exact counts.
source "$(dirname "$0")/scorer_common.bash"

big=999800
scorer_on_model_1
"$bin/produce_malformed" --brokers "$bs" --rounds 2 --big "$big" >"$work/corpus" \
  2>"$work/corpus.err" || fail "produce_malformed failed: $(cat "$work/corpus.err")"
n_bad=$(grep -c '^bad big ' "$work/corpus")
n_good=$(count good "$work/corpus")
[ "$n_bad" = 2 ] && [ "$n_good" = 3 ] || fail "corpus: $n_bad big, $n_good good"

# bounded: the partition stalled forever before the fix, so this fails then
wait_dlq_covered "$n_bad" 90
check_good_and_dlq "$n_good" "$n_bad"
while read -r _ kind part off _; do
  line=$(grep "^dlq satisfy.orders $part $off " "$work/dlq.txt" || true)
  [ -n "$line" ] || fail "$kind at [$part] @$off is not in the DLQ"
  grep -q "\[original_size $((big + 5)), kept [0-9]*\]" <<<"$line" ||
    fail "$kind at [$part] @$off: no original_size header: $line"
  echo "  $line" | cut -c1-200
done < <(grep '^bad ' "$work/corpus")
stop_scorer
grep -q "stopped: $((n_good + n_bad)) events, $n_good predictions, $n_bad to dlq" "$work/scorer.err" ||
  fail "stop summary: $(grep stopped "$work/scorer.err")"
aborts=$(grep -c "aborting the transaction" "$work/scorer.err" || true)
[ "$aborts" = 0 ] || fail "$aborts batch aborts: $(grep -m2 aborting "$work/scorer.err")"
echo "scorer_dlq_big: $n_bad messages of $((big + 5)) bytes in the DLQ cut to fit, $n_good good scored once: ok"
