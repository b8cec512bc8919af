#!/usr/bin/env bash
# scorer_json.sh - JSON order events scored end to end: a replay
# with satisfy-producer --format json gets exactly one prediction per order
# event; JSON order events that do not validate (a stage that is not one,
# a document cut in half) go to satisfy.dlq with a clear reason, byte for
# byte, and the JSON events around them are scored once.
source "$(dirname "$0")/scorer_common.bash"

scorer_on_model_1
timeout 300 "$bin/satisfy-producer" --brokers "$bs" --data "$data" --speed 0 --to 2017-06-01 \
  --format json --no-progress >"$work/prod.out" 2>"$work/prod.err" ||
  fail "JSON replay failed: $(tail -3 "$work/prod.err")"
"$bin/produce_malformed" --brokers "$bs" --rounds 4 --json >"$work/corpus" 2>"$work/corpus.err" ||
  fail "produce_malformed failed: $(cat "$work/corpus.err")"
n_bad=$(grep -c '^bad ' "$work/corpus")
[ "$n_bad" = 4 ] || fail "corpus: $n_bad bad JSON events, want 4"

wait_dlq_covered "$n_bad" 240
r="$work/report"
n=$(count expected "$r")
[ "$n" -gt 1000 ] || fail "only $n JSON order events expected"
[ "$(count predictions "$r")" = "$n" ] && [ "$(count duplicates "$r")" = 0 ] &&
  [ "$(count bad "$r")" = 0 ] && [ "$(count unexpected "$r")" = 0 ] ||
  fail "JSON events: $(tr '\n' ' ' <"$r")"
[ "$(count dlq "$r")" = "$n_bad" ] || fail "dlq holds $(count dlq "$r") messages, want $n_bad"
while read -r _ kind part off sum; do
  line=$(grep "^dlq satisfy.orders $part $off " "$work/dlq.txt" || true)
  [ -n "$line" ] || fail "$kind at [$part] @$off is not in the DLQ"
  [ "$(awk '{ print $5 }' <<<"$line")" = "$sum" ] || fail "$kind at [$part] @$off: DLQ bytes differ"
  reason=$(cut -d' ' -f6- <<<"$line")
  case "$kind" in
  jsonstage) want="stage" ;;
  jsonsyntax) want="OrderEvent JSON: syntax error" ;;
  esac
  grep -q -- "$want" <<<"$reason" || fail "$kind at [$part] @$off: reason '$reason' lacks '$want'"
  echo "  $kind -> $reason"
done < <(grep '^bad ' "$work/corpus")
stop_scorer
echo "scorer_json: $n JSON order events, one prediction each; $n_bad bad JSON events in the DLQ: ok"
