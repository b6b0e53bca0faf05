// The stream the read benchmarks share: migrate the schema, seed it up to N events over
// 10,000 aggregates (printing how long that took), ANALYZE. And the malloc tuning they
// share: large result sets otherwise make glibc return and re-fetch memory every batch.
#pragma once

#include <cstdint>

#include "orchestrator/pg/connection.h"

namespace projd::bench {

// Returns the last global position.
std::int64_t PrepareSeededStream(const pg::ConnectionOptions& db, std::int64_t events);

// M_TRIM_THRESHOLD 256 MiB, M_MMAP_THRESHOLD 64 MiB.
void TuneMalloc();

}  // namespace projd::bench
