# satisfy - what a user types. Every target installs the missing Debian
# packages it needs first (scripts/install-deps.sh GROUP: idempotent, quiet
# when nothing is missing; `build` needs only the compiler and libraries).
#   make demo     whole story on the embedded broker (SERVE=1 keeps it up)
#   make test     Release build + ctest          make asan   ASan+UBSan build + ctest
#   make build    Release build                  make bench  benchmarks -> docs/benchmarks.md
#   make fuzz     libFuzzer on every decoder of untrusted input (FUZZ_SECONDS=60
#                 shared, at least FUZZ_MIN_SECONDS=30 each: scripts/run-fuzz.sh)
#   make coverage line coverage of lib/ from the tests (gcovr; fails under 85%)
#   make image    container image satisfy:VERSION and satisfy:latest (deploy/Dockerfile)
#   make install  binaries, systemd units and /etc/satisfy/satisfy.env (PREFIX, DESTDIR)
#   make format   clang-format every C file
JOBS       ?= $(shell nproc)
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
COV_BUILD  ?= build-cov
FUZZ_SECONDS ?= 60
CTEST_ARGS ?=

export OMP_WAIT_POLICY ?= passive

.PHONY: all deps build test asan bench demo fuzz coverage image install format clean

# version of the image tag: the project version in CMakeLists.txt
VERSION := $(shell sed -n 's/^project.satisfy VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
IMAGE   ?= satisfy
DOCKER  ?= docker
# host network: the build stage's apt-get works where Docker has no bridge
DOCKER_BUILD_FLAGS ?= --network host

# make install: PREFIX/bin, units in UNITDIR, the environment file in SYSCONFDIR
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
UNITDIR    ?= $(PREFIX)/lib/systemd/system
SYSCONFDIR ?= /etc
DESTDIR    ?=
WORKERS    := satisfy-broker satisfy-producer satisfy-scorer satisfy-retrainer satisfy-datagen

all: build

deps:
	@bash scripts/install-deps.sh

deps-%:
	@bash scripts/install-deps.sh $*

build: deps-build
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

test: deps-test build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

asan: deps-test
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSATISFY_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	@cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

fuzz: deps-fuzz
	@CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSATISFY_SANITIZE=ON -DSATISFY_FUZZ=ON >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS)
	@bash scripts/run-fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

coverage: deps-test
	@cmake -S . -B $(COV_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSATISFY_COVERAGE=ON >/dev/null
	@cmake --build $(COV_BUILD) -j $(JOBS)
	@bash scripts/coverage.sh $(COV_BUILD)

bench: deps-bench build
	@bash bench/run.sh $(BUILD)

demo: deps-demo build
	@bash scripts/demo.sh $(BUILD)

# The base images are pulled, or built with mmdebstrap where no registry answers.
image: deps-image
	@bash deploy/base-images.sh
	$(DOCKER) build $(DOCKER_BUILD_FLAGS) -f deploy/Dockerfile -t $(IMAGE):$(VERSION) -t $(IMAGE):latest .
	@$(DOCKER) image inspect -f '$(IMAGE):$(VERSION) {{.Size}} bytes' $(IMAGE):$(VERSION)

# Units get the real paths; an existing satisfy.env (local settings) is kept.
install: build
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSCONFDIR)/satisfy
	install -m 0755 $(addprefix $(BUILD)/bin/,$(WORKERS)) $(DESTDIR)$(BINDIR)/
	for u in deploy/systemd/*.service; do \
	  sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' $$u \
	    >$(DESTDIR)$(UNITDIR)/$$(basename $$u) && chmod 0644 $(DESTDIR)$(UNITDIR)/$$(basename $$u) || exit 1; \
	done
	[ -e $(DESTDIR)$(SYSCONFDIR)/satisfy/satisfy.env ] || \
	  install -m 0600 deploy/systemd/satisfy.env $(DESTDIR)$(SYSCONFDIR)/satisfy/satisfy.env

format:
	@find include lib producer scorer retrainer broker tests bench -name '*.[ch]' | xargs clang-format -i

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) $(COV_BUILD)
