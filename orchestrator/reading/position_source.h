// PositionSource: where the high-water-mark observations come from, and where the proven
// mark is kept between processes (the Postgres implementation is
// orchestrator/reading/pg/pg_position_source.h; tests use fakes). Not thread-safe: one owner.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "orchestrator/reading/high_water_mark.h"
#include "orchestrator/reading/wal_marks.h"

namespace projd {

// A live transaction that holds H back: a writer of events that a gap's proof waits for.
struct HoldingTransaction {
  int pid = 0;                // 0 for a prepared transaction
  std::string xid;            // "" while it has none (e.g. waiting inside its INSERT)
  std::string xact_start;     // ISO timestamp text
  std::string database;
  std::string state;          // pg_stat_activity.state, or "prepared"
  std::string application_name;
  std::string wait_event;     // what it waits on, e.g. "Lock/transactionid" ("" when running)
};

enum class WithWriters { kNo, kYes };

// The position sequence's last handed-out value, read by one statement.
struct LastPosition {
  std::int64_t position = 0;
  std::string history;       // the events history current when it was read
  bool in_recovery = false;  // a hot standby: its sequence says nothing about the primary
};

// The transactions holding a granted write lock on events, read by one statement.
struct WriterCensus {
  std::vector<WriteLockHolder> holders;
  std::string history;  // the events history current when they were read
};

// A proven mark as stored, with the history it was proven for.
struct StoredMark {
  std::int64_t mark = 0;
  std::string history;  // the events history current when it was read
};

class PositionSource {
 public:
  virtual ~PositionSource() = default;
  // One observation of positions in (mark, mark + window], from one statement; with
  // kYes it also reads the write-lock holders on events (after its snapshot).
  // Throws TransientError when the database is unavailable.
  virtual PositionObservation Observe(std::int64_t mark, std::int64_t window, WithWriters writers) = 0;
  // For the backlog barrier (orchestrator/reading/backlog_barrier.h): the sequence's last value,
  // and, by a later statement, the current write-lock holders on events.
  virtual LastPosition ReadLastPosition() = 0;
  virtual WriterCensus ReadWriters() = 0;
  // The oldest of `writers` that still holds its write lock, if any (for /status).
  virtual std::optional<HoldingTransaction> OldestWriter(const std::vector<WriteLockHolder>& writers) = 0;
  // The highest mark any process proved for the current history of this events table
  // (mark 0 when none was stored for it), and that history.
  virtual StoredMark LoadProvenMark() = 0;
  // Records `mark` as proven for `history`; does nothing when that is no longer the current
  // history; never lowers a stored mark of the same history.
  virtual void SaveProvenMark(std::int64_t mark, const std::string& history) = 0;
  // The primary's WAL insert position now (for standby reads: WalMarks); read after a mark
  // was proven, it is at or past the commit of every event the mark relies on. nullopt
  // where there is no WAL (fakes).
  virtual std::optional<WalPosition> ReadWalPosition() { return std::nullopt; }
};

}  // namespace projd
