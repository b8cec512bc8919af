#!/usr/bin/env bash
# bench_soak.sh - a soak: satisfy-scorer, satisfy-retrainer run and a steady
# load of ~5,000 order events/s for BENCH_SOAK_SECONDS (default 1200) on
# satisfy-broker, sampled every 10 s; reports whether memory, lag and
# latency stay flat (least-squares slope per series) and keeps the raw
# samples as CSV ($BENCH_OUT/soak.csv, else in the temp dir, kept).
#
# Setup, and why:
#   - seed: satisfy-producer replays a small generated dataset (1.2 x the
#     retrain interval in orders, at least 2,000) at full speed; the retrainer trains and releases v1 from its
#     reviews and the scorer scores the seed with it.
#   - load: `bench_scorer load --seconds` reads the seed's order events once
#     (~4 per order, a few MB) and re-produces them in a cycle at
#     BENCH_SOAK_RATE (5,000/s) with wall-clock timestamps until the time is
#     up: a steady rate for any duration without holding more than the
#     seed in memory, and the scorer's e2e histogram measures append ->
#     committed. The retrainer consumes the same events (idempotent upserts
#     of known orders).
#   - retrains: satisfy-producer replays a second dataset (OLIST_DIR, else
#     15,000 generated orders) at a speed that spreads its history over the
#     soak, so new reviews keep arriving and the retrainer retrains about
#     every sixth of them (--retrain-every), several times during the run.
#     Its order events add a few per second to the load.
# The embedded broker keeps 5 MiB per partition (older data pruned): the
# load cycles for as long as wanted without the broker's memory growing.
#
# Every 10 s: VmRSS of scorer, retrainer, replay producer, load producer
# and broker; the scorer's satisfy_scorer_consumer_lag; its events scored in
# the interval; the p99 created -> committed over the interval (difference
# of the cumulative satisfy_scorer_e2e_latency_seconds buckets); how far the
# retrainer is behind the scorer (events counted by the scorer minus the
# order events in the retrainer's stats file). At the end: slope per series
# (least squares, per hour; also over the second half of the samples, to
# tell a warm-up such as the broker filling its 5 MiB partitions from a
# leak), first/last/min/max and a verdict: flat when slope x duration is
# within the tolerance printed with it. The p99 is over the observations
# in the histogram's finite buckets (<= 60 s): the replay's order events
# carry their historical event times and are left out (counted per
# sample). The first
# sample is taken once the load has run 30 s (warm-up left out).
set -euo pipefail
bin="${SATISFY_BIN_DIR:?SATISFY_BIN_DIR must point at the bin directory of a build}"
export OMP_WAIT_POLICY=passive
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=bench/lib.sh
source "$here/lib.sh"
secs=${BENCH_SOAK_SECONDS:-1200}
rate=${BENCH_SOAK_RATE:-5000}
parts=${BENCH_SOAK_PARTITIONS:-16}
every=10
warm=30
work="$(mktemp -d "${TMPDIR:-/tmp}/bench-soak-XXXXXX")"
csv="${BENCH_OUT:-$work}/soak.csv"
mkdir -p "$(dirname "$csv")"
pids=()
cleanup() {
  # the clients first, then the broker they talk to (else they log its loss
  # and the scorer's last commit fails)
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do stop_pid "${pids[$i]}"; done
  # the logs and the CSV stay for inspection; the stores and data go
  rm -rf "$work/seed" "$work/data" "$work"/*.db*
}
trap cleanup EXIT
die() {
  echo "bench_soak: $*" >&2
  for f in "$work"/*.err; do echo "--- $f" >&2; grep -v CONFWARN "$f" | tail -5 >&2 || true; done
  exit 1
}
alive() { kill -0 "$1" 2>/dev/null; }
rss_mb() { # PID: VmRSS in MB, empty once it has exited
  awk '$1 == "VmRSS:" { printf "%.1f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || true
}
wait_for() { # SECONDS DESCRIPTION COMMAND...: polls COMMAND every 0.2 s
  local end=$((SECONDS + $1)) what="$2"
  shift 2
  until "$@"; do
    [ $SECONDS -lt $end ] || die "timed out waiting for $what"
    sleep 0.2
  done
}

# ---- broker, retrainer, scorer ------------------------------------------------
"$bin/satisfy-broker" --partitions "$parts" --bootstrap-file "$work/bs" >/dev/null 2>"$work/broker.err" &
broker=$!
pids+=("$broker")
wait_for 10 "the broker" test -s "$work/bs"
bs=$(cat "$work/bs")

if [ -n "${OLIST_DIR:-}" ]; then
  data="$OLIST_DIR"
  source_name="Olist sample ($OLIST_DIR)"
else
  "$bin/satisfy-datagen" --orders 15000 --seed 3 --gzip --out "$work/data" >/dev/null 2>&1
  data="$work/data"
  source_name="generated, 15,000 orders"
fi
# the replay's history: purchase times, first to last; its reviews ~ orders
times="$work/times"
zcat -f "$data"/olist_orders_dataset.csv* | awk -F, 'NR > 1 && $4 != "" { print $4 }' | sort >"$times"
n_orders=$(wc -l <"$times")
span=$(($(date -ud "$(tail -1 "$times")" +%s) - $(date -ud "$(head -1 "$times")" +%s) + 30 * 86400))
speed=$(awk -v s="$span" -v d="$secs" 'BEGIN { printf "%.0f", s / (0.9 * d) }')
retrain_every=$((n_orders / 6 > 100 ? n_orders / 6 : 100))
# the seed: enough reviews for the first retrain (one review per order, about)
seed_orders=$((retrain_every * 6 / 5 > 2000 ? retrain_every * 6 / 5 : 2000))
"$bin/satisfy-datagen" --orders "$seed_orders" --seed 11 --gzip --out "$work/seed" >/dev/null 2>&1

"$bin/satisfy-retrainer" run --brokers "$bs" --registry "$work/registry.db" --store "$work/store.db" \
  --retrain-every "$retrain_every" --min-reviews 500 --stats-file "$work/retrainer.json" \
  --threads 1 2>"$work/retrainer.err" &
retrainer=$!
pids+=("$retrainer")
"$bin/satisfy-scorer" --brokers "$bs" --http 127.0.0.1:0 2>"$work/scorer.err" &
scorer=$!
pids+=("$scorer")
wait_for 30 "the scorer's port" grep -q "on port [0-9]" "$work/scorer.err"
port=$(sed -n 's/.*on port \([0-9]*\).*/\1/p' "$work/scorer.err" | head -1)
[ -n "$port" ] || die "no scorer port in its log"

# ---- seed: v1 released and scored ---------------------------------------------
"$bin/satisfy-producer" --brokers "$bs" --data "$work/seed" --speed 0 --no-progress >"$work/seed.out" \
  2>"$work/seed.err" || die "seed replay failed"
seed_n=$(awk '$1 == "satisfy.orders" && $3 == "produced" { print $2 }' "$work/seed.out")
[ "${seed_n:-0}" -gt 0 ] || die "no seed order events"
model_ok() { [ "$(metric "$port" satisfy_scorer_model_version)" -ge 1 ] 2>/dev/null; }
seed_scored() { [ "$(metric "$port" satisfy_scorer_events_total)" -ge "$seed_n" ] 2>/dev/null; }
wait_for 300 "the first release" model_ok
wait_for 120 "the seed to be scored" seed_scored

# ---- the soak -----------------------------------------------------------------
"$bin/satisfy-producer" --brokers "$bs" --data "$data" --speed "$speed" --no-progress \
  >"$work/replay.out" 2>"$work/replay.err" &
replay=$!
pids+=("$replay")
"$bin/bench_scorer" load --brokers "$bs" --rate "$rate" --count "$seed_n" --seconds "$secs" \
  >"$work/load.out" 2>"$work/load.err" &
load=$!
pids+=("$load")
t0=$SECONDS
hists() { # OUT: the e2e histogram's buckets and the events counter
  curl -s --max-time 5 "http://127.0.0.1:$port/metrics" >"$work/m" || true
  grep '^satisfy_scorer_e2e_latency_seconds_bucket' "$work/m" >"$1" || true
  awk '$1 == "satisfy_scorer_events_total" { print $2 }' "$work/m" >"$1.ev"
  awk '$1 == "satisfy_scorer_consumer_lag" { print $2 }' "$work/m" >"$1.lag"
}
sleep "$warm"
hists "$work/h0"
ev_start=$(cat "$work/h0.ev")
echo "t_s,events,events_per_s,lag,p99_ms,retrainer_behind,retrains,rss_scorer_mb,rss_retrainer_mb,rss_replay_mb,rss_load_mb,rss_broker_mb,over_60s" >"$csv"
next=$((t0 + warm + every))
while alive "$load"; do
  while [ $SECONDS -lt $next ] && alive "$load"; do sleep 0.5; done
  alive "$load" || break
  next=$((next + every))
  alive "$scorer" || die "the scorer stopped"
  alive "$retrainer" || die "the retrainer stopped"
  hists "$work/h1"
  ev0=$(cat "$work/h0.ev") ev1=$(cat "$work/h1.ev")
  r_ev=$(sed -n 's/.*"order_events":\([0-9]*\).*/\1/p' "$work/retrainer.json" 2>/dev/null || true)
  r_rt=$(sed -n 's/.*"retrains":\([0-9]*\).*/\1/p' "$work/retrainer.json" 2>/dev/null || true)
  echo "$((SECONDS - t0)),$((ev1 - ev0)),$(((ev1 - ev0) / every)),$(cat "$work/h1.lag"),$(p99 "$work/h0" "$work/h1" finite),$((ev1 - ${r_ev:-0})),${r_rt:-0},$(rss_mb "$scorer"),$(rss_mb "$retrainer"),$(rss_mb "$replay"),$(rss_mb "$load"),$(rss_mb "$broker"),$(above_max "$work/h0" "$work/h1")" >>"$csv"
  for f in "" .ev .lag; do mv "$work/h1$f" "$work/h0$f"; done
done
wait "$load" || die "the load producer failed"
ev_end=$(metric "$port" satisfy_scorer_events_total)
read -r _ load_n load_s load_app <"$work/load.out"
replay_done=no
alive "$replay" || replay_done=yes
retrains=$(sed -n 's/.*"retrains":\([0-9]*\).*/\1/p' "$work/retrainer.json")
released=$(sed -n 's/.*"released":\([0-9]*\).*/\1/p' "$work/retrainer.json")
models=$(metric "$port" satisfy_scorer_models_loaded_total)
n_samples=$(($(wc -l <"$csv") - 1))
over=$(awk -F, 'NR > 1 { s += $13 } END { print s + 0 }' "$csv")
replay_orders=$(awk '$1 == "satisfy.orders" && $3 == "produced" { print $2 }' "$work/replay.out" 2>/dev/null || true)
replay_orders=${replay_orders:-"(still running at the end)"}
[ "$n_samples" -ge 2 ] || die "only $n_samples samples"

# series COL NAME UNIT TOLERANCE_KIND: one table row
#   tolerance kinds: rss = max(5 MB, 5% of the mean) over the run;
#   lag = one second of load; p99 = max(2 ms, 25% of the mean)
series() {
  awk -F, -v c="$1" -v name="$2" -v unit="$3" -v kind="$4" -v rate="$rate" '
    NR > 1 && $c != "" && $c != "NA" && $c !~ />/ { n++; x[n] = $1 / 3600; y[n] = $c }
    function slope(a, b,   i, m, sx, sy, sxx, sxy) {
      for (i = a; i <= b; i++) { m++; sx += x[i]; sy += y[i]; sxx += x[i] * x[i]; sxy += x[i] * y[i] }
      return (m < 2) ? 0 : (m * sxy - sx * sy) / (m * sxx - sx * sx)
    }
    END {
      if (n < 2) { printf "| %s | - | - | - | - | - | - | - | too few samples |\n", name; exit }
      lo = y[1]; hi = y[1]; sum = 0
      for (i = 1; i <= n; i++) { sum += y[i]; if (y[i] < lo) lo = y[i]; if (y[i] > hi) hi = y[i] }
      b = slope(1, n); b2 = slope(int(n / 2) + 1, n); mean = sum / n; dur = x[n] - x[1]
      if (kind == "rss") tol = (0.05 * mean > 5) ? 0.05 * mean : 5
      else if (kind == "lag") tol = rate
      else tol = (0.25 * mean > 2) ? 0.25 * mean : 2
      ch = b * dur
      v = (ch <= tol && ch >= -tol) ? "flat" : (ch > 0 ? "**growing**" : "falling")
      fmt = (kind == "lag") ? "%.0f" : "%.1f"
      printf "| %s | " fmt " | " fmt " | " fmt " | " fmt " | %+.1f | %+.1f | %+.1f (tol. %.1f) | %s |\n",
        name, y[1], y[n], lo, hi, b, b2, ch, tol, v }' "$csv"
}
rate_got=$(awk -v a="$ev_start" -v b="$ev_end" -v d="$((SECONDS - t0 - warm))" 'BEGIN { printf "%.0f", (b - a) / d }')
cat <<EOF2
## Soak: scorer, retrainer and producers for $((secs / 60)) minutes (bench_soak.sh)

On satisfy-broker ($parts partitions, 5 MiB kept per partition). Load:
\`bench_scorer load --rate $rate --seconds $secs\`, the seed's $seed_n order
events ($seed_orders generated orders) re-produced in a cycle with wall-clock
timestamps; alongside, satisfy-producer replaying $source_name at
${speed}x so its reviews arrive through the run (retrain every
$retrain_every new reviews). Load producer: $load_n events in ${load_s} s
($(awk -v n="$load_n" -v s="$load_s" 'BEGIN { printf "%.0f", n / s }') events/s),
append p99 ${load_app} ms (last $seed_n appends); scorer: $rate_got events/s
scored from the first sample to the end; retrainer: $retrains retrains,
$released released, scorer loaded $models models; replay finished within
the soak: $replay_done. $n_samples samples every $every s after a ${warm} s
warm-up; slope by least squares; verdict "flat" when slope x duration is
within the tolerance (RSS: max(5 MB, 5% of the mean); lag: one second of
load, $rate events; p99: max(2 ms, 25% of the mean)). The p99 leaves out
the replay's order events: they carry their 2016-2018 event times as
timestamps and land above the histogram's largest bound (60 s); $over
observations above it in all (the replay produced $replay_orders order events).

| series | first | last | min | max | slope /h | slope /h, 2nd half | change over run (slope x duration) | verdict |
|---|---:|---:|---:|---:|---:|---:|---:|---|
$(series 8 "scorer RSS MB" MB rss)
$(series 9 "retrainer RSS MB" MB rss)
$(series 10 "replay producer RSS MB" MB rss)
$(series 11 "load producer RSS MB" MB rss)
$(series 12 "broker RSS MB" MB rss)
$(series 4 "scorer consumer lag (events)" events lag)
$(series 6 "retrainer behind scorer (events)" events lag)
$(series 5 "p99 created -> committed ms (per 10 s, <= 60 s)" ms p99)
$(series 3 "events scored /s (per 10 s)" "ev/s" p99)

Raw samples: $csv
EOF2
