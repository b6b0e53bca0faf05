#include "orchestrator/high_water_mark_follower.h"

#include "orchestrator/errors.h"

namespace projd {

HighWaterMarkFollower::HighWaterMarkFollower(PositionSource& source, const Clock& clock,
                                             std::chrono::milliseconds gap_grace, std::int64_t start,
                                             std::int64_t window)
    : source_(source), clock_(clock), hwm_(start, gap_grace), window_(window) {}

bool HighWaterMarkFollower::Advance() {
  try {
    while (true) {
      const std::int64_t before = hwm_.mark();
      const auto obs = source_.Observe(before, window_);
      hwm_.Observe(obs, clock_.Now());
      if (hwm_.NeedsXidBound(clock_.Now())) {
        // x2 for the gaps past their grace; the next observation may already prove them.
        hwm_.RecordXidBound(source_.NextXidBound(), clock_.Now());
        hwm_.Observe(source_.Observe(hwm_.mark(), window_), clock_.Now());
      }
      // Another window only when this one was full and H reached its end.
      if (hwm_.mark() < before + window_ || obs.upper < before + window_) return true;
    }
  } catch (const TransientError& e) {
    return Failed(e);
  } catch (const InDoubtError& e) {
    // The connection broke while the x2 transaction committed (it writes nothing, so its
    // outcome does not matter): a failed round like any other. Before, this escaped the
    // follower thread and terminated the worker (found by the fault suite).
    return Failed(e);
  }
}

bool HighWaterMarkFollower::Failed(const std::exception& e) {
  ++errors_;
  last_error_ = e.what();
  return false;
}

HighWaterMarkStatus HighWaterMarkFollower::Status() {
  HighWaterMarkStatus s;
  s.mark = hwm_.mark();
  s.open_gaps = hwm_.open_gaps();
  s.oldest_gap_age = hwm_.OldestGapAge(clock_.Now());
  s.errors = errors_;
  if (const auto gap = hwm_.blocking_gap(); gap && gap->proof_xid && !gap->proven) {
    s.held = true;
    try {
      s.held_by = source_.OldestTransaction();
    } catch (const Error&) {
      // Diagnostics only: the status stays without the holder.
    }
  }
  return s;
}

}  // namespace projd
