// LogThrottle: rate-limits the log line of a repeated degraded-operation event (a failed
// flush under an outage, a failed breaker probe): the first occurrence of an episode is
// logged at once, later ones at most once per `interval`, each logged line covering the
// occurrences suppressed since the previous one. Pure: the caller passes the time.
// Not thread-safe (callers hold their own lock).
#pragma once

#include <chrono>
#include <cstdint>

#include "orchestrator/common/clock.h"

namespace projd {

class LogThrottle {
 public:
  explicit LogThrottle(std::chrono::milliseconds interval) : interval_(interval) {}

  // Counts one occurrence at `now`. Returns how many occurrences the line logged now covers
  // (this one and those suppressed before it), or 0 when this one is suppressed.
  std::int64_t Occur(Clock::Monotonic::time_point now) {
    ++unlogged_;
    ++episode_;
    if (logged_once_ && now - last_logged_ < interval_) return 0;
    logged_once_ = true;
    last_logged_ = now;
    const auto covered = unlogged_;
    unlogged_ = 0;
    return covered;
  }

  // Ends the episode (the condition cleared). Returns the occurrences of the episode
  // (0 when there was none); the next occurrence is logged at once.
  std::int64_t End() {
    const auto total = episode_;
    episode_ = 0;
    unlogged_ = 0;
    logged_once_ = false;
    return total;
  }

  std::int64_t episode() const { return episode_; }

 private:
  const std::chrono::milliseconds interval_;
  Clock::Monotonic::time_point last_logged_{};
  bool logged_once_ = false;
  std::int64_t unlogged_ = 0;
  std::int64_t episode_ = 0;
};

}  // namespace projd
