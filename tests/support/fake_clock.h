// FakeClock: a Clock that moves only when a test says so. Thread-safe.
#pragma once

#include <atomic>
#include <chrono>

#include "orchestrator/common/clock.h"

namespace projd::testing {

class FakeClock final : public Clock {
 public:
  Monotonic::time_point Now() const override { return Monotonic::time_point(Monotonic::duration(now_.load())); }
  Wall::time_point WallNow() const override {
    return Wall::time_point(std::chrono::duration_cast<Wall::duration>(Monotonic::duration(now_.load())));
  }
  void Advance(std::chrono::milliseconds d) {
    now_ += std::chrono::duration_cast<Monotonic::duration>(d).count();
  }

 private:
  std::atomic<Monotonic::rep> now_{std::chrono::duration_cast<Monotonic::duration>(std::chrono::hours(1)).count()};
};

}  // namespace projd::testing
