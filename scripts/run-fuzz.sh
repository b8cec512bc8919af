#!/usr/bin/env bash
# run-fuzz.sh BUILD_DIR SECONDS - runs every libFuzzer target in BUILD_DIR/bin
# (fuzz_*), sharing SECONDS between them but giving each at least
# FUZZ_MIN_SECONDS (default 30: below that a target hardly leaves its seeds),
# so the run takes max(SECONDS, targets x FUZZ_MIN_SECONDS): 6 targets and
# CI's 60 s make 3 minutes. Each runs on a seed corpus: the files committed
# under tests/fuzz/corpus/<target>/ plus, for the wire decoders (fuzz_decode,
# fuzz_release), valid messages written by codec_sample (when built). Fails
# when a target crashes, leaks, trips UBSan or times out; the crashing input
# is left in BUILD_DIR/fuzz-artifacts/. Prints each target's executions.
set -euo pipefail
BUILD=${1:?usage: run-fuzz.sh BUILD_DIR SECONDS}
SECONDS_TOTAL=${2:?usage: run-fuzz.sh BUILD_DIR SECONDS}
MIN=${FUZZ_MIN_SECONDS:-30}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN="$BUILD/bin"

shopt -s nullglob
targets=("$BIN"/fuzz_*)
if [ ${#targets[@]} -eq 0 ]; then
    echo "run-fuzz: no fuzz_* targets in $BIN (configure with CC=clang -DSATISFY_FUZZ=ON)" >&2
    exit 1
fi
per=$((SECONDS_TOTAL / ${#targets[@]}))
[ "$per" -ge "$MIN" ] || per=$MIN
echo "run-fuzz: ${#targets[@]} target(s), ${per}s each"
artifacts="$BUILD/fuzz-artifacts"
mkdir -p "$artifacts"

status=0
for t in "${targets[@]}"; do
    name=$(basename "$t")
    corpus="$BUILD/fuzz-corpus/$name"
    mkdir -p "$corpus"
    if [ -d "$ROOT/tests/fuzz/corpus/$name" ]; then
        cp -n "$ROOT/tests/fuzz/corpus/$name"/* "$corpus"/ 2>/dev/null || true
    fi
    if [ -x "$BIN/codec_sample" ] && [[ $name == fuzz_decode* || $name == fuzz_release* ]]; then
        seeds=$(mktemp -d)
        "$BIN/codec_sample" "$seeds" >/dev/null
        for f in "$seeds"/*.bin; do cp "$f" "$corpus/seed_$(basename "$f")"; done
        rm -rf "$seeds"
    fi
    echo "== $name: ${per}s, corpus $(ls "$corpus" | wc -l) files"
    log="$BUILD/fuzz-$name.log"
    if ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "$t" -max_total_time="$per" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" >"$log" 2>&1; then
        grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$log" | sed 's/^/   /' || true
    else
        echo "run-fuzz: $name FAILED; last lines of $log:" >&2
        tail -n 40 "$log" >&2
        status=1
    fi
done
[ $status -eq 0 ] && echo "run-fuzz: no crash in ${#targets[@]} target(s)"
exit $status
