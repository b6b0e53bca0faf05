// PositionSource: where the high-water-mark observations come from (the Postgres
// implementation is orchestrator/pg/pg_position_source.h; tests use fakes).
// Not thread-safe: one owner.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "orchestrator/high_water_mark.h"

namespace projd {

// The live transaction that holds the oldest snapshot xmin (and so holds H back).
struct HoldingTransaction {
  int pid = 0;                // 0 for a prepared transaction
  std::string xid;
  std::string xact_start;     // ISO timestamp text
  std::string database;
  std::string state;          // pg_stat_activity.state, or "prepared"
  std::string application_name;
};

class PositionSource {
 public:
  virtual ~PositionSource() = default;
  // One observation of positions in (mark, mark + window], from one statement.
  // Throws TransientError when the database is unavailable.
  virtual PositionObservation Observe(std::int64_t mark, std::int64_t window) = 0;
  // A transaction id above every id assigned before the call (PostgreSQL: the id of a
  // fresh, empty transaction). Costs one tiny transaction; called only for gaps older than
  // GAP_GRACE.
  virtual std::uint64_t NextXidBound() = 0;
  // The transaction holding the oldest xmin, if any.
  virtual std::optional<HoldingTransaction> OldestTransaction() = 0;
};

}  // namespace projd
