// PgEventReader: EventReader over PostgreSQL on its own connection (opened with
// max_parallel_workers_per_gather=0: a batch is a short index range scan, and a parallel
// plan per page costs several times more). Reconnects on the next call after a broken
// connection. Not thread-safe.
//
// Two plans (docs/reading.md, "Reads that scale with the workers"): a reader that finds the
// per-partition index of its partition count (partition_index.h) and owns few enough
// partitions for the batch size (PrefersMerge) merges one index range per owned partition;
// otherwise it walks the primary key and filters by partition.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>

#include <pqxx/connection>

#include "orchestrator/event_reader.h"
#include "orchestrator/pg/connection.h"

namespace projd::pg {

class PgEventReader final : public EventReader {
 public:
  explicit PgEventReader(ConnectionOptions options);
  ~PgEventReader() override;

  ReadResult ReadBatch(const ReadRequest& request) override;

  // The SQL of a batch (for EXPLAIN in tests and docs): the primary-key walk, and the
  // per-partition merge for `owned` partitions of `partitions`.
  static const std::string& BatchSql();
  static std::string MergeSql(int partitions, int owned);

  // Whether merging `owned` of `partitions` is cheaper than walking for batches of `limit`
  // (when the index exists): docs/reading.md, "Reads that scale with the workers".
  static bool PrefersMerge(int partitions, std::size_t owned, int limit);

  enum class ReadPlan { kNone, kPrimaryKeyWalk, kPartitionMerge };
  // The plan of the latest batch read.
  ReadPlan last_plan() const { return last_plan_; }
  // "partition_merge" or "primary_key_walk" ("" before the first statement).
  std::string Plan() const override;
  // The server settings of a reader session (planner settings that keep the batch an
  // ordered index scan whatever the table's statistics say).
  static const std::vector<std::pair<std::string, std::string>>& SessionSettings();

 private:
  pqxx::connection& Conn();
  bool UseMerge(int partitions, std::size_t owned, int limit);
  pqxx::result ExecWalk(const ReadRequest& request, std::int64_t lowest);
  pqxx::result ExecMerge(const ReadRequest& request);

  struct IndexCheck {
    bool checked = false;
    bool present = false;
    std::chrono::steady_clock::time_point at{};
  };

  ConnectionOptions options_;
  std::unique_ptr<pqxx::connection> conn_;
  std::map<int, IndexCheck> index_checks_;  // per partition count
  std::set<std::string> prepared_merges_;   // merge statements prepared on this session
  ReadPlan last_plan_ = ReadPlan::kNone;
};

}  // namespace projd::pg
