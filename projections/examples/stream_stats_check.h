// The exactly-once check that stream_stats makes possible: aggregates whose stream_stats
// row disagrees with the events table (event count or sum of versions), either way round.
// 0 means every event was applied exactly once. Used by `projd demo` and the tests.
#pragma once

#include <cstdint>

#include "orchestrator/pg/connection.h"

namespace projd::examples {

std::int64_t StreamStatsMismatches(const pg::ConnectionOptions& db);

}  // namespace projd::examples
