#!/usr/bin/env bash
# bench/run.sh BUILD_DIR - runs every bench/*.sh benchmark in turn. Each one
# measures satisfy against a baseline in the same run and prints a markdown
# section; the sections are collected in bench/out/results.md, to be copied
# into docs/benchmarks.md with the date and machine.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="$(cd "${1:-build}" && pwd)"
out="$here/out"
mkdir -p "$out"
export SATISFY_BIN_DIR="$build/bin" SATISFY_SOURCE_DIR="$(dirname "$here")"
export OMP_WAIT_POLICY=passive BENCH_OUT="$out"
: >"$out/results.md"
for b in "$here"/bench_*.sh; do
  [ -e "$b" ] || continue
  echo "== $(basename "$b")"
  bash "$b" | tee -a "$out/results.md"
done
echo "results: $out/results.md"
