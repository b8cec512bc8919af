#!/usr/bin/env bash
# pipeline.sh - the whole story through Kafka, as `make demo` runs it:
# satisfy-broker, satisfy-retrainer run, satisfy-scorer and satisfy-producer
# together (scripts/demo.sh), on the real sample when OLIST_DIR is set, else on
# a generated dataset. Checks:
#   - every order event on satisfy.orders has exactly one prediction
#     (read_committed; id sets compared by consume_predictions);
#   - nothing was dropped by the embedded broker's retention;
#   - at least 2 model releases happened during the replay;
#   - each prediction carries the model version current when it was scored:
#     a released version, never older than the newest release published more
#     than GRACE seconds before the prediction (the time the scorer needs to
#     read a release and finish its batch), and per partition the versions
#     never go back;
#   - the scorer alerts at-risk orders with the threshold of the release it
#     scores with (chosen at training, "alert" in the release's metrics):
#     it logged that threshold and committed alerts to satisfy.alerts.
source "$(dirname "$0")/common.bash"
not_sanitized "a demo-speed replay; shadow runs the three workers together"
src="${SATISFY_SOURCE_DIR:?}"
GRACE=10

port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export DEMO_OUT="$work/demo" DEMO_HTTP="127.0.0.1:$port"
# The demo's own pace: slow enough that a retrain (seconds under ASan) lands
# between retrain points instead of merging them, so the replay has several
# gate decisions whatever the build.
export DEMO_SPEED="${DEMO_SPEED:-500000}" DEMO_ORDERS="${DEMO_ORDERS:-15000}"
export DEMO_RETRAIN_EVERY="${DEMO_RETRAIN_EVERY:-1500}" SERVE=0

status=0
timeout 600 bash "$src/scripts/demo.sh" "$(dirname "$bin")" >"$work/demo.log" 2>&1 || status=$?
if [ "$status" != 0 ]; then
  tail -60 "$work/demo.log" >&2
  for f in "$DEMO_OUT"/*.log; do echo "--- $f" >&2; grep -v CONFWARN "$f" | tail -10 >&2 || true; done
  die "demo exited $status"
fi
sed -n '/satisfy demo summary/,/^=====*$/p' "$work/demo.log"
grep -q "alerts: threshold 0\.[0-9]* of release [0-9]" "$DEMO_OUT/scorer.log" ||
  die "the scorer took no alert threshold from a release: $(grep 'alerts:' "$DEMO_OUT/scorer.log" | tail -3)"
n_alerts=$(awk '$1 == "satisfy_scorer_alerts_total" { print $2 }' "$DEMO_OUT/alerts.txt")
[ "${n_alerts:-0}" -gt 0 ] || die "no alerts committed with the releases' threshold: $(cat "$DEMO_OUT/alerts.txt")"
echo "alerts: $n_alerts at-risk orders alerted; $(grep -o 'alerts: threshold [0-9.]* of release [0-9]*' "$DEMO_OUT/scorer.log" | tail -1)"

/usr/bin/python3 - "$DEMO_OUT" "$GRACE" <<'EOF'
import bisect, sys
out, grace_ms = sys.argv[1], int(sys.argv[2]) * 1000
rep = {}
for line in open(out + "/predictions.txt"):
    f = line.split()
    if len(f) >= 2 and f[1].isdigit():
        rep.setdefault(f[0], int(f[1]))
produced = None
for line in open(out + "/producer.log"):
    f = line.split()
    if f and f[0] == "satisfy.orders":
        produced = int(f[1])

def check(cond, msg):
    if not cond:
        sys.exit("FAIL: " + msg)

check(produced and produced > 0, "producer summary not found")
check(rep.get("expected") == produced,
      "satisfy.orders holds %s events, %s were produced (retention?)" % (rep.get("expected"), produced))
check(rep.get("missing") == 0, "%s order events without a prediction" % rep.get("missing"))
check(rep.get("duplicates") == 0, "%s duplicate predictions" % rep.get("duplicates"))
check(rep.get("unexpected") == 0, "%s predictions for unknown events" % rep.get("unexpected"))
check(rep.get("bad") == 0, "%s bad predictions" % rep.get("bad"))
check(rep.get("unique") == produced, "unique predictions %s != %s" % (rep.get("unique"), produced))

rel = []  # (released_at, version)
for line in open(out + "/releases.txt"):
    f = line.split()
    rel.append((int(f[7]), int(f[1])))
rel.sort()
check(len(rel) >= 2, "only %d model release(s) during the replay" % len(rel))
versions = {v for _, v in rel}
times = [t for t, _ in rel]

def current(t):
    i = bisect.bisect_right(times, t)
    return max(v for _, v in rel[:i]) if i else None

last = {}
stale = 0
n = 0
for line in open(out + "/predictions.dump"):
    eid, ver, part, off, scored = line.split()
    ver, part, off, scored = int(ver), int(part), int(off), int(scored)
    n += 1
    check(ver in versions, "%s was scored by v%d, which was never released" % (eid, ver))
    cur = current(scored)
    check(cur is not None and ver <= cur,
          "%s scored at %d by v%d before that release was published" % (eid, scored, ver))
    old = current(scored - grace_ms)
    if old is not None and ver < old:
        stale += 1
        if stale <= 3:
            print("stale: %s scored by v%d, v%d was published %.1f s earlier"
                  % (eid, ver, old, (scored - times[[v for _, v in rel].index(old)]) / 1000))
    prev_off, prev_ver = last.get(part, (-1, 0))
    check(off > prev_off, "dump not in offset order")
    check(ver >= prev_ver,
          "partition %d went back from v%d to v%d at offset %d" % (part, prev_ver, ver, off))
    last[part] = (off, ver)
check(n == produced, "dump has %d predictions, expected %d" % (n, produced))
check(stale == 0, "%d predictions used a model older than the current one" % stale)
print("ok: %d order events, %d predictions, releases %s, versions per partition monotone"
      % (produced, n, " ".join("v%d" % v for _, v in rel)))
EOF
