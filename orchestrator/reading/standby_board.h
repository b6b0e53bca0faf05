// StandbyBoard: the standbys events are read from (EVENTS_READ_URL), as the standby watch
// last found them, with counters of the reads they served and the reads that went to the
// primary instead. The watch writes it, every runner's router reads it, /status and
// /metrics show it. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "orchestrator/common/clock.h"
#include "orchestrator/reading/standby_health.h"

namespace projd {

struct StandbyStatus {
  std::string name;  // host:port of its URL (no credentials)
  StandbyCondition condition = StandbyCondition::kUnknown;
  std::optional<StandbyFacts> facts;   // the latest successful probe
  std::uint64_t lag_bytes = 0;         // the primary's latest insert position minus its replay
  std::chrono::milliseconds lag{0};    // how long ago the primary had WAL it has not replayed
  std::string last_error;              // of the latest failed probe or read
  std::int64_t batches = 0;            // batches read from it
  std::int64_t read_errors = 0;        // reads that failed on it (each went elsewhere)
  std::int64_t probe_errors = 0;
  std::int64_t condition_changes = 0;
};

struct StandbyReadFigures {
  std::vector<StandbyStatus> standbys;
  std::int64_t primary_batches = 0;  // batches read from the primary because no standby could serve
  std::int64_t waits = 0;            // reads that waited for a standby to replay the mark
};

class StandbyBoard {
 public:
  explicit StandbyBoard(std::vector<std::string> names);

  std::size_t size() const { return size_; }
  // A probe's outcome (the watch).
  void Probed(std::size_t i, StandbyCondition condition, const std::optional<StandbyFacts>& facts,
              std::uint64_t lag_bytes, std::chrono::milliseconds lag, const std::string& error);
  // Runners may read from standby i: usable at the latest probe, and no read failed on it since.
  bool Usable(std::size_t i) const;
  // host:port of standby i (fixed at construction).
  const std::string& Name(std::size_t i) const { return names_.at(i); }
  void ReadFailed(std::size_t i, const std::string& error);
  void CountStandbyBatch(std::size_t i);
  void CountPrimaryBatch();
  void CountWait();
  StandbyReadFigures Figures() const;

 private:
  struct Entry {
    StandbyStatus status;
    bool failed_since_probe = false;
  };
  const std::size_t size_;
  const std::vector<std::string> names_;
  mutable std::mutex mu_;
  std::vector<Entry> entries_;
  std::int64_t primary_batches_ = 0;
  std::int64_t waits_ = 0;
};

}  // namespace projd
