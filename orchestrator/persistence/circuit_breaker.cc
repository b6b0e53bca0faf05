#include "orchestrator/persistence/circuit_breaker.h"

namespace projd {

std::string ToString(BreakerState s) {
  switch (s) {
    case BreakerState::kClosed: return "closed";
    case BreakerState::kOpen: return "open";
    case BreakerState::kHalfOpen: return "half_open";
  }
  return "unknown";
}

bool CircuitBreaker::Allow() {
  switch (state_) {
    case BreakerState::kClosed:
      return true;
    case BreakerState::kOpen:
      if (clock_.Now() - opened_at_ < open_timeout_) return false;
      state_ = BreakerState::kHalfOpen;
      probe_out_ = true;
      return true;
    case BreakerState::kHalfOpen:
      if (probe_out_) return false;
      probe_out_ = true;
      return true;
  }
  return false;
}

CircuitBreaker::Admission CircuitBreaker::Admit() {
  Admission a;
  a.before = state_;
  a.allowed = Allow();
  a.probe = a.allowed && state_ == BreakerState::kHalfOpen;
  return a;
}

void CircuitBreaker::RecordSuccess() {
  state_ = BreakerState::kClosed;
  failures_ = 0;
  probe_out_ = false;
}

void CircuitBreaker::RecordFailure() {
  ++failures_;
  if (state_ == BreakerState::kHalfOpen || (state_ == BreakerState::kClosed && failures_ >= threshold_)) Trip();
}

void CircuitBreaker::Trip() {
  state_ = BreakerState::kOpen;
  opened_at_ = clock_.Now();
  probe_out_ = false;
  ++trips_;
}

void CircuitBreaker::Reset() {
  state_ = BreakerState::kClosed;
  failures_ = 0;
  probe_out_ = false;
}

}  // namespace projd
