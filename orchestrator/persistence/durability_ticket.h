// DurabilityTicket: what a submit of a checkpoint returns. "Accepted" is not "durable": the
// ticket resolves when a position >= its target is durable for its key, when the key was
// fenced, or when the core shut down without writing it. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace projd {

enum class Durability { kPending, kDurable, kFenced, kAbandoned };

class DurabilityTicket {
 public:
  explicit DurabilityTicket(std::int64_t target) : target_(target) {}
  // Waits up to `timeout`; returns the state then (kPending on timeout).
  Durability Wait(std::chrono::milliseconds timeout);
  Durability state() const;
  std::int64_t target() const { return target_; }
  // The first resolution wins; later ones are ignored.
  void Resolve(Durability d);

 private:
  const std::int64_t target_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  Durability state_ = Durability::kPending;
};

}  // namespace projd
