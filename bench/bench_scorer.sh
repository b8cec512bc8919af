#!/usr/bin/env bash
# bench_scorer.sh - satisfy-scorer's loop against a plain consume-and-produce
# relay at librdkafka's default settings (bench_relay, forwarding each
# message's key and value) on the same broker in the same run, in both
# modes (exactly-once, at-least-once): catch-up rate on a backlog of order
# events, CPU seconds per event, peak RSS and stalls; then the p99 latency
# from append to committed output at 5,000 events/s of both; and, with
# BENCH_SCORER_SWEEP="8 16 32 64 128", the same catch-up at each prefetch
# (queued.max.messages.kbytes, in MiB) on both sides.
#
# Uses satisfy-broker unless BENCH_SCORER_BROKERS=host:port names a Kafka
# cluster (its topics must exist: satisfy.orders, satisfy.predictions,
# satisfy.metrics, satisfy.models, satisfy.dlq; the backlog is produced into
# it). OLIST_DIR when set, else a 15,000-order generated dataset; the model
# is a GBDT trained on it. Prints a markdown section.
#
# Rates: events/s between 10% and 90% of the backlog (the steady state: the
# prefetch that fills before the first batch and the tail are left out);
# "from start" is from the first counted event to the last, for comparison.
# Stalls: gaps of >= 300 ms with no event counted in the steady state (the
# same 10%-90% window), from /metrics sampled every 20 ms. librdkafka 2.0 backs every
# partition off for a fixed 1 s when the consumer's prefetch queue is full
# (the high-level consumer's partitions share one queue, so all back off at
# once): the process drains its queue and then polls nothing until the
# back-off ends, which shows as such a gap. The same measure for both sides,
# with no change to either.
set -euo pipefail
# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
bench_start bench_scorer

parts=${BENCH_SCORER_PARTITIONS:-32}
if [ -n "${BENCH_SCORER_BROKERS:-}" ]; then
  bs="$BENCH_SCORER_BROKERS"
  where="Kafka at $bs"
else
  "$bin/satisfy-broker" --partitions "$parts" --bootstrap-file "$work/bs" >/dev/null 2>"$work/broker.err" &
  pids+=($!)
  for _ in $(seq 100); do [ -s "$work/bs" ] && break; sleep 0.1; done
  bs=$(cat "$work/bs")
  where="satisfy-broker ($parts partitions, 5 MiB kept per partition)"
fi
bench_data
"$bin/publish_model" --brokers "$bs" --version 1 --data "$data" --algo gbdt >"$work/pub" 2>&1 ||
  die "publish_model: $(cat "$work/pub")"
# The backlog: the data replayed $replays times, long enough that the
# catch-up runs for seconds past what the largest prefetch holds.
replays=${BENCH_SCORER_REPLAYS:-8}
bench_backlog "$replays" "$bs"
tick=$(getconf CLK_TCK)
run_id="$(date +%s)-$$"


# start SIDE MODE GROUP [-X ...]: starts the scorer or the relay; sets $pid $port
start() {
  local side="$1" mode="$2" group="$3" prog=(bench_scorer run)
  shift 3
  [ "$side" = relay ] && prog=(bench_relay)
  local flags=()
  [ "$mode" = alo ] && flags=(--at-least-once)
  # a group of this invocation's own: a Kafka cluster keeps the offsets
  # committed by an earlier invocation
  "$bin/${prog[0]}" "${prog[@]:1}" --brokers "$bs" --group "$group-$run_id" --http 127.0.0.1:0 \
    "${flags[@]}" "$@" 2>"$work/$group.err" &
  pid=$!
  pids+=("$pid")
  port=$(port_of "$work/$group.err")
  [ -n "$port" ] || die "$side $mode: no /metrics port: $(cat "$work/$group.err")"
}

