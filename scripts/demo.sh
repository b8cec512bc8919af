#!/usr/bin/env bash
# demo.sh BUILD_DIR - the whole satisfy story on one machine (`make demo`).
#
# Starts satisfy-broker (embedded mock cluster), satisfy-retrainer run,
# satisfy-scorer (HTTP on $DEMO_HTTP, default 127.0.0.1:8080) and
# satisfy-producer replaying the Olist history: $OLIST_DIR if set, else
# data/olist if present, else a generated dataset. The two years play in a few
# minutes; the retrainer releases models as reviews arrive, the scorer swaps to
# each release live. At the end it checks that nothing was lost (the embedded
# broker keeps only 5 MiB per partition), prints a summary, and stops every
# process it started. SERVE=1 keeps everything up for the web page until Ctrl-C.
#
# Knobs (environment): DEMO_SPEED (history seconds per second, default 500000),
# DEMO_ORDERS (generated dataset size, default 20000), DEMO_PARTITIONS (16),
# DEMO_RETRAIN_EVERY (new reviews between retrains, default 2500),
# DEMO_HTTP, DEMO_OUT (working directory, default demo-out), SERVE.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
build="$(cd "${1:-$root/build}" && pwd)"
bin="$build/bin"
out="${DEMO_OUT:-$root/demo-out}"
speed="${DEMO_SPEED:-500000}"
orders="${DEMO_ORDERS:-20000}"
partitions="${DEMO_PARTITIONS:-16}"
retrain_every="${DEMO_RETRAIN_EVERY:-2500}"
http="${DEMO_HTTP:-127.0.0.1:8080}"
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"

say() { printf '\033[1mdemo:\033[0m %s\n' "$*"; }
die() { printf 'demo: error: %s\n' "$*" >&2; exit 1; }

for b in satisfy-broker satisfy-producer satisfy-scorer satisfy-retrainer satisfy-datagen \
         consume_predictions release_list; do
  [ -x "$bin/$b" ] || die "$bin/$b is missing: run 'make build' first"
done

rm -rf "$out"
mkdir -p "$out"
pids=()
names=()
stop_all() {
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -TERM "${pids[$i]}" 2>/dev/null || true
  done
  for _ in $(seq 100); do
    local alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  pids=()
}
trap 'stop_all' EXIT
trap 'echo; say "interrupted"; exit 130' INT TERM

start() { # name, command...
  local name="$1"
  shift
  "$@" >"$out/$name.log" 2>&1 &
  pids+=("$!")
  names+=("$name")
}

alive_or_die() {
  local i
  for i in "${!pids[@]}"; do
    kill -0 "${pids[$i]}" 2>/dev/null ||
      { tail -20 "$out/${names[$i]}.log" >&2; die "${names[$i]} stopped (log: $out/${names[$i]}.log)"; }
  done
}

# ---- data -------------------------------------------------------------------
if [ -n "${OLIST_DIR:-}" ]; then
  data="$OLIST_DIR"
  say "data: real Olist tables from OLIST_DIR=$data"
elif ls "$root"/data/olist/olist_orders_dataset.csv* >/dev/null 2>&1; then
  data="$root/data/olist"
  say "data: real Olist tables from $data"
else
  data="$out/synthetic"
  say "data: no Olist download found (see README); generating $orders synthetic orders"
  "$bin/satisfy-datagen" --orders "$orders" --seed 1 --gzip --out "$data" >"$out/datagen.log"
fi

# ---- services ---------------------------------------------------------------
start broker "$bin/satisfy-broker" --partitions "$partitions" --bootstrap-file "$out/bootstrap"
for _ in $(seq 100); do [ -s "$out/bootstrap" ] && break; sleep 0.1; done
[ -s "$out/bootstrap" ] || die "satisfy-broker did not start (log: $out/broker.log)"
brokers="$(cat "$out/bootstrap")"
say "embedded broker on $brokers ($partitions partitions per topic, in memory)"

start retrainer "$bin/satisfy-retrainer" run --brokers "$brokers" --registry "$out/registry.db" \
  --store "$out/store.db" --retrain-every "$retrain_every" --stats-file "$out/retrainer.json"
start scorer "$bin/satisfy-scorer" --brokers "$brokers" --http "$http"
sleep 1
alive_or_die
say "retrainer (registry $out/registry.db) and scorer (http://$http/) are up"

# ---- replay -----------------------------------------------------------------
say "replaying the history at ${speed}x (progress below)"
t0=$(date +%s.%N)
"$bin/satisfy-producer" --brokers "$brokers" --data "$data" --speed "$speed" \
  >"$out/producer.log" || die "satisfy-producer failed (log: $out/producer.log)"
t1=$(date +%s.%N)
alive_or_die

expected=$(awk '$1 == "satisfy.orders" { print $2 }' "$out/producer.log")
reviews=$(awk '$1 == "satisfy.reviews" { print $2 }' "$out/producer.log")
sed 's/^/  /' "$out/producer.log"

