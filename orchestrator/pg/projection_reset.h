// ResetProjection: the database side of `projd rebuild PROJECTION`, one transaction under
// the replica-set row lock: the projection's reset hook (it empties its read model), its
// checkpoints back to 0 stamped with generation G+1 (writers of older generations are
// fenced), its dead letters removed, generation G+1 with rebuild_generation = G+1, NOTIFY.
// Running workers see rebuild_generation move and restart every partition from the reset
// checkpoints (docs/projections.md, "Rebuild").
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include <pqxx/transaction>

#include "orchestrator/pg/connection.h"

namespace projd::pg {

struct ResetResult {
  std::int64_t generation = 0;   // the rebuild's generation (0: the replica set does not exist yet)
  std::int64_t checkpoints = 0;  // checkpoint rows reset
};

ResetResult ResetProjection(const ConnectionOptions& options, const std::string& replica_set,
                            const std::string& projection, const std::function<void(pqxx::work&)>& reset_hook);

}  // namespace projd::pg