# measure SIDE MODE TAG [-X ...]: consumes the backlog of $n events from
# scratch (own group); prints "rate_10_90 rate_from_start cpu_us_per_event
# peak_rss_mb stalls"
measure() {
  local side="$1" mode="$2" tag="$3"
  shift 3
  start "$side" "$mode" "bench-$side-$mode-$tag" "$@"
  local lo=$((n / 10)) hi=$((n * 9 / 10)) ev=0 last=0 lastt now stalls=0 install=0
  local t0="" c0="" e0=0 ta="" ca="" tb="" cb="" end=$((SECONDS + 600))
  lastt=$(date +%s.%N)
  while [ $SECONDS -lt $end ]; do
    ev=$(metric "$port" satisfy_scorer_events_total)
    ev=${ev:-0}
    now=$(date +%s.%N)
    if [ -z "$t0" ] && [ "$ev" -gt 0 ]; then t0=$now; c0=$(cpu_ticks "$pid"); e0=$ev; fi
    if [ -z "$ta" ] && [ "$ev" -ge "$lo" ]; then ta=$now; ca=$(cpu_ticks "$pid"); ea=$ev; fi
    if [ -z "$tb" ] && [ "$ev" -ge "$hi" ]; then tb=$now; cb=$(cpu_ticks "$pid"); eb=$ev; fi
    [ "$ev" -ge "$n" ] && break
    if [ "$ev" -ge "$lo" ] && [ "$ev" -lt "$hi" ] && [ "$ev" = "$last" ]; then
      if [ $install = 0 ] && awk -v a="$now" -v b="$lastt" 'BEGIN { exit !(a - b >= 0.3) }'; then
        stalls=$((stalls + 1))
        install=1
      fi
    else
      last=$ev
      lastt=$now
      install=0
    fi
    sleep 0.02
  done
  local t1 c1
  t1=$(date +%s.%N)
  c1=$(cpu_ticks "$pid")
  [ "$ev" -ge "$n" ] || die "$side $mode: only $ev of $n events after 600 s"
  local rss_kb
  rss_kb=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$pid/status")
  kill -TERM "$pid"
  wait "$pid" || die "$side $mode exited $?"
  awk -v ea="$ea" -v eb="$eb" -v ta="$ta" -v tb="$tb" -v e0="$e0" -v t0="$t0" -v t1="$t1" \
    -v n="$n" -v ca="$ca" -v cb="$cb" -v tk="$tick" -v rss="$rss_kb" -v st="$stalls" \
    'BEGIN { printf "%.0f %.0f %.2f %.0f %d\n", (eb - ea) / (tb - ta), (n - e0) / (t1 - t0),
             (cb - ca) / tk / (eb - ea) * 1e6, rss / 1024, st }'
}

# range FILE COL: "min-max" of a column (one value alone if equal)
range() {
  sort -n -k"$2","$2" "$1" | awk -v c="$2" 'NR == 1 { lo = $c } { hi = $c }
    END { if (lo == hi) print lo; else print lo "-" hi }'
}
# ratio range of two files' columns, run by run: "min-max"
ratios() { # A B COL
  paste "$1" "$2" | awk -v c="$3" '{ n = NF / 2; r = $c / $(c + n);
    if (NR == 1 || r < lo) lo = r; if (NR == 1 || r > hi) hi = r }
    END { if (sprintf("%.2f", lo) == sprintf("%.2f", hi)) printf "%.2f\n", lo; else printf "%.2f-%.2f\n", lo, hi }'
}

# Alternating runs: relay, scorer, per mode, at each side's defaults.
runs=${BENCH_SCORER_RUNS:-3}
for r in $(seq "$runs"); do
  for mode in eos alo; do
    measure relay "$mode" "r$r" >>"$work/relay-$mode.txt"
    measure scorer "$mode" "r$r" >>"$work/scorer-$mode.txt"
  done
done

# Prefetch sweep: both sides at each queued.max.messages.kbytes, with
# queued.min.messages (librdkafka: 100,000 messages, which stops the fetch
# at ~46 MiB of these events, with the same 1 s back-off) out of the way.
sweep=${BENCH_SCORER_SWEEP:-}
for q in $sweep; do
  for mode in eos alo; do
    x=(-X "queued.max.messages.kbytes=$((q * 1024))" -X queued.min.messages=1000000)
    measure relay "$mode" "q$q" "${x[@]}" >>"$work/sweep-relay-$mode-$q.txt"
    measure scorer "$mode" "q$q" "${x[@]}" >>"$work/sweep-scorer-$mode-$q.txt"
  done
done

# Latency at 5,000 events/s, exactly-once, once the backlog is scored.
hists() { # PORT OUT: the two latency histograms, cumulative
  curl -s "http://127.0.0.1:$1/metrics" >"$work/m"
  grep '^satisfy_scorer_e2e_latency_seconds_bucket' "$work/m" >"$2.e2e"
  grep '^satisfy_scorer_process_latency_seconds_bucket' "$work/m" >"$2.proc"
}
# On satisfy-broker, a broker of its own with a short history (8 partitions,
# the data replayed once): the mock cluster finds the batch a fetch starts
# at by walking the partition's batches from the oldest, so the long
# backlog above would slow every fetch and the load producer's own appends
# (measured: p99 34 ms to append alone) - a cost of the mock, not of either
# side.
total=$n
if [ -z "${BENCH_SCORER_BROKERS:-}" ]; then
  "$bin/satisfy-broker" --partitions 8 --bootstrap-file "$work/bs2" >/dev/null 2>"$work/broker2.err" &
  pids+=($!)
  for _ in $(seq 100); do [ -s "$work/bs2" ] && break; sleep 0.1; done
  bs=$(cat "$work/bs2")
  "$bin/publish_model" --brokers "$bs" --version 1 --data "$data" --algo gbdt >"$work/pub" 2>&1 ||
    die "publish_model: $(cat "$work/pub")"
  "$bin/satisfy-producer" --brokers "$bs" --data "$data" --speed 0 --no-progress >"$work/prod" \
    2>&1 || die "replay failed"
  total=$(awk '$1 == "satisfy.orders" && $3 == "produced" { print $2 }' "$work/prod")
