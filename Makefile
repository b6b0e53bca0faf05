# The two commands a newcomer needs: `make demo` and `make test`.
# Everything else is a convenience for developers.

BUILD_DIR ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

.PHONY: all deps configure build test unit demo bench sanitize clean

all: build

deps:
	@bash scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=ON $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

# Every test, against a private throwaway PostgreSQL 15 started for this run.
test: build
	@$(BUILD_DIR)/tests/projd-testpg -- ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS)

# Unit tests only (no database).
unit: build
	@ctest --test-dir $(BUILD_DIR) --output-on-failure -L unit

# The main job on an embedded default: a private PostgreSQL unless DATABASE_URL is set.
demo: build
	@$(BUILD_DIR)/cmd/projd demo

bench: build
	@bash bench/run.sh $(BUILD_DIR)

# Address + undefined-behaviour sanitizer build of every test.
sanitize: deps
	@cmake --preset sanitize >/dev/null
	@cmake --build --preset sanitize -j $(JOBS)
	@build-sanitize/tests/projd-testpg -- ctest --test-dir build-sanitize --output-on-failure -j $(JOBS)

clean:
	rm -rf $(BUILD_DIR) build-sanitize build-tsan
