// Appender: a steady write load for multi-process tests. A background thread appends one
// event at a time (projd's own store, expected version Any) to `aggregates` streams until
// stopped, retrying while the server is away.
#pragma once

#include <atomic>
#include <thread>

#include "orchestrator/pg/connection.h"

namespace projd::testing {

class Appender {
 public:
  // Streams load-<offset mod aggregates>, load-<offset+1 mod aggregates>, ... in turn.
  explicit Appender(const pg::ConnectionOptions& options, int aggregates = 37, int offset = 0);
  ~Appender();
  Appender(const Appender&) = delete;
  Appender& operator=(const Appender&) = delete;

  void Stop();
  int appended() const { return appended_; }

 private:
  void Run(const pg::ConnectionOptions& options, int aggregates, int offset);

  std::atomic<bool> stop_{false};
  std::atomic<int> appended_{0};
  std::thread thread_;
};

}  // namespace projd::testing
