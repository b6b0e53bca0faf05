# The two commands a newcomer needs: `make demo` and `make test`.
# Everything else is a convenience for developers.

BUILD_DIR ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

.PHONY: all deps configure build test tsan-unit unit demo bench faults sanitize package clean

all: build

deps:
	@bash scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=ON $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

# Every test, against a private throwaway PostgreSQL 15 started for this run, then the
# threaded unit tests (persistence core, breaker, high-water mark) under ThreadSanitizer.
test: build
	@$(BUILD_DIR)/tests/projd-testpg -- ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS)
	@$(MAKE) --no-print-directory tsan-unit

# Unit tests of the concurrent parts under ThreadSanitizer (part of `make test`).
tsan-unit: deps
	@cmake --preset tsan >/dev/null
	@cmake --build --preset tsan -j $(JOBS) --target projd_unit_tests
	@TSAN_OPTIONS="halt_on_error=1" build-tsan/tests/projd_unit_tests "[persistence],[breaker],[hwm],[runner],[prefetch],[standby],[versions],[wait],[control]"

# Unit tests only (no database).
unit: build
	@ctest --test-dir $(BUILD_DIR) --output-on-failure -L unit

# The main job on an embedded default: a private PostgreSQL unless DATABASE_URL is set.
demo: build
	@$(BUILD_DIR)/cmd/projd demo

# The long fault-injection run (5 rounds of every fault in a shuffled order, 4 writers).
# PROJD_FAULTS_SEED=N replays a run; PROJD_FAULTS_ROUNDS=N changes its length. The short
# profile runs in `make test`.
faults: build
	@PROJD_FAULTS_PROFILE=long $(BUILD_DIR)/tests/projd_fault_tests --durations yes

bench: build
	@bash bench/run.sh $(BUILD_DIR)

# Debian packages in $(BUILD_DIR): projd (the binary) and projd-dev (the SDK: headers, static
# libraries, find_package(projd) with projd_add_worker). docs/projections.md.
package: build
	@cd $(BUILD_DIR) && cpack -G DEB

# Address + undefined-behaviour sanitizer build of every test.
sanitize: deps
	@cmake --preset sanitize >/dev/null
	@cmake --build --preset sanitize -j $(JOBS)
	@build-sanitize/tests/projd-testpg -- ctest --test-dir build-sanitize --output-on-failure -j $(JOBS)

clean:
	rm -rf $(BUILD_DIR) build-sanitize build-tsan
