// CircuitBreaker: closed -> open after `failure_threshold` consecutive failures -> half-open
// after `open_timeout` -> one probe -> closed on success, open again on failure.
// Pure state machine on an injected clock; not thread-safe (the persistence core guards it).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "orchestrator/common/clock.h"

namespace projd {

enum class BreakerState { kClosed, kOpen, kHalfOpen };
std::string ToString(BreakerState s);

class CircuitBreaker {
 public:
  // One attempt's passage: the state before it, whether it may go out (Allow()), and whether
  // it is the half-open probe.
  struct Admission {
    BreakerState before = BreakerState::kClosed;
    bool allowed = false;
    bool probe = false;
  };

  CircuitBreaker(const Clock& clock, int failure_threshold, std::chrono::milliseconds open_timeout)
      : clock_(clock), threshold_(failure_threshold), open_timeout_(open_timeout) {}

  // May a request go out now? Closed: yes. Open: no, until the timeout passed, which moves
  // to half-open and allows exactly one probe. Half-open with a probe out: no.
  bool Allow();
  // Allow(), with the state before and whether the attempt is the probe.
  Admission Admit();
  void RecordSuccess();
  void RecordFailure();
  // Operator reset: closed, failure count 0.
  void Reset();

  BreakerState state() const { return state_; }
  // Open and the timeout passed: the next Allow() lets a probe out.
  bool ProbeDue() const { return state_ == BreakerState::kOpen && clock_.Now() - opened_at_ >= open_timeout_; }
  int consecutive_failures() const { return failures_; }
  std::int64_t trips() const { return trips_; }

 private:
  void Trip();

  const Clock& clock_;
  int threshold_;
  std::chrono::milliseconds open_timeout_;
  BreakerState state_ = BreakerState::kClosed;
  int failures_ = 0;
  std::int64_t trips_ = 0;
  bool probe_out_ = false;
  Clock::Monotonic::time_point opened_at_{};
};

}  // namespace projd
