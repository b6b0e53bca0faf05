// PublishedMark: the high-water mark as the follower thread publishes it to the runners,
// with a signal that wakes them when it moves, and whether it is held: not advancing
// because a live transaction keeps a gap unproven. Until the follower has completed its first
// observation, `observed` is false and the value (0) means "unknown", not "nothing to do":
// runners do not report caught_up, and lag is not reported. Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>

#include "orchestrator/common/wake_signal.h"

namespace projd {

struct PublishedMark {
  std::atomic<std::int64_t> value{0};
  std::atomic<bool> held{false};
  std::atomic<bool> observed{false};  // set once, by the first complete observation
  WakeSignal changed;

  // `complete`: the follower's round observed the stream (a failed first round is not an
  // observation). The value is stored before `observed`, so a reader that sees observed
  // sees an observed value.
  void Publish(std::int64_t mark, bool complete = true) {
    const bool moved = value.exchange(mark) != mark;
    const bool first = complete && !observed.exchange(true);
    if (moved || first) changed.Notify();
  }
};

}  // namespace projd
