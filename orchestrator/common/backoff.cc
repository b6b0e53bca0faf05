#include "orchestrator/common/backoff.h"

#include <algorithm>

namespace projd {

Backoff::Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max, std::uint64_t seed)
    : initial_(std::max(initial, std::chrono::milliseconds(1))),
      max_(std::max(max, initial_)),
      ceiling_(initial_),
      rng_(seed) {}

std::chrono::milliseconds Backoff::Next() {
  const auto ceiling = ceiling_;
  ceiling_ = std::min(ceiling_ * 2, max_);
  ++attempts_;
  std::uniform_int_distribution<std::int64_t> jitter(ceiling.count() / 2, ceiling.count());
  return std::chrono::milliseconds(jitter(rng_));
}

void Backoff::Reset() {
  ceiling_ = initial_;
  attempts_ = 0;
}

}  // namespace projd
