// WalMarks: the high-water marks the follower proved on the primary, each paired with the
// primary's WAL insert position read after its proof. A hot standby that has replayed up to
// that position sees every commit the mark relies on, so it may serve every position up to
// the mark (docs/reading.md, "Reading from hot standbys"). The same records date the
// primary's WAL over time, which gives a standby's lag in seconds. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>

#include "orchestrator/common/clock.h"

namespace projd {

// A position in one server's WAL history: LSNs compare only within one system and timeline.
struct WalPosition {
  std::uint64_t lsn = 0;
  std::uint32_t timeline = 0;
  std::string system_id;  // pg_control_system().system_identifier
  bool SameHistory(const WalPosition& o) const { return timeline == o.timeline && system_id == o.system_id; }
};

class WalMarks {
 public:
  using TimePoint = Clock::Monotonic::time_point;
  explicit WalMarks(std::size_t capacity = 4096) : capacity_(capacity) {}

  // Every position <= mark is final, and WAL up to `at` holds every commit that made it so.
  // A lower mark (the events history started over) or another WAL history forgets what
  // was recorded before.
  void Record(std::int64_t mark, const WalPosition& at, TimePoint now);
  // The highest recorded mark a standby of history `standby` that replayed WAL up to
  // standby.lsn can serve; 0 when none.
  std::int64_t MarkServedBy(const WalPosition& standby) const;
  // The latest recorded primary position (nullopt before the first).
  std::optional<WalPosition> Latest() const;
  // How long ago the primary had written WAL past `replayed`: zero when the standby has
  // replayed everything recorded. Its resolution is the follower's rounds.
  std::chrono::milliseconds LagBehind(std::uint64_t replayed, TimePoint now) const;
  std::size_t size() const;

 private:
  struct Entry {
    std::int64_t mark = 0;
    std::uint64_t lsn = 0;
    TimePoint at{};
  };
  void Thin();

  mutable std::mutex mu_;
  std::size_t capacity_;
  std::optional<WalPosition> history_;  // the latest position, and so the history kept
  std::deque<Entry> entries_;           // ascending lsn, non-decreasing mark
};

}  // namespace projd
