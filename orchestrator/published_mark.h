// PublishedMark: the high-water mark as the follower thread publishes it to the runners,
// with a signal that wakes them when it moves, and whether it is held: not advancing
// because a live transaction keeps a gap unproven. Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>

#include "orchestrator/wake_signal.h"

namespace projd {

struct PublishedMark {
  std::atomic<std::int64_t> value{0};
  std::atomic<bool> held{false};
  WakeSignal changed;

  void Publish(std::int64_t mark) {
    if (value.exchange(mark) != mark) changed.Notify();
  }
};

}  // namespace projd
