// AwaitableThread: a std::thread whose end can be awaited up to a deadline. std::thread::join
// has no timeout, and a worker's graceful stop must not wait forever for a thread blocked in
// a statement the database never answers (docs/operations.md, "Stopping a worker").
//
// JoinFor returns false when the body is still running at the deadline; the thread is
// then left running (abandoned). The destructor joins without a bound: a process that
// abandoned a thread ends with std::_Exit instead of destroying its owner.
// Thread-safe: JoinFor/Join/finished from any one thread other than the body's.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>

namespace projd {

class AwaitableThread {
 public:
  AwaitableThread() = default;
  ~AwaitableThread() { Join(); }
  AwaitableThread(const AwaitableThread&) = delete;
  AwaitableThread& operator=(const AwaitableThread&) = delete;

  // Starts `body` on a new thread. Call once.
  void Start(std::function<void()> body) {
    {
      std::lock_guard lock(mu_);
      started_ = true;
    }
    thread_ = std::thread([this, body = std::move(body)] {
      body();
      {
        std::lock_guard lock(mu_);
        finished_ = true;
      }
      cv_.notify_all();
    });
  }

  // Waits until the body returned, at most `timeout` (real time; callers with an injected
  // Clock pass the time left until their deadline on it). True when it returned (the
  // thread is joined) or was never started; false when it still runs.
  template <typename Rep, typename Period>
  bool JoinFor(std::chrono::duration<Rep, Period> timeout) {
    if (!thread_.joinable()) return true;
    {
      std::unique_lock lock(mu_);
      if (!cv_.wait_for(lock, timeout, [&] { return finished_; })) return false;
    }
    thread_.join();
    return true;
  }

  // Waits for the body without a bound.
  void Join() {
    if (thread_.joinable()) thread_.join();
  }

  // True while started and its body has not returned.
  bool running() const {
    std::lock_guard lock(mu_);
    return started_ && !finished_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool started_ = false;
  bool finished_ = false;
  std::thread thread_;
};

}  // namespace projd
