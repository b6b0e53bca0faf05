// Backoff: capped exponential backoff with jitter for retries (database outages, failing
// batches). Each Next() doubles the ceiling up to `max` and returns a random delay in
// [ceiling/2, ceiling], so many workers retrying after one outage spread out.
// Not thread-safe: one per retry loop.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace projd {

class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max, std::uint64_t seed = std::random_device{}());

  std::chrono::milliseconds Next();
  void Reset();
  int attempts() const { return attempts_; }

 private:
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds max_;
  std::chrono::milliseconds ceiling_;
  std::mt19937_64 rng_;
  int attempts_ = 0;
};

}  // namespace projd