# ---- wait for the scorer and the retrainer to catch up ------------------------
say "waiting for the scorer and the retrainer to catch up"
scored=0
for _ in $(seq 600); do
  alive_or_die
  scored=$(curl -s "http://$http/metrics" 2>/dev/null |
    awk '/^satisfy_scorer_events_total /{print $2; exit}' || true)
  stored=$(sed -n 's/.*"reviews":\([0-9]*\).*/\1/p' "$out/retrainer.json" 2>/dev/null || true)
  printf '\r  scored %s / %s order events, retrainer has %s / %s reviews   ' \
    "${scored:-0}" "${expected:-?}" "${stored:-0}" "${reviews:-?}"
  if [ -n "$expected" ] && [ "${scored%.*}" -ge "$expected" ] 2>/dev/null &&
     [ -n "$reviews" ] && [ "${stored:-0}" -ge "$reviews" ] 2>/dev/null; then
    break
  fi
  sleep 1
done
echo
t2=$(date +%s.%N)

# ---- check and summarise -------------------------------------------------------
"$bin/consume_predictions" --brokers "$brokers" --orders --idle 3 --timeout 120 \
  --dlq "$out/dlq.txt" --dump "$out/predictions.dump" >"$out/predictions.txt" 2>"$out/consume.log" || true
"$bin/release_list" --brokers "$brokers" >"$out/releases.txt" 2>>"$out/consume.log" || true
kcat -b "$brokers" -t satisfy.metrics -C -e -q -f '%s\n' >"$out/metrics.jsonl" 2>/dev/null || true

curl -s "http://$http/metrics" 2>/dev/null | awk '/^satisfy_scorer_alert/ { print $1, $2 }' \
  >"$out/alerts.txt" || true
get() { awk -v k="$1" '$1 == k { print $2; exit }' "$out/predictions.txt"; }
preds=$(get predictions); unique=$(get unique); dups=$(get duplicates)
missing=$(get missing); exp_topic=$(get expected); dlq=$(get dlq)

echo
echo "==================== satisfy demo summary ===================="
printf '%-34s %s\n' "data" "$data"
printf '%-34s %s\n' "order events produced" "${expected:-?}"
printf '%-34s %s\n' "review events produced" "${reviews:-?}"
printf '%-34s %s\n' "order events on satisfy.orders" "${exp_topic:-?}"
printf '%-34s %s (unique %s, duplicates %s)\n' "predictions" "${preds:-?}" "${unique:-?}" "${dups:-?}"
printf '%-34s %s\n' "order events without a prediction" "${missing:-?}"
printf '%-34s %s\n' "messages in the DLQ" "${dlq:-0}"
printf '%-34s %s (threshold %s)\n' "at-risk alerts (satisfy.alerts)" \
  "$(awk '$1 == "satisfy_scorer_alerts_total" { print $2 }' "$out/alerts.txt")" \
  "$(awk '$1 == "satisfy_scorer_alert_threshold" { print $2 }' "$out/alerts.txt")"
awk -v p="$t0" -v q="$t1" -v r="$t2" -v n="${unique:-0}" 'BEGIN {
  printf "%-34s %.1f s replay + %.1f s catch-up\n", "elapsed", q - p, r - q
  if (r - p > 0) printf "%-34s %.0f predictions/s end to end (paced by the replay speed)\n", "throughput", n / (r - p) }'
echo
echo "models (satisfy-retrainer registry list):"
"$bin/satisfy-retrainer" registry list --registry "$out/registry.db" | sed 's/^/  /'
echo
echo "online accuracy of each champion (delivered-stage prediction vs the review that came):"
if [ -s "$out/metrics.jsonl" ]; then
  /usr/bin/python3 - "$out/metrics.jsonl" <<'EOF'
import json, sys
last = {}
for line in open(sys.argv[1]):
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if "model_version" not in m:  # gate decisions share the topic; listed by the registry above
        continue
    last[m.get("model_version")] = m
for v in sorted(last, key=lambda x: (x is None, x)):
    m = last[v]
    f = lambda x: "-" if x is None else "%.3f" % x
    print("  version %-4s last %-5s pairs: rmse %s  auc %s" % (v, m.get("n"), f(m.get("rmse")), f(m.get("auc"))))
EOF
else
  echo "  (no metrics published)"
fi
echo "=============================================================="

status=0
if [ "${exp_topic:-0}" != "${expected:-x}" ]; then
  echo "demo: satisfy.orders holds ${exp_topic:-?} events but ${expected:-?} were produced: retention dropped data" >&2
  status=1
fi
if [ "${missing:-1}" != 0 ]; then
  echo "demo: ${missing:-?} order events have no prediction" >&2
  status=1
fi

if [ "${SERVE:-0}" = 1 ]; then
  say "SERVE=1: the web page is at http://$http/ ; Ctrl-C stops everything"
  while alive_or_die; do sleep 2; done
fi
say "stopping broker, retrainer and scorer (logs in $out)"
exit $status
