#include "orchestrator/pg/socket_deadline.h"

#include <sys/socket.h>

namespace projd::pg {

SocketDeadline::~SocketDeadline() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void SocketDeadline::Arm(int fd, std::chrono::milliseconds after) {
  {
    std::lock_guard lock(mu_);
    armed_ = true;
    fired_ = false;
    ++arms_;
    fd_ = fd;
    deadline_ = std::chrono::steady_clock::now() + after;
    if (!thread_.joinable()) thread_ = std::thread([this] { Watch(); });
  }
  cv_.notify_all();
}

bool SocketDeadline::Disarm() {
  std::lock_guard lock(mu_);
  armed_ = false;
  fd_ = -1;
  return fired_;
}

// The socket is shut down under the lock, so never after Disarm returned (the owner may
// close and reuse the descriptor then).
void SocketDeadline::Watch() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    if (!armed_) {
      cv_.wait(lock);
      continue;
    }
    const auto id = arms_;
    const auto deadline = deadline_;
    cv_.wait_until(lock, deadline, [&] { return stop_ || !armed_ || arms_ != id; });
    if (!stop_ && armed_ && arms_ == id && std::chrono::steady_clock::now() >= deadline) {
      ::shutdown(fd_, SHUT_RDWR);
      fired_ = true;
      armed_ = false;
    }
  }
}

}  // namespace projd::pg
