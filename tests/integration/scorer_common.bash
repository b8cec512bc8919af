# scorer_common.bash - shared helpers of the scorer_*.sh and web_*.sh
# integration tests (sourced; not a test itself), on top of common.bash: the
# dataset, the scorer started/stopped by pid, bounded waits for its log and
# for predictions, and its /metrics counters (metric, wait_metric).
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"

FAIL_TAIL=15
# fast group rejoin after a kill: the mock cluster expires dead members by session timeout
SCORER_X=(-X session.timeout.ms=6000 -X heartbeat.interval.ms=500)

# make_data: $data = OLIST_DIR, or a generated 3,000-order dataset.
make_data() {
  use_data 3000 11
}

# start_scorer NAME [ARGS...]: sets $scorer_pid; stderr in $work/NAME.err.
start_scorer() {
  local name="$1"
  shift
  "$bin/satisfy-scorer" --brokers "$bs" --instance-id test "${SCORER_X[@]}" "$@" \
    >"$work/$name.out" 2>"$work/$name.err" &
  scorer_pid=$!
  pids+=("$scorer_pid")
}

# wait_log NAME PATTERN SECONDS: waits until $work/NAME.err matches.
wait_log() {
  POLL_INTERVAL=0.2 wait_for "$3" "'$2' in $1's log" _log_has "$1" "$2"
}
_log_has() { grep -q -- "$2" "$work/$1.err" 2>/dev/null; }

# stop_scorer: SIGTERM, exit 0 within 60 s.
stop_scorer() {
  kill -TERM "$scorer_pid"
  wait_exit "$scorer_pid" 60 "scorer (after SIGTERM)"
  [ "$exit_rc" = 0 ] || fail "scorer exit status after SIGTERM is $exit_rc, want 0"
}

# count KEY FILE: the value of "KEY N" in a consume_predictions report.
count() {
  awk -v k="$1" '$1 == k { print $2 }' "$2"
}

# wait_covered OUT SECONDS [ARGS...]: runs consume_predictions --orders until no
# order event id is missing (report in $work/OUT), bounded.
wait_covered() {
  local out="$1" secs="$2"
  shift 2
  local end=$((SECONDS + secs))
  while :; do
    timeout 200 "$bin/consume_predictions" --brokers "$bs" --orders --idle 1 --timeout 180 "$@" \
      >"$work/$out" 2>"$work/$out.cerr" || fail "consume_predictions failed: $(tail -3 "$work/$out.cerr")"
    [ "$(count missing "$work/$out")" = 0 ] && [ "$(count expected "$work/$out")" -gt 0 ] && return 0
    [ $SECONDS -lt $end ] || fail "predictions still missing after $secs s: $(tr '\n' ' ' <"$work/$out")"
    sleep 1
  done
}

# wait_dlq_covered N SECS: wait_covered (report in $work/report, the DLQ in
# $work/dlq.txt) until every order event has its prediction and the DLQ
# holds N messages, bounded.
wait_dlq_covered() {
  wait_covered report "$2" --dlq "$work/dlq.txt"
  local end=$((SECONDS + $2))
  while [ "$(count dlq "$work/report")" -lt "$1" ] && [ $SECONDS -lt $end ]; do
    sleep 1
    wait_covered report "$2" --dlq "$work/dlq.txt"
  done
}

# check_good_and_dlq N_GOOD N_BAD: the report ($work/report, after
# wait_dlq_covered) has exactly N_GOOD good order events, each with one
# prediction, and N_BAD messages in the DLQ.
check_good_and_dlq() {
  local r="$work/report"
  [ "$(count expected "$r")" = "$1" ] || fail "expected $(count expected "$r") good events, produced $1"
  [ "$(count predictions "$r")" = "$1" ] && [ "$(count duplicates "$r")" = 0 ] ||
    fail "good events: $(tr '\n' ' ' <"$r")"
  [ "$(count dlq "$r")" = "$2" ] || fail "dlq holds $(count dlq "$r") messages, want $2"
}

# scorer_on_model_1: satisfy-broker, the dataset, model 1 published, and a
# scorer scoring with it.
scorer_on_model_1() {
  start_broker
  make_data
  "$bin/publish_model" --brokers "$bs" --version 1 --data "$data" >"$work/pub.out" \
    2>"$work/pub.err" || fail "publish_model failed: $(cat "$work/pub.err")"
  start_scorer scorer
  wait_log scorer "scoring with model 1" 60
}

# http_port NAME: the port scorer NAME (started with --http 127.0.0.1:0)
# serves /metrics on, from its log.
http_port() {
  wait_log "$1" "serving /healthz and /metrics on port" 60
  sed -n 's/.*serving \/healthz and \/metrics on port \([0-9]*\).*/\1/p' "$work/$1.err" | head -1
}

# metric PORT NAME: the value of the sample NAME on the /metrics of the
# scorer on PORT (empty when it does not answer).
metric() {
  { curl -s --max-time 2 "http://127.0.0.1:$1/metrics" || true; } |
    awk -v m="$2" '$1 == m { print $2 }'
}

# predictions PORT: satisfy_scorer_predictions_total of the scorer on PORT.
predictions() { metric "$1" satisfy_scorer_predictions_total; }
_more_than() { [ "$(predictions "$1")" -gt "$2" ] 2>/dev/null; }

# wait_metric PORT NAME N SECONDS: waits until NAME on the scorer on PORT is
# at least N, bounded; sets $metric_value to the value seen. The way to
# trigger a kill or a fault on observed progress, e.g.
#   wait_metric "$port" satisfy_scorer_events_total $((events_want / 4)) 120
wait_metric() {
  metric_value=
  POLL_INTERVAL=0.1 poll "$4" _metric_at_least "$1" "$2" "$3" ||
    die "timed out after $4 s waiting for $2 >= $3 on port $1 (last seen: ${metric_value:-none})"
}
_metric_at_least() {
  metric_value=$(metric "$1" "$2")
  [ "${metric_value:-0}" -ge "$3" ] 2>/dev/null
}
