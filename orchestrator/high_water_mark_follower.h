// HighWaterMarkFollower: keeps the high-water mark H current from a PositionSource.
//
// Advance() observes window after window until H stops moving (catching up a long stream
// takes several windows), and is supervised: a failing observation (database outage,
// broken connection) is counted, logged by the caller through last_error(), and the next
// Advance() starts again from the kept state. It never throws for TransientError, so the
// loop that calls it never dies silently. Not thread-safe: one owner; publish mark() to
// other threads yourself.
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <string>

#include "orchestrator/clock.h"
#include "orchestrator/high_water_mark.h"
#include "orchestrator/position_source.h"

namespace projd {

struct HighWaterMarkStatus {
  std::int64_t mark = 0;
  std::size_t open_gaps = 0;
  std::chrono::milliseconds oldest_gap_age{0};
  std::int64_t errors = 0;  // failed observations since start (each one restarted the loop)
  // The mark waits on a live transaction: the lowest gap outlived GAP_GRACE and its proof
  // (every transaction older than it ended) is pending. held_by names the oldest one.
  bool held = false;
  std::optional<HoldingTransaction> held_by;
};

class HighWaterMarkFollower {
 public:
  static constexpr std::int64_t kDefaultWindow = 100'000;

  HighWaterMarkFollower(PositionSource& source, const Clock& clock, std::chrono::milliseconds gap_grace,
                        std::int64_t start = 0, std::int64_t window = kDefaultWindow);

  // Observes until H is stable. Returns true when it completed, false when an observation
  // failed or its outcome was in doubt (see last_error(); the state is kept and the next
  // call continues).
  bool Advance();

  std::int64_t mark() const { return hwm_.mark(); }
  // Status for /status and metrics; looks up the holding transaction when H waits on one
  // (one extra query, only then).
  HighWaterMarkStatus Status();
  const std::string& last_error() const { return last_error_; }
  std::int64_t errors() const { return errors_; }

 private:
  bool Failed(const std::exception& e);

  PositionSource& source_;
  const Clock& clock_;
  HighWaterMark hwm_;
  std::int64_t window_;
  std::int64_t errors_ = 0;
  std::string last_error_;
};

}  // namespace projd
