# satisfy - what a user types. Every target installs missing Debian packages
# first (scripts/install-deps.sh is idempotent and quiet when nothing is missing).
#   make demo     whole story on the embedded broker (SERVE=1 keeps it up)
#   make test     Release build + ctest          make asan   ASan+UBSan build + ctest
#   make build    Release build                  make bench  benchmarks -> docs/benchmarks.md
#   make fuzz     libFuzzer on the decoder (FUZZ_SECONDS=60)
#   make coverage line coverage of lib/ from the tests (gcovr; fails under 85%)
#   make format   clang-format every C file
JOBS       ?= $(shell nproc)
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
COV_BUILD  ?= build-cov
FUZZ_SECONDS ?= 60
CTEST_ARGS ?=

export OMP_WAIT_POLICY ?= passive

.PHONY: all deps build test asan bench demo fuzz coverage format clean

all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

test: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSATISFY_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	@cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

fuzz: deps
	@CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSATISFY_SANITIZE=ON -DSATISFY_FUZZ=ON >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS)
	@bash scripts/run-fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

coverage: deps
	@cmake -S . -B $(COV_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSATISFY_COVERAGE=ON >/dev/null
	@cmake --build $(COV_BUILD) -j $(JOBS)
	@bash scripts/coverage.sh $(COV_BUILD)

bench: build
	@bash bench/run.sh $(BUILD)

demo: build
	@bash scripts/demo.sh $(BUILD)

format:
	@find include lib producer scorer retrainer broker tests bench -name '*.[ch]' | xargs clang-format -i

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) $(COV_BUILD)
