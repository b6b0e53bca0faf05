// FaultWriter: a writer thread for the fault suite. It appends events to aggregates of its
// own ("<name>-<i>") in transactions of 1..5 events, sleeps at random inside the transaction,
// rolls back about one in ten, and survives a database that restarts under it: after any
// error (including a COMMIT whose outcome is unknown) it re-reads its versions from the
// events table. Plain SQL, as any client would write: the position comes from the column
// default inside the INSERT (the writer contract).
#pragma once

#include <atomic>
#include <cstdint>
#include <random>
#include <string>
#include <thread>

namespace projd::faults {

struct FaultWriterOptions {
  std::string url;
  std::string schema;
  std::string name;          // aggregate id prefix, unique per writer
  int aggregates = 100;
  int max_pause_ms = 20;     // random pause inside each transaction, 0..max
  double rollback_ratio = 0.1;
  std::uint64_t seed = 1;
};

class FaultWriter {
 public:
  explicit FaultWriter(FaultWriterOptions options);
  ~FaultWriter();
  FaultWriter(const FaultWriter&) = delete;
  FaultWriter& operator=(const FaultWriter&) = delete;

  void Stop();
  std::int64_t committed() const { return committed_; }    // events in committed transactions
  std::int64_t rolled_back() const { return rolled_back_; }  // events in rolled-back ones
  std::int64_t errors() const { return errors_; }            // failed transactions (server gone)

 private:
  void Run();

  FaultWriterOptions options_;
  std::atomic<bool> stop_{false};
  std::atomic<std::int64_t> committed_{0};
  std::atomic<std::int64_t> rolled_back_{0};
  std::atomic<std::int64_t> errors_{0};
  std::thread thread_;
};

}  // namespace projd::faults
