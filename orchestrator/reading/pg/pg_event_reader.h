// PgEventReader: EventReader over PostgreSQL on its own connection (opened with
// max_parallel_workers_per_gather=0: a batch is a short index range scan, and a parallel
// plan per page costs several times more). Reconnects on the next call after a broken
// connection. Not thread-safe. On a hot standby it also reports how far its session has
// replayed (StandbySession, for StandbyRouter).
//
// Two plans (docs/reading.md, "Reads that scale with the workers"): a reader that finds the
// per-partition index of its partition count (partition_index.h) and owns few enough
// partitions (PrefersMerge) reads each owned partition from its own index range, a chunk at
// a time, and merges them in position order (PartitionMerge, which keeps the rows read
// ahead); otherwise it walks the primary key and filters by partition.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include <pqxx/connection>

#include "orchestrator/reading/event_reader.h"
#include "orchestrator/reading/standby_router.h"
#include "orchestrator/reading/partition_merge.h"
#include "orchestrator/pg/connection.h"
#include "orchestrator/pg/socket_deadline.h"

namespace projd::pg {

class PgEventReader final : public StandbySession {
 public:
  explicit PgEventReader(ConnectionOptions options);
  ~PgEventReader() override;

  ReadResult ReadBatch(const ReadRequest& request) override;
  // StandbySession: on a standby of EVENTS_READ_URL, how far this session has replayed.
  StandbyFacts Replayed() override;
  std::uint64_t Session() const override { return session_; }

  // The SQL (for EXPLAIN in tests and docs): a batch of the primary-key walk, and one fill
  // of the per-partition read for `partitions`.
  static const std::string& BatchSql();
  static std::string FillSql(int partitions);

  // Whether reading `owned` of `partitions` per partition is cheaper than walking (when the
  // index exists): docs/reading.md, "Reads that scale with the workers".
  static bool PrefersMerge(int partitions, std::size_t owned);

  enum class ReadPlan { kNone, kPrimaryKeyWalk, kPartitionMerge };
  // The plan of the latest statement (a request with nothing to read keeps it).
  ReadPlan last_plan() const { return last_plan_; }
  // "partition_merge" or "primary_key_walk" ("" before the first statement).
  std::string Plan() const override;
  // The server settings of a reader session (planner settings that keep the batch an
  // ordered index scan whatever the table's statistics say).
  static const std::vector<std::pair<std::string, std::string>>& SessionSettings();

 private:
  pqxx::connection& Conn();
  // Bounds the statements of the caller's scope by options_.client_deadline (if any).
  SocketDeadline::Guard Bounded();
  bool UseMerge(int partitions, std::size_t owned);
  pqxx::result ExecWalk(const ReadRequest& request, std::int64_t lowest);
  ReadResult ReadWalked(const ReadRequest& request, std::int64_t lowest);
  ReadResult ReadMerged(const ReadRequest& request);
  std::vector<EventWithPartition> Fill(const FillRequest& request);

  struct IndexCheck {
    bool checked = false;
    bool present = false;
    std::chrono::steady_clock::time_point at{};
  };

  ConnectionOptions options_;
  std::unique_ptr<pqxx::connection> conn_;
  std::map<int, IndexCheck> index_checks_;  // per partition count
  std::set<int> prepared_fills_;            // fill statements prepared on this session (by P)
  PartitionMerge merge_;
  ReadPlan last_plan_ = ReadPlan::kNone;
  std::uint64_t session_ = 0;  // sessions opened so far
  SocketDeadline deadline_;
};

}  // namespace projd::pg
