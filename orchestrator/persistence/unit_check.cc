#include "orchestrator/persistence/unit_check.h"

namespace projd {

std::optional<UnitOutcome> CheckUnit(const TransactionalUnit& unit,
                                     const std::vector<std::optional<StoredPosition>>& rows) {
  bool all_at_target = !unit.checkpoints.empty();
  // A row of this generation past where the batch was read from: an earlier unit moved it.
  // (A row behind it is the runner's own checkpoint of an empty round, still pending in the
  // persistence core: the events in between were read, and none was this runner's.)
  bool some_ahead = false;
  for (std::size_t i = 0; i < unit.checkpoints.size(); ++i) {
    const auto& cp = unit.checkpoints[i];
    const auto& row = rows.at(i);
    if (row && row->generation > cp.generation) return UnitOutcome::kFenced;
    const bool same_generation = row && row->generation == cp.generation;
    if (!(same_generation && row->position >= cp.position)) all_at_target = false;
    if (same_generation && i < unit.from.size() && row->position > unit.from[i]) some_ahead = true;
  }
  if (all_at_target) return UnitOutcome::kCommitted;
  if (some_ahead) return UnitOutcome::kMoved;
  return std::nullopt;
}

}  // namespace projd
