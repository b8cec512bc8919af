# shellcheck shell=bash
# bench/lib.sh - helpers shared by the bench_*.sh scripts (sourced, not run):
# reading the scorer's /metrics, the p99 of its latency histograms and
# stopping a process with a bounded wait, so every benchmark does them the
# same way.

# metric PORT NAME: one unlabelled sample from /metrics at 127.0.0.1:PORT
metric() {
  { curl -s --max-time 2 "http://127.0.0.1:$1/metrics" || true; } | awk -v k="$2" '$1 == k { print $2 }'
}

# p99 H0 H1 [finite]: p99 in ms of the difference of two cumulative
# Prometheus histograms (the *_bucket lines of one histogram, le in seconds,
# same order), interpolated linearly inside the bucket; ">N" when it falls
# in the +Inf bucket; "NA" when nothing was observed between the two. With
# "finite", of the observations in the finite buckets only (those above the
# largest bound left out).
p99() {
  paste "$1" "$2" | sed 's/[{}"]/ /g; s/le=//g' |
    awk -v finite="${3:-}" '{ le[NR] = $2; d[NR] = $6 - $3 } END {
      last = NR; if (finite != "" && le[NR] == "+Inf") last = NR - 1
      tot = d[last]; want = 0.99 * tot; prev = 0; lo = 0
      if (tot <= 0) { print "NA"; exit }
      for (i = 1; i <= last; i++) {
        if (d[i] >= want) {
          if (le[i] == "+Inf") { printf ">%.0f", lo * 1000; exit }
          f = (d[i] > prev) ? (want - prev) / (d[i] - prev) : 1
          printf "%.1f", (lo + f * (le[i] - lo)) * 1000; exit
        }
        prev = d[i]; lo = le[i]
      } }'
}

# above_max H0 H1: observations between the two above the largest finite bound
above_max() {
  paste "$1" "$2" | sed 's/[{}"]/ /g; s/le=//g' |
    awk '{ d[NR] = $6 - $3 } END { print (NR > 1) ? d[NR] - d[NR - 1] : 0 }'
}

# port_of LOG: the /metrics port a bench_scorer or bench_relay logged
port_of() {
  for _ in $(seq 100); do
    grep -q "serving /metrics on port" "$1" 2>/dev/null && break
    sleep 0.1
  done
  sed -n 's/.*serving \/metrics on port \([0-9]*\).*/\1/p' "$1"
}

# cpu_ticks PID: user + system CPU of a process so far, in clock ticks
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# bench_data: $data, the Olist sample at OLIST_DIR when set, else a
# 15,000-order generated dataset in $work, and $source saying which
bench_data() {
  # shellcheck disable=SC2034 # used by the scripts that call it
  if [ -n "${OLIST_DIR:-}" ]; then
    data="$OLIST_DIR"
    source="Olist sample"
  else
    "$bin/satisfy-datagen" --orders 15000 --seed 3 --out "$work/data" >/dev/null 2>&1
    data="$work/data"
    source="generated, 15,000 orders"
  fi
}

# bench_backlog N BROKERS: replays $data N times into satisfy.orders at
# BROKERS as fast as it goes; $n, the order events produced
bench_backlog() {
  n=0
  for _ in $(seq "$1"); do
    "$bin/satisfy-producer" --brokers "$2" --data "$data" --speed 0 --no-progress >"$work/prod" \
      2>&1 || die "replay failed"
    n=$((n + $(awk '$1 == "satisfy.orders" && $3 == "produced" { print $2 }' "$work/prod")))
  done
  [ "$n" -gt 0 ] || die "no order events"
}

# stop_pid PID: SIGTERM, up to 10 s to exit, then SIGKILL; reaps it
stop_pid() {
  kill -TERM "$1" 2>/dev/null || return 0
  for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# bench_start NAME: what every benchmark script starts with - $bin (from
# SATISFY_BIN_DIR), OMP_WAIT_POLICY=passive, a work directory $work removed
# at exit with every pid in $pids stopped and reaped, and die MESSAGE.
bench_start() {
  bench_name="$1"
  # shellcheck disable=SC2034 # used by the scripts that call it
  bin="${SATISFY_BIN_DIR:?SATISFY_BIN_DIR must point at the bin directory of a build}"
  export OMP_WAIT_POLICY=passive
  work="$(mktemp -d "${TMPDIR:-/tmp}/$1-XXXXXX")"
  pids=()
  trap _bench_cleanup EXIT
}
_bench_cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
die() { echo "${bench_name:-bench}: $*" >&2; exit 1; }
