# scorer_common.bash - shared helpers of the scorer_*.sh integration tests
# (sourced; not a test itself): a private satisfy-broker, the dataset, the
# scorer started/stopped by pid, and a bounded wait for predictions.
set -euo pipefail

bin="${SATISFY_BIN_DIR:?SATISFY_BIN_DIR not set}"
work="$(mktemp -d "${TMPDIR:-/tmp}/satisfy-scorer-XXXXXX")"
pids=()
# fast group rejoin after a kill: the mock cluster expires dead members by session timeout
SCORER_X=(-X session.timeout.ms=6000 -X heartbeat.interval.ms=500)

cleanup() {
  # SIGTERM first: the broker runs under timeout(1), which forwards TERM but
  # cannot forward KILL; anything still alive 5 s later is killed
  for p in "${pids[@]}"; do
    kill "$p" 2>/dev/null || true
  done
  for _ in $(seq 50); do
    alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for p in "${pids[@]}"; do
    kill -9 "$p" 2>/dev/null || true
  done
  for p in "${pids[@]}"; do
    wait "$p" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  for f in "$work"/*.err; do
    [ -s "$f" ] && { echo "--- $f" >&2; grep -v CONFWARN "$f" | tail -15 >&2; }
  done
  exit 1
}

# start_broker: satisfy-broker with 8 partitions; sets $bs.
start_broker() {
  timeout 900 "$bin/satisfy-broker" --partitions 8 --bootstrap-file "$work/bootstrap" \
    >"$work/broker.out" 2>"$work/broker.err" &
  pids+=($!)
  for _ in $(seq 100); do
    [ -s "$work/bootstrap" ] && break
    sleep 0.1
  done
  [ -s "$work/bootstrap" ] || fail "no bootstrap file after 10 s"
  bs="$(cat "$work/bootstrap")"
}

# make_data: $data = OLIST_DIR, or a generated 3,000-order dataset.
make_data() {
  if [ -n "${OLIST_DIR:-}" ]; then
    data="$OLIST_DIR"
  else
    "$bin/satisfy-datagen" --orders 3000 --seed 11 --out "$work/data" >"$work/datagen.out" \
      2>"$work/datagen.err" || fail "satisfy-datagen failed"
    data="$work/data"
  fi
  echo "data: $data"
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
  local end=$((SECONDS + $3))
  while [ $SECONDS -lt $end ]; do
    grep -q -- "$2" "$work/$1.err" 2>/dev/null && return 0
    sleep 0.2
  done
  fail "$1: no '$2' in the log after $3 s"
}

# stop_scorer: SIGTERM, exit 0 within 60 s.
stop_scorer() {
  kill -TERM "$scorer_pid"
  local rc=0
  local end=$((SECONDS + 60))
  while kill -0 "$scorer_pid" 2>/dev/null && [ $SECONDS -lt $end ]; do
    sleep 0.1
  done
  kill -0 "$scorer_pid" 2>/dev/null && fail "scorer still running 60 s after SIGTERM"
  wait "$scorer_pid" || rc=$?
  [ "$rc" = 0 ] || fail "scorer exit status after SIGTERM is $rc, want 0"
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
