// The raw keyset scan every catch-up figure is compared with: one connection reading the
// whole events table in position order, `batch` rows at a time, converting each row to a
// projd::Event like the reader does. What a minimal client reading everything costs.
#pragma once

#include <cstdint>

#include "orchestrator/pg/connection.h"

namespace projd::bench {

// Reads up to `total` events; returns events per second.
double RawScan(const pg::ConnectionOptions& db, int batch, std::int64_t total);

}  // namespace projd::bench
