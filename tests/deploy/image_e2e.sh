#!/usr/bin/env bash
# image_e2e.sh - the container image end to end:
#   1. a Docker daemon: the running one, or one this test starts as root
#      (dockerd --storage-driver=vfs --iptables=false --bridge=none, stopped
#      again at the end); none to be had -> skipped with the reason;
#   2. the base images (deploy/base-images.sh: pulled, or built with mmdebstrap
#      from this machine's apt sources), then `make image`;
#   3. the image: at most 150 MB, runs as uid 10001, no compiler, no curl, the
#      five binaries run, the health check and the state volume are declared;
#   4. the Compose `demo` profile on the host network (compose.yaml +
#      compose.host.yaml, scorers on 127.0.0.1, free ports) replaying
#      $OLIST_DIR or generated orders: every order event on satisfy.orders has
#      a prediction (read back from the host with consume_predictions), both
#      scorers scored, at least one model was released, the retrainer's
#      registry is in the named volume, the web page and /readyz answer and
#      Docker reports the scorers healthy through satisfy-healthcheck;
#   5. prints the image size, each container's peak RSS and CPU time, and how
#      long every step took.
# Runs only with SATISFY_IMAGE_E2E=1 (.ci/run sets it): it needs root, Docker
# and minutes. Everything it starts is removed on exit (compose down -v).
source "$(dirname "$0")/lib.bash"
[ "${SATISFY_IMAGE_E2E:-0}" = 1 ] ||
  skip "the image end-to-end test runs with SATISFY_IMAGE_E2E=1 (as .ci/run does): it needs root and Docker"
t_start=$SECONDS
step() { echo "== $* ($((SECONDS - t_start)) s)"; }
export DOCKER="${DOCKER:-docker}"

# ---- 1. Docker daemon ------------------------------------------------------------------
command -v "$DOCKER" >/dev/null || skip "no docker command (apt-get install docker.io)"
if ! timeout 20 "$DOCKER" info >/dev/null 2>&1; then
  command -v dockerd >/dev/null || skip "no Docker daemon running and no dockerd to start (apt-get install docker.io)"
  [ "$(id -u)" = 0 ] || skip "no Docker daemon running, and starting dockerd needs root"
  step "starting dockerd (vfs, no iptables, no bridge)"
  dockerd --storage-driver=vfs --iptables=false --bridge=none >"$work/dockerd.log" 2>&1 &
  dockerd_pid=$!
  on_exit "kill $dockerd_pid 2>/dev/null; for _ in \$(seq 100); do kill -0 $dockerd_pid 2>/dev/null || break; sleep 0.2; done; kill -9 $dockerd_pid 2>/dev/null; wait $dockerd_pid 2>/dev/null"
  for _ in $(seq 60); do
    timeout 5 "$DOCKER" info >/dev/null 2>&1 && break
    kill -0 "$dockerd_pid" 2>/dev/null || skip "dockerd exited at start: $(tail -3 "$work/dockerd.log")"
    sleep 0.5
  done
  timeout 5 "$DOCKER" info >/dev/null 2>&1 || skip "dockerd did not answer within 30 s: $(tail -3 "$work/dockerd.log")"
fi
if command -v docker-compose >/dev/null 2>&1; then
  compose=(docker-compose)
elif "$DOCKER" compose version >/dev/null 2>&1; then
  compose=("$DOCKER" compose)
else
  skip "neither docker-compose nor docker compose (apt-get install docker-compose)"
fi
echo "docker: server $("$DOCKER" version -f '{{.Server.Version}}' 2>/dev/null), ${compose[*]}"

