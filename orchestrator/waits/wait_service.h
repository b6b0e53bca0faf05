// WaitService: the read-your-writes waits of a worker's GET /wait, off the HTTP loop. One
// thread and one ProgressStore (its own connection) serve every pending wait: each round it
// checks each distinct target once, answers the processed ones and those past their
// deadline, then pauses (PollPause) or, after a database error, backs off; a database error
// never ends a wait before its deadline. At most `max_waits` are pending: Submit refuses more.
// Stop answers every pending wait as stopped and returns after at most one store call.
//
// Thread-safety: Submit from any thread; Start and Stop from one. `done` callbacks run on
// the service's thread, or on the thread calling Stop, never under the service's lock.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "orchestrator/common/clock.h"
#include "orchestrator/common/log_throttle.h"
#include "orchestrator/common/logging.h"
#include "orchestrator/waits/progress_store.h"

namespace projd {

struct WaitServiceOptions {
  std::size_t max_waits = 32;                      // pending waits at most
  std::chrono::milliseconds error_backoff_max{2000};  // the longest pause after database errors
};

struct WaitResult {
  enum class Kind {
    kProcessed,  // the projection processed the position
    kTimedOut,   // the deadline passed first; `progress` says which partitions are behind
    kFailed,     // a permanent error for this target (`error`), e.g. migrations missing
    kStopped,    // the worker is stopping
  };
  Kind kind = Kind::kTimedOut;
  WaitProgress progress;   // the latest read
  std::string error;       // the latest database error, "" when the latest read succeeded
};

class WaitService {
 public:
  using Done = std::function<void(const WaitResult&)>;

  WaitService(std::unique_ptr<ProgressStore> store, const Clock& clock, Logger logger, WaitServiceOptions options = {});
  ~WaitService();  // Stop()
  WaitService(const WaitService&) = delete;
  WaitService& operator=(const WaitService&) = delete;

  void Start();
  void Stop();
  // Queues a wait; `done` is called exactly once. False (and `done` never called) when
  // max_waits are pending or the service is stopped.
  bool Submit(const WaitTarget& target, std::chrono::milliseconds timeout, Done done);
  std::size_t pending() const;

 private:
  struct Pending {
    WaitTarget target;
    Clock::Monotonic::time_point deadline;
    Done done;
    WaitResult last;
    bool tried = false;  // read (or failed to read) at least once
  };
  void Run();
  // One round: reads each distinct pending target once; returns whether a read failed.
  bool Round();
  void Finish(std::list<Pending>& done_ones);

  std::unique_ptr<ProgressStore> store_;
  const Clock& clock_;
  Logger logger_;
  LogThrottle outage_log_{std::chrono::seconds(30)};  // the service's thread only
  WaitServiceOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::list<Pending> pending_;
  bool stop_ = false;
  bool started_ = false;
  std::thread thread_;
};

}  // namespace projd
