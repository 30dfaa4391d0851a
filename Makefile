# The two commands of the README:
#   make run   installs what is missing, builds, and starts chatstored on
#              127.0.0.1:8080 with the embedded SQLite store under ./data/
#   make test  installs what is missing, builds, and runs every test, in a
#              normal build and in an AddressSanitizer+UBSan build
#   make fuzz  runs every libFuzzer target for FUZZ_SECONDS (clang build)
#   make test-tsan  the concurrency tests under ThreadSanitizer
SHELL := /bin/bash
JOBS ?= $(shell nproc)
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
TSAN_BUILD ?= build-tsan
# The tests that run threads against each other: the stores' concurrent
# writers and readers, and chatstored (its own threads) under load. Test
# binaries are selected by CTest label (each test is labelled with its
# binary's name); TSAN_EXCLUDE drops the Redis and PostgreSQL instances of the
# conformance suite (their client libraries are not instrumented) and the
# four tests whose time, rate or memory bounds are calibrated for
# uninstrumented builds (TSan runs 5-15x slower with 5-10x the memory; they
# ran without a TSan report, see docs/reliability.md, and keep their bounds
# in make test). TSAN_EXCLUDE= runs them too.
TSAN_TESTS ?= ^(conformance_test|sqlite_store_test|server_(sse|lifecycle|crash|hostile|soak|sweeper)_test)$$
TSAN_EXCLUDE ?= /(Redis|Postgres)( |$$)|HostileTest\.(ThousandsOfConnectionsOpenedAndDropped|OversizedBodiesAre413|ClientsThatNeverReadAreCutWithBoundedMemory)|SoakTest\.

.PHONY: all deps build run test test-release test-asan test-tsan fuzz bench format format-check clean

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)

run: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS) --target chatstored
	$(BUILD)/src/server/chatstored --dev $(ARGS)

test: test-release test-asan format-check

test-release: build
	cd $(BUILD) && ctest --output-on-failure -j2 --timeout 600

$(ASAN_BUILD)/CMakeCache.txt:
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DCHATSTORE_SANITIZE=ON \
	  -DCHATSTORE_BUILD_BENCH=OFF -DCMAKE_CXX_FLAGS="-O1"

test-asan: deps $(ASAN_BUILD)/CMakeCache.txt
	cmake --build $(ASAN_BUILD) -j$(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j2 --timeout 900

$(FUZZ_BUILD)/CMakeCache.txt:
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCHATSTORE_FUZZ=ON -DCHATSTORE_BUILD_TESTS=OFF -DCHATSTORE_BUILD_BENCH=OFF

# Each target runs FUZZ_SECONDS; crashes land in fuzz/crashes/<target>/ and
# become regression inputs of make test (fuzz_regression_<target>).
fuzz: deps $(FUZZ_BUILD)/CMakeCache.txt
	cmake --build $(FUZZ_BUILD) -j$(JOBS) --target fuzz_all
	fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

$(TSAN_BUILD)/CMakeCache.txt:
	cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCHATSTORE_TSAN=ON \
	  -DCHATSTORE_BUILD_BENCH=OFF

test-tsan: deps $(TSAN_BUILD)/CMakeCache.txt
	cmake --build $(TSAN_BUILD) -j$(JOBS) --target chatstored conformance_test \
	  sqlite_store_test server_sse_test server_lifecycle_test server_crash_test \
	  server_hostile_test server_soak_test server_sweeper_test
	cd $(TSAN_BUILD) && TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$(CURDIR)/tests/tsan.supp" \
	  ctest --output-on-failure -j2 --timeout 900 -L '$(TSAN_TESTS)' -E '$(TSAN_EXCLUDE)'

bench: build
	bench/run.sh

format:
	git ls-files '*.cc' '*.h' | xargs clang-format -i

format-check:
	@out=$$(git ls-files '*.cc' '*.h' | xargs clang-format --dry-run 2>&1); \
	if [ -n "$$out" ]; then echo "$$out" | head -40; \
	  echo "clang-format: run 'make format'"; exit 1; fi; echo "clang-format: ok"

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) $(TSAN_BUILD)
