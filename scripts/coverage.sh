#!/usr/bin/env bash
# coverage.sh BUILD_DIR - line coverage of lib/ from the whole test suite:
# runs ctest in a build configured with -DSATISFY_COVERAGE=ON, then gcovr
# prints the summary and the least-covered files, and writes an HTML report
# to BUILD_DIR/coverage/index.html. Fails when lib/ is under COVERAGE_MIN
# percent of lines (default 85).
set -euo pipefail
build=${1:?usage: coverage.sh BUILD_DIR}
root=$(cd "$(dirname "$0")/.." && pwd)
min=${COVERAGE_MIN:-85}
find "$build" -name '*.gcda' -delete
(cd "$build" && ctest --output-on-failure -j "$(nproc)" ${CTEST_ARGS:-}) || {
  echo "coverage: tests failed; coverage not computed" >&2; exit 1; }
mkdir -p "$build/coverage"
# One gcovr pass over the .gcda files: the table (files sorted by coverage, the
# least covered first) on stdout, the HTML report beside it.
gcovr -r "$root" --object-directory "$build" --filter "$root/lib/" \
  --gcov-ignore-parse-errors --sort-percentage --print-summary --fail-under-line "$min" \
  --html-details "$build/coverage/index.html" \
  --txt "$build/coverage/summary.txt" >/dev/null || status=$?
head -n 40 "$build/coverage/summary.txt"
echo "..."
grep -E '^TOTAL' "$build/coverage/summary.txt"
echo "coverage: HTML report in $build/coverage/index.html (threshold ${min}% of lines)"
exit "${status:-0}"
