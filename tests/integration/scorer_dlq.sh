#!/usr/bin/env bash
# scorer_dlq.sh - malformed messages on satisfy.orders (garbage, wrong magic,
# unknown schema id, truncated, bad enum, a review event, an empty value, a
# key that is not the order id, an event time of 2^60), produced between good order events, all
# arrive in satisfy.dlq byte for byte with a reason and their source topic,
# partition and offset; the good events around them are all scored.
source "$(dirname "$0")/scorer_common.bash"

scorer_on_model_1
# satisfy-broker does not fence a second producer with the same transactional.id
grep -q "satisfy-broker does not fence transactional producers: every scorer needs its own --instance-id (this one: test)" \
  "$work/scorer.err" || fail "no warning that instance ids must be distinct on satisfy-broker"
"$bin/produce_malformed" --brokers "$bs" --rounds 3 >"$work/corpus" 2>"$work/corpus.err" ||
  fail "produce_malformed failed: $(cat "$work/corpus.err")"
n_bad=$(grep -c '^bad ' "$work/corpus")
n_good=$(count good "$work/corpus")
[ "$n_bad" = 27 ] && [ "$n_good" = 28 ] || fail "corpus: $n_bad bad, $n_good good"

wait_dlq_covered "$n_bad" 120
check_good_and_dlq "$n_good" "$n_bad"

# every malformed message: same bytes (sha256), same source coordinates, a reason
reason_of() { # KIND -> the reason substring its DLQ record must carry
  case "$1" in
  garbage) echo "magic" ;;
  magic) echo "magic" ;;
  schema) echo "99" ;;
  truncated) echo "truncat" ;;
  enum) echo "stage" ;;
  review) echo "ReviewEvent" ;;
  empty) echo "empty message (no value)" ;;
  key) echo "does not match order_id" ;;
  time) echo "event_time: 1152921504606846976 is not a valid event time" ;;
  esac
}
while read -r _ kind part off sum; do
  line=$(grep "^dlq satisfy.orders $part $off " "$work/dlq.txt" || true)
  [ -n "$line" ] || fail "$kind at [$part] @$off is not in the DLQ"
  [ "$(awk '{ print $5 }' <<<"$line")" = "$sum" ] || fail "$kind at [$part] @$off: DLQ bytes differ"
  reason=$(cut -d' ' -f6- <<<"$line")
  want=$(reason_of "$kind")
  grep -qi -- "$want" <<<"$reason" || fail "$kind at [$part] @$off: reason '$reason' lacks '$want'"
  echo "  $kind -> $reason"
done < <(grep '^bad ' "$work/corpus")
stop_scorer
grep -q "stopped: $((n_good + n_bad)) events, $n_good predictions, $n_bad to dlq" "$work/scorer.err" ||
  fail "stop summary: $(grep stopped "$work/scorer.err")"
echo "scorer_dlq: $n_bad malformed in the DLQ with reasons, $n_good good scored: ok"
