// The compare-and-set rule of a transactional unit, shared by every CheckpointStore: what
// to do with a unit given its checkpoint rows as locked in the unit's transaction.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "orchestrator/persistence/checkpoint_store.h"

namespace projd {

struct StoredPosition {
  std::int64_t generation = 0;
  std::int64_t position = 0;
};

// `rows[i]` is the stored row of unit.checkpoints[i] (nullopt: no row yet). Returns the
// outcome when the unit must not be applied, nullopt when it may:
//  - a row of a newer generation: kFenced;
//  - every row of this generation at its target: kCommitted (a retried unit whose reply
//    was lost);
//  - otherwise, with unit.from given, any row of this generation past its `from`: kMoved (an
//    earlier unit whose outcome was in doubt moved it; applying this batch would repeat
//    events). A row behind its `from` is fine: the runner advanced past events that were not
//    its own (an empty round) and that checkpoint is still on its way through the
//    persistence core; the unit's write takes the row to its target.
std::optional<UnitOutcome> CheckUnit(const TransactionalUnit& unit,
                                     const std::vector<std::optional<StoredPosition>>& rows);

}  // namespace projd
