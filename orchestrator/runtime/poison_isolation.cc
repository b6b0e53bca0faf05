#include "orchestrator/runtime/poison_isolation.h"

namespace projd {

PoisonIsolation::PoisonIsolation(const ErrorHandling& policy)
    : max_attempts_(policy.max_attempts), backoff_(policy.initial_backoff, policy.max_backoff) {}

PoisonIsolation::Next PoisonIsolation::OnHandlerFailure(bool isolating, std::size_t events,
                                                        std::int64_t last_position) {
  ++attempts_;
  if (attempts_ < max_attempts_) return Next::kRetry;
  attempts_ = 0;
  if (!isolating && events > 1) {
    // Find the poison event: re-read one event at a time up to the failed batch's end.
    isolate_until_ = last_position;
    return Next::kIsolate;
  }
  backoff_.Reset();
  return Next::kApplyPolicy;
}

void PoisonIsolation::OnSuccess() {
  attempts_ = 0;
  backoff_.Reset();
}

}  // namespace projd
