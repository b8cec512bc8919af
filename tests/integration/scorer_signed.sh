#!/usr/bin/env bash
# scorer_signed.sh - release signing on satisfy-broker: a scorer started with
# --verify-key ignores an unsigned release and one signed with another key
# (made with the documented openssl command), each logged and counted in
# satisfy_scorer_releases_rejected_total{reason="signature"}, and loads and
# scores with the release signed by its pair (made with satisfy-retrainer
# keygen). A scorer without a key warns that it is in unsigned mode; a bad
# key file is a start-up error.
source "$(dirname "$0")/scorer_common.bash"

make_data
start_broker
timeout 300 "$bin/satisfy-producer" --brokers "$bs" --data "$data" --speed 0 --max-events 2000 \
  --no-progress >"$work/prod.out" 2>"$work/prod.err" || fail "replay failed"

"$bin/satisfy-retrainer" keygen "$work/release.key" "$work/release.pub" >/dev/null ||
  fail "satisfy-retrainer keygen failed"
[ "$(stat -c %a "$work/release.key")" = 600 ] || fail "private key mode is not 600"
openssl genpkey -algorithm ed25519 -out "$work/other.key" 2>/dev/null || fail "openssl genpkey"

start_scorer scorer --http 127.0.0.1:0 --verify-key "$work/release.pub"
wait_log scorer "serving /healthz and /metrics on port [1-9]" 30
port=$(http_port scorer)
wait_log scorer "waiting for a model release on satisfy.models" 30
grep -q "WARNING" "$work/scorer.err" && fail "a scorer with a verify key warns: $(grep WARNING "$work/scorer.err")"

"$bin/publish_model" --brokers "$bs" --version 4 --data "$data" >/dev/null 2>"$work/pub0.err" ||
  fail "publish_model (unsigned) failed: $(cat "$work/pub0.err")"
wait_log scorer "ignoring unsigned or wrongly signed release at satisfy.models \[0\] @0: unsigned" 30
"$bin/publish_model" --brokers "$bs" --version 5 --data "$data" --signing-key "$work/other.key" \
  >/dev/null 2>"$work/pub1.err" || fail "publish_model (other key) failed: $(cat "$work/pub1.err")"
wait_log scorer "ignoring unsigned or wrongly signed release at satisfy.models \[0\] @1: bad signature" 30
grep -q "scoring with model" "$work/scorer.err" && fail "scorer loaded an unsigned or wrongly signed release"
echo "unsigned and wrongly signed releases ignored"

"$bin/publish_model" --brokers "$bs" --version 3 --data "$data" --signing-key "$work/release.key" \
  >/dev/null 2>"$work/pub2.err" || fail "publish_model (signed) failed: $(cat "$work/pub2.err")"
wait_log scorer "scoring with model 3" 30
m=$(curl -s --max-time 5 "http://127.0.0.1:$port/metrics") || fail "/metrics did not answer"
grep -q '^satisfy_scorer_releases_rejected_total{reason="signature"} 2$' <<<"$m" ||
  fail "/metrics: $(grep rejected <<<"$m")"
grep -q "^satisfy_scorer_model_version 3$" <<<"$m" || fail "/metrics: model version: $(grep model_version <<<"$m")"
wait_for 60 "predictions by model 3" _more_than "$port" 0
echo "signed release 3 loaded and scoring; 2 signature rejections on /metrics"
stop_scorer

start_scorer unsigned
wait_log unsigned "WARNING: release signatures are not checked" 30
stop_scorer
expect_status 1 "--verify-key" timeout 60 "$bin/satisfy-scorer" --brokers "$bs" \
  --verify-key "$work/release.key"
expect_status 1 "--signing-key" timeout 60 "$bin/satisfy-retrainer" run --brokers "$bs" \
  --registry "$work/r.db" --signing-key "$work/release.pub"
echo "scorer_signed: ok"
