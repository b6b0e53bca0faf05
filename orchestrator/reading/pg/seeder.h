// Seeder: bulk synthetic events for demos and benchmarks (`projd seed`).
//
// Appends `events` events round-robin over `aggregates` streams named
// "<prefix>-000000".."<prefix>-NNNNNN" (bounded context "seed", aggregate type "account"),
// continuing each stream after its current aggregate_heads version, in chunks of
// `chunk` events per transaction (server-side INSERT ... SELECT, one statement per
// chunk). Event positions interleave the aggregates like real traffic. Not thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "orchestrator/pg/connection.h"

namespace projd::pg {

struct SeedOptions {
  std::int64_t aggregates = 1000;
  std::int64_t events = 100000;
  std::int64_t chunk = 50000;
  std::string prefix = "agg";
};

struct SeedResult {
  std::int64_t events = 0;
  std::int64_t first_position = 0;
  std::int64_t last_position = 0;
};

// Throws PermanentError for a version clash with concurrent writers, TransientError when
// the database is unavailable. `progress(done)` is called after each chunk.
SeedResult Seed(const ConnectionOptions& options, const SeedOptions& seed,
                const std::function<void(std::int64_t)>& progress = {});

}  // namespace projd::pg
