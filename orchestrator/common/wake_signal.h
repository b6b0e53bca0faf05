// WakeSignal: a counter that threads wait on ("something changed since version v").
// Used to wake runners when the high-water mark moves and the coordinator when a
// generation notification, an acknowledgement or a fencing report arrives. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace projd {

class WakeSignal {
 public:
  void Notify() {
    {
      std::lock_guard lock(mu_);
      ++version_;
    }
    cv_.notify_all();
  }
  std::uint64_t version() const {
    std::lock_guard lock(mu_);
    return version_;
  }
  // Waits until the version differs from `seen` or `timeout` passes; true when it changed.
  bool WaitFor(std::uint64_t seen, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return version_ != seen; });
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::uint64_t version_ = 0;
};

}  // namespace projd
