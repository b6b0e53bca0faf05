// IndexBuildProgress: what a CREATE INDEX CONCURRENTLY in another session is doing, as short
// lines for an operator. A build of the partition index on tens of millions of events takes
// minutes, and the builder's own session cannot speak while its statement runs; so a thread
// with a second connection reads pg_stat_progress_create_index for the builder's backend pid
// every few seconds and reports a line when the phase changes or its counter passes another
// tenth. Reporting is a courtesy: any error of the watcher (connect, query, the report
// itself) only ends the reporting, never the build.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "orchestrator/pg/connection.h"

namespace projd::pg {

// One row of pg_stat_progress_create_index (the counters projd shows; 0 when NULL).
struct IndexBuildSample {
  std::string phase;  // e.g. "building index: scanning table", "waiting for old snapshots"
  std::int64_t blocks_done = 0, blocks_total = 0;
  std::int64_t tuples_done = 0, tuples_total = 0;
  std::int64_t lockers_done = 0, lockers_total = 0;
  int current_locker_pid = 0;
};

// "index events_projd_partition_64: building index: scanning table 42 % (1234/2900 blocks)";
// a waiting phase names the transactions waited for and the current one's pid. Pure.
std::string FormatIndexBuildLine(const std::string& index, const IndexBuildSample& sample);

// Samples with the same step make one line: the phase and the tenth of its counter. Pure.
std::string IndexBuildStep(const IndexBuildSample& sample);

class IndexBuildProgress {
 public:
  using Report = std::function<void(const std::string&)>;

  // Starts watching the build of `index` by the session `builder_pid` on the server of
  // `options`. The first look is after one `interval`, so a build that ends sooner prints
  // nothing. `report` is called on the watcher's thread, never after Stop() returned.
  IndexBuildProgress(ConnectionOptions options, int builder_pid, std::string index, Report report,
                     std::chrono::milliseconds interval = std::chrono::seconds(2));
  ~IndexBuildProgress();
  IndexBuildProgress(const IndexBuildProgress&) = delete;
  IndexBuildProgress& operator=(const IndexBuildProgress&) = delete;

  // Ends the watching and waits for the thread (at most one sample statement). Idempotent.
  void Stop();

 private:
  void Run();
  bool Stopped(std::chrono::milliseconds wait);

  ConnectionOptions options_;
  int builder_pid_;
  std::string index_;
  Report report_;
  std::chrono::milliseconds interval_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace projd::pg
