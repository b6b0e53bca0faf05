// PersistencePressure: what the persistence core does about checkpoints that are pending
// but not durable yet (docs/persistence.md, "Backpressure"). Pure: the caller measures.
//
// Backpressure protects memory and bounds the replay window; it never waits for a timer.
// Long before a runner would have to pause, the work itself triggers a flush ("lag"
// trigger): when pending checkpoints are half the lag limit ahead of what is durable or
// being written, or when the pending keys reach half of MAX_PENDING.
// A runner pauses only past the hard limits, i.e. while flushes fail or cannot keep up,
// and a runner that pauses has asked for a flush at the same time. PERSISTENCE_INTERVAL
// only bounds how stale a durable checkpoint may be when nothing else triggers a flush.
#pragma once

#include <chrono>
#include <cstdint>

namespace projd {

struct PressureLimits {
  std::int64_t max_lag_events = 100000;         // widest pending-minus-durable distance
  std::chrono::milliseconds max_lag_time{30000};  // age of the oldest pending checkpoint
  int max_pending = 1000;                       // pending plus in-flight keys
};

struct PressureReading {
  std::int64_t lag_events = 0;  // widest distance from pending to durable
  std::chrono::milliseconds oldest_age{0};
  int used = 0;  // pending plus in-flight keys
  // Widest distance from pending to what is durable or being written: what a new flush
  // would add. A flush in flight already covers the rest, so this, not lag_events,
  // triggers the next one (else every submit during a flush asked for another at once).
  std::int64_t unflushed_events = 0;
};

enum class PressureAction {
  kNone,   // keep coalescing; the interval (or size) trigger writes it
  kFlush,  // flush now, the runner goes on
  kPause,  // flush now, and the runner stops pulling events until the lag shrinks
};

inline PressureAction AssessPressure(const PressureReading& r, const PressureLimits& l) {
  if (r.lag_events > l.max_lag_events || r.oldest_age > l.max_lag_time || r.used >= l.max_pending) {
    return PressureAction::kPause;
  }
  if (2 * r.unflushed_events > l.max_lag_events || 2 * r.used >= l.max_pending) return PressureAction::kFlush;
  return PressureAction::kNone;
}

}  // namespace projd
