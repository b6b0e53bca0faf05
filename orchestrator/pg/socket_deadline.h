// SocketDeadline: a client-side bound for one statement on a server that may hang rather
// than refuse (a stopped or frozen standby: the kernel still acknowledges TCP, so neither
// keepalives, tcp_user_timeout nor the server's statement_timeout end the wait). While
// armed, a watchdog thread shuts the connection's socket down at the deadline; the blocked
// libpq call then fails as a broken connection (a TransientError once translated). One
// statement at a time; the thread starts at the first Arm. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

namespace projd::pg {

class SocketDeadline {
 public:
  SocketDeadline() = default;
  ~SocketDeadline();
  SocketDeadline(const SocketDeadline&) = delete;
  SocketDeadline& operator=(const SocketDeadline&) = delete;

  // Shuts `fd` down unless Disarm() comes within `after`.
  void Arm(int fd, std::chrono::milliseconds after);
  // Returns whether the deadline fired since Arm.
  bool Disarm();

  // Arms for its lifetime; does nothing when `after` is zero.
  class Guard {
   public:
    Guard(SocketDeadline& d, int fd, std::chrono::milliseconds after) : d_(after.count() > 0 ? &d : nullptr) {
      if (d_) d_->Arm(fd, after);
    }
    ~Guard() {
      if (d_) d_->Disarm();
    }
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;

   private:
    SocketDeadline* d_;
  };

 private:
  void Watch();

  std::mutex mu_;
  std::condition_variable cv_;
  std::thread thread_;
  bool stop_ = false;
  bool armed_ = false;
  bool fired_ = false;
  std::uint64_t arms_ = 0;  // Arm calls so far: a wait belongs to one
  int fd_ = -1;
  std::chrono::steady_clock::time_point deadline_{};
};

}  // namespace projd::pg
