// StopSignals: SIGTERM and SIGINT of `projd run`, and the hard deadline of the stop they
// request (docs/operations.md, "Stopping a worker").
//
// The constructor blocks both signals in the calling thread; construct it before any other
// thread starts (threads inherit the mask), so that only its own thread receives them,
// through a signalfd. The first signal requests the stop (WaitForStop returns) and arms the
// deadline, SHUTDOWN_TIMEOUT after the signal. If the process still runs at the deadline,
// or a second stop signal arrives, that thread logs what the stop did not finish (from the
// reporter) and ends the process at once with std::_Exit: no destructor runs and threads
// blocked on the database are abandoned. The exit code is kExitStopAbandoned, or the
// finished stop's own code when only the teardown after it hung. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "orchestrator/common/clock.h"
#include "orchestrator/common/logging.h"
#include "orchestrator/runtime/shutdown.h"

namespace projd::cli {

class StopSignals {
 public:
  // How far the stop got; nullopt while the worker is not built yet (start-up).
  using Reporter = std::function<std::optional<ShutdownState>()>;

  StopSignals(std::chrono::milliseconds shutdown_timeout, Logger logger);
  ~StopSignals();  // ends the signal thread; the deadline no longer applies
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  void SetReporter(Reporter reporter);
  // Calls the reporter once and reports that result from now on (before what the reporter
  // reads is destroyed).
  void FreezeReport();
  // Waits up to `timeout` for the first stop signal; true once one arrived.
  bool WaitForStop(std::chrono::milliseconds timeout);
  void WaitForStop();
  bool stop_requested() const;
  // The first signal (SIGTERM or SIGINT) and when it arrived; valid once requested.
  int signal() const;
  Clock::Monotonic::time_point requested_at() const;

  // Ends the process now with `code`, logs flushed: after a stop that left threads blocked
  // on the database (they would block the destructors).
  [[noreturn]] void Exit(int code) const;

 private:
  void Run();
  [[noreturn]] void Expire(const char* reason);

  const std::chrono::milliseconds shutdown_timeout_;
  Logger logger_;
  int signal_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: the destructor ends the thread
  mutable std::mutex mu_;
  std::condition_variable cv_;
  Reporter reporter_;
  bool requested_ = false;
  int signal_ = 0;
  Clock::Monotonic::time_point requested_at_{};
  std::thread thread_;
};

}  // namespace projd::cli
