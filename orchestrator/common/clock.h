// Clock: the injectable source of time for every decision in projd.
//
// Decisions take a Clock& so tests drive time by hand (tests/support/fake_clock.h).
// Liveness between workers is judged on the database clock, never on this one; this
// clock measures local intervals (timeouts, backoff, flush pacing) and stamps stats.
// Implementations must be thread-safe.
#pragma once

#include <chrono>

namespace projd {

class Clock {
 public:
  using Monotonic = std::chrono::steady_clock;
  using Wall = std::chrono::system_clock;

  virtual ~Clock() = default;
  // Monotonic time for intervals and deadlines.
  virtual Monotonic::time_point Now() const = 0;
  // Wall-clock time, only for reporting (stats, logs).
  virtual Wall::time_point WallNow() const = 0;
};

// The real clocks. Stateless; one shared instance is fine.
class SystemClock final : public Clock {
 public:
  Monotonic::time_point Now() const override { return Monotonic::now(); }
  Wall::time_point WallNow() const override { return Wall::now(); }
};

}  // namespace projd