# ---- 2. image ------------------------------------------------------------------------------
step "base images"
t0=$SECONDS
timeout 900 bash "$src/deploy/base-images.sh" || die "deploy/base-images.sh failed"
t_base=$((SECONDS - t0))
step "make image"
t0=$SECONDS
timeout 1800 make -s -C "$src" image >"$work/image.log" 2>&1 || { tail -30 "$work/image.log" >&2; die "make image failed"; }
t_image=$((SECONDS - t0))
version=$(sed -n 's/^project(satisfy VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
image="satisfy:$version"
[ "$("$DOCKER" image inspect -f '{{.Id}}' "$image")" = "$("$DOCKER" image inspect -f '{{.Id}}' satisfy:latest)" ] ||
  die "make image: satisfy:latest is not $image"

# ---- 3. what is in the image ----------------------------------------------------------------
size=$("$DOCKER" image inspect -f '{{.Size}}' "$image")
base_size=$("$DOCKER" image inspect -f '{{.Size}}' debian:bookworm-slim)
echo "image $image: $size bytes ($((size / 1000000)) MB; debian:bookworm-slim $((base_size / 1000000)) MB)"
[ "$size" -le 150000000 ] || die "image $image is $size bytes, over 150 MB"
run() { timeout 60 "$DOCKER" run --rm --network none "$@"; }
# one container for all the checks (each container costs a copy of the image on vfs)
inside=$(run "$image" bash -c 'id -u
  for t in cc gcc clang make cmake curl wget; do command -v $t; done; ls /usr/include 2>/dev/null | head -3
  for b in broker producer scorer retrainer datagen; do satisfy-$b --help >/dev/null 2>&1 || echo "satisfy-$b --help fails"; done' 2>&1) ||
  die "the checks inside the image failed: $inside"
[ "$(echo "$inside" | head -1)" = 10001 ] || die "the image does not run as uid 10001: $inside"
[ -z "$(echo "$inside" | tail -n +2)" ] || die "the runtime image has build or download tools, or a binary fails: $(echo "$inside" | tail -n +2)"
"$DOCKER" image inspect -f '{{json .Config.Healthcheck.Test}}' "$image" | grep -q satisfy-healthcheck ||
  die "the image has no HEALTHCHECK through satisfy-healthcheck"
"$DOCKER" image inspect -f '{{json .Config.Volumes}}' "$image" | grep -q '/var/lib/satisfy' ||
  die "the image does not declare /var/lib/satisfy as a volume"
echo "image: uid 10001, no compiler or curl, five binaries, HEALTHCHECK, VOLUME /var/lib/satisfy"

# ---- 4. the demo profile on the host network --------------------------------------------------
project="satisfy-e2e-$$"
export SATISFY_IMAGE="$image" SATISFY_HTTP_BIND=127.0.0.1
SATISFY_WEB_PORT=$(free_port)
SATISFY_WEB_PORT_2=$(free_port)
export SATISFY_WEB_PORT SATISFY_WEB_PORT_2
export DEMO_PARTITIONS=8 DEMO_SPEED="${E2E_SPEED:-2000000}" DEMO_RETRAIN_EVERY="${E2E_RETRAIN_EVERY:-2500}"
if [ -n "${OLIST_DIR:-}" ]; then
  export OLIST_DIR DEMO_ORDERS=100
  echo "data: $OLIST_DIR (mounted into the producer)"
else
  export DEMO_ORDERS="${E2E_ORDERS:-8000}"
  echo "data: $DEMO_ORDERS generated orders (satisfy-datagen in the datagen service)"
fi
dc() { (cd "$src/deploy" && timeout 300 "${compose[@]}" -p "$project" -f compose.yaml -f compose.host.yaml --profile demo "$@"); }
on_exit "dc logs --no-color >'$work/compose.log' 2>&1; dc down -v --remove-orphans -t 30 >/dev/null 2>&1"
step "compose up (demo profile, host network)"
t0=$SECONDS
dc up -d >"$work/up.log" 2>&1 || { cat "$work/up.log" >&2; die "compose up failed"; }
cid() { dc ps -q "$1" | head -1; }

# the producer replays, then exits 0
producer=$(cid producer)
[ -n "$producer" ] || die "no producer container"
# producer_exited: the producer has exited; fails at once if a service stopped
producer_exited() {
  [ "$("$DOCKER" inspect -f '{{.State.Status}}' "$producer")" = exited ] && return 0
  for s in broker retrainer scorer-0 scorer-1; do
    [ "$("$DOCKER" inspect -f '{{.State.Running}}' "$(cid "$s")")" = true ] ||
      { dc logs --tail 20 "$s" >&2; die "$s stopped during the replay"; }
  done
  return 1
}
wait_for 600 "the producer to exit" producer_exited
[ "$("$DOCKER" inspect -f '{{.State.ExitCode}}' "$producer")" = 0 ] ||
  { "$DOCKER" logs --tail 20 "$producer" >&2; die "the producer failed"; }
t_replay=$((SECONDS - t0))
"$DOCKER" logs "$producer" >"$work/producer.log" 2>&1
produced=$(awk '$1 == "satisfy.orders" { print $2; exit }' "$work/producer.log")
[ "${produced:-0}" -gt 0 ] 2>/dev/null || die "no producer summary: $(tail -5 "$work/producer.log")"
bs=$("$DOCKER" logs "$(cid broker)" 2>/dev/null | head -1)
[[ "$bs" == 127.0.0.1:* ]] || die "the broker's first line is not its address: $bs"
step "replayed $produced order events to $bs in $t_replay s"

# the two scorers catch up
metric() { curl -s --max-time 5 "http://127.0.0.1:$1/metrics" | awk -v m="$2" '$1 == m { print $2 }'; }
scored_all() {
  e0=$(metric "$SATISFY_WEB_PORT" satisfy_scorer_events_total || true)
  e1=$(metric "$SATISFY_WEB_PORT_2" satisfy_scorer_events_total || true)
  [ "$((${e0:-0} + ${e1:-0}))" -ge "$produced" ]
}
poll 300 scored_all || die "scorers at ${e0:-?} + ${e1:-?} of $produced events after 300 s"
t_scored=$((SECONDS - t0))
step "scored: scorer-0 $e0, scorer-1 $e1 events"
[ "${e0:-0}" -gt 0 ] && [ "${e1:-0}" -gt 0 ] || die "one of the two scorers scored nothing ($e0, $e1)"

# every order event predicted, read back from the host
timeout 300 "$bin/consume_predictions" --brokers "$bs" --orders --idle 3 --timeout 240 >"$work/predictions.txt" \
  2>"$work/consume.err" || die "consume_predictions failed: $(tail -3 "$work/consume.err")"
get() { awk -v k="$1" '$1 == k { print $2; exit }' "$work/predictions.txt"; }
echo "predictions: $(tr '\n' ' ' <"$work/predictions.txt")"
[ "$(get expected)" = "$produced" ] || die "satisfy.orders holds $(get expected) events, $produced were produced"
[ "$(get missing)" = 0 ] || die "$(get missing) order events have no prediction"
[ "$(get unique)" = "$produced" ] || die "unique predictions $(get unique) != $produced"
timeout 120 "$bin/release_list" --brokers "$bs" >"$work/releases.txt" 2>"$work/release.err" ||
  die "release_list failed: $(tail -3 "$work/release.err")"
releases=$(wc -l <"$work/releases.txt")
[ "$releases" -ge 1 ] || die "no model was released on satisfy.models"
echo "releases on satisfy.models: $releases"

# the web page, readiness, Docker's health checks (satisfy-healthcheck)
page=$(curl -s --max-time 5 "http://127.0.0.1:$SATISFY_WEB_PORT/")
[[ "$page" == *"<html"* ]] || die "GET / on scorer-0 is not the web page: ${page:0:200}"
for p in "$SATISFY_WEB_PORT" "$SATISFY_WEB_PORT_2"; do
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$p/readyz")
  [ "$code" = 200 ] || die "GET /readyz on 127.0.0.1:$p answered $code"
done
healthy() { [ "$("$DOCKER" inspect -f '{{.State.Health.Status}}' "$(cid "$1")")" = healthy ]; }
for s in scorer-0 scorer-1; do
  poll 60 healthy "$s" ||
    die "$s is $("$DOCKER" inspect -f '{{.State.Health.Status}}: {{json .State.Health.Log}}' "$(cid "$s")" | tail -c 400)"
done
echo "web page answers, both scorers ready and healthy"

# the retrainer's registry in the named volume
vol=$("$DOCKER" inspect -f '{{range .Mounts}}{{if eq .Destination "/var/lib/satisfy"}}{{.Name}}{{end}}{{end}}' "$(cid retrainer)")
[ -n "$vol" ] || die "the retrainer has no volume on /var/lib/satisfy"
run -v "$vol:/var/lib/satisfy:ro" "$image" satisfy-retrainer registry list --registry /var/lib/satisfy/registry.db \
  >"$work/registry.txt" 2>&1 || die "registry list on the volume $vol failed: $(tail -3 "$work/registry.txt")"
grep -qi released "$work/registry.txt" || die "no released version in the registry: $(head -5 "$work/registry.txt")"
echo "registry in volume $vol: $(grep -ci released "$work/registry.txt") released version(s)"

# ---- 5. measurements ---------------------------------------------------------------------------
echo "containers (peak RSS, CPU time):"
hz=$(getconf CLK_TCK)
for s in broker retrainer scorer-0 scorer-1; do
  pid=$("$DOCKER" inspect -f '{{.State.Pid}}' "$(cid "$s")")
  hwm=$(awk '/VmHWM/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo "?")
  cpu=$(awk -v hz="$hz" '{ printf "%.1f", ($14 + $15) / hz }' "/proc/$pid/stat" 2>/dev/null || echo "?")
  printf '  %-10s %6s MB  %6s s\n' "$s" "$((${hwm:-0} / 1024))" "$cpu"
done
step "stopping (compose down -v)"
t0=$SECONDS
dc down -v --remove-orphans -t 60 >/dev/null 2>&1 || die "compose down failed"
echo "image_e2e: base images $t_base s, make image $t_image s, replay $t_replay s, all scored after $t_scored s, down $((SECONDS - t0)) s, total $((SECONDS - t_start)) s"
