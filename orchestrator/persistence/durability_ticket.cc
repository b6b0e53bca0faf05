#include "orchestrator/persistence/durability_ticket.h"

namespace projd {

Durability DurabilityTicket::Wait(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return state_ != Durability::kPending; });
  return state_;
}

Durability DurabilityTicket::state() const {
  std::lock_guard lock(mu_);
  return state_;
}

void DurabilityTicket::Resolve(Durability d) {
  {
    std::lock_guard lock(mu_);
    if (state_ != Durability::kPending) return;
    state_ = d;
  }
  cv_.notify_all();
}

}  // namespace projd