fi
load=25000
latency() { # SIDE: prints "p99_e2e p99_own append_p99"
  start "$1" eos "bench-latency-$1"
  local end=$((SECONDS + 600))
  while [ "$(metric "$port" satisfy_scorer_events_total || echo 0)" != "$total" ] && [ $SECONDS -lt $end ]; do
    sleep 0.2
  done
  # steady state, not the end of the catch-up: let a back-off run out
  sleep 2
  hists "$port" "$work/h0"
  "$bin/bench_scorer" load --brokers "$bs" --rate 5000 --count "$load" >"$work/load" 2>"$work/load.err" ||
    die "load failed: $(cat "$work/load.err")"
  local want=$((total + $(awk '{ print $2 }' "$work/load")))
  while [ "$(metric "$port" satisfy_scorer_events_total)" -lt "$want" ] && [ $SECONDS -lt $end ]; do
    sleep 0.2
  done
  hists "$port" "$work/h1"
  kill -TERM "$pid"
  wait "$pid" || true
  echo "$(p99 "$work/h0.e2e" "$work/h1.e2e") $(p99 "$work/h0.proc" "$work/h1.proc") $(awk '{ print $4 }' "$work/load")"
}
latency scorer >"$work/lat-scorer"
total=$((total + $(awk '{ print $2 }' "$work/load")))
latency relay >"$work/lat-relay"
read -r s_p99 s_own s_app <"$work/lat-scorer"
read -r r_p99 r_own r_app <"$work/lat-relay"

cat <<EOF2
## Scorer vs a plain relay at librdkafka's defaults (bench_scorer.sh)

Data: $source replayed $replays times, $n order events, on $where; model: GBDT.
Baseline: bench_relay, a plain librdkafka consume-and-produce relay at
librdkafka's default settings (exactly-once: transactions of up to 10,000
messages / 100 ms; at-least-once: idempotent producer, offsets committed
after delivery), forwarding each message's key and value; the scorer at its
own defaults. $runs alternating runs; ranges over runs. Rate: between 10% and
90% of the backlog (from the first event to the last in brackets). Stalls:
gaps >= 300 ms with no progress between 10% and 90% of the backlog.

| mode | side | events/s | (from start) | CPU us/event | peak RSS MB | stalls |
|---|---|---:|---:|---:|---:|---:|
EOF2
for mode in eos alo; do
  name=exactly-once
  [ "$mode" = alo ] && name=at-least-once
  for side in relay scorer; do
    f="$work/$side-$mode.txt"
    echo "| $name | $side | $(range "$f" 1) | ($(range "$f" 2)) | $(range "$f" 3) | $(range "$f" 4) | $(range "$f" 5) |"
  done
  echo "| $name | **scorer/relay** | **$(ratios "$work/scorer-$mode.txt" "$work/relay-$mode.txt" 1)** | | **$(ratios "$work/scorer-$mode.txt" "$work/relay-$mode.txt" 3)** | $(ratios "$work/scorer-$mode.txt" "$work/relay-$mode.txt" 4) | |"
done
if [ -n "$sweep" ]; then
  cat <<EOF2

Prefetch sweep (\`-X queued.max.messages.kbytes=\` the size, \`-X queued.min.messages=1000000\`,
on both sides), one run each:

| prefetch MiB | mode | scorer events/s | relay events/s | scorer CPU us/ev | scorer RSS MB | relay RSS MB | RSS ratio | scorer stalls |
|---:|---|---:|---:|---:|---:|---:|---:|---:|
EOF2
  for q in $sweep; do
    for mode in eos alo; do
      read -r sr _ sc sm ss <"$work/sweep-scorer-$mode-$q.txt"
      read -r rr _ _ rm _ <"$work/sweep-relay-$mode-$q.txt"
      echo "| $q | $mode | $sr | $rr | $sc | $sm | $rm | $(awk -v a="$sm" -v b="$rm" 'BEGIN { printf "%.2f", a / b }') | $ss |"
    done
  done
fi
cat <<EOF2

Latency, exactly-once (on satisfy-broker: a second broker, 8 partitions,
the data replayed once), $load events replayed at 5,000 events/s with
wall-clock timestamps (load producer: librdkafka's defaults, linger.ms=5),
after each side has caught up; p99 interpolated in the fixed histogram
buckets (1,2,3,5,7.5,10,15,20,25,30,40,50,75,100 ms, then coarser):

| | scorer p99 ms | relay p99 ms |
|---|---:|---:|
| created -> committed (**goal <= 20 ms, and <= the relay's**) | **$s_p99** | $r_p99 |
| received -> committed (the consumer's own part) | $s_own | $r_own |
| created -> appended (the load producer alone) | $s_app | $r_app |
EOF2
