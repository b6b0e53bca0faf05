// The per-partition index of events for a partition count P (docs/reading.md, "Reads that
// scale with the workers"): ((partition of the row for P), global_position). With it, a
// worker that owns k of P partitions reads each of them from its own position and merges
// them in position order, visiting about the rows it returns instead of walking every
// position and filtering. One index per partition count in use (replica sets may differ);
// created without blocking writers (CREATE INDEX CONCURRENTLY) by `projd migrate` and
// `projd partitions split`, and dropped the same way once no partition count in use needs it
// (an unused index costs every append). All SQL about it is here.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "orchestrator/pg/connection.h"

namespace projd::pg {

// Receives one line per step, for an operator.
using IndexProgress = std::function<void(const std::string&)>;

// events_projd_partition_<P>
std::string PartitionIndexName(int partitions);
// The row's partition for P, exactly as the index and the reader's statements spell it
// (P is a literal: the planner matches an index expression only to the same text).
std::string PartitionExpression(int partitions);

// True when a usable (valid, ready) index for P exists on this schema's events.
bool HasPartitionIndex(pqxx::transaction_base& tx, int partitions);

// The partition counts the index should exist for: `configured` and every replica set's
// (only `configured` before the migrations created projd_replica_sets).
std::vector<int> PartitionCountsInUse(pqxx::connection& conn, int configured);

// The builder lock: one process at a time creates or drops partition indexes of this
// schema's events (a session advisory lock on `conn`, held while in scope). Re-entrant on
// the same connection, so a command holds it across a whole sequence (build, switch over,
// retire) and the functions below, which take it too, do not wait for it. Waits by short
// tries outside any transaction; tells `progress` once when another process holds it.
class PartitionIndexLock {
 public:
  PartitionIndexLock(pqxx::connection& conn, const IndexProgress& progress);
  ~PartitionIndexLock();
  PartitionIndexLock(const PartitionIndexLock&) = delete;
  PartitionIndexLock& operator=(const PartitionIndexLock&) = delete;

 private:
  pqxx::connection& conn_;
};

// Creates the index for P if it is missing, without blocking writers; an invalid index
// left by an interrupted build is dropped and built again. Runs outside a transaction
// (CREATE INDEX CONCURRENTLY cannot run inside one), under the builder lock; `progress`
// receives one line per step, and while the index is built the phase and its percentage
// (IndexBuildProgress, on a second connection opened with `options`: the same database as
// `conn`). Throws projd::Error (pg::Translate) when the database refuses.
void EnsurePartitionIndex(pqxx::connection& conn, const ConnectionOptions& options, int partitions,
                          const IndexProgress& progress);

// Drops (concurrently, under the builder lock) every index of this schema's events named
// events_projd_partition_<N> whose N is not in PartitionCountsInUse(conn, configured),
// valid or not; other indexes, and other schemas' events, are never touched. Readers that
// still use it are waited for by the drop; later statements are planned without it.
// Returns the dropped partition counts; `progress` gets a line before and after each drop.
std::vector<int> RetireUnusedPartitionIndexes(pqxx::connection& conn, int configured, const IndexProgress& progress);

// What EnsurePartitionIndex for every count in use and RetireUnusedPartitionIndexes would
// do now (for `projd migrate --dry-run`); changes nothing. Before the migrations created
// events, every count in use is to be created.
struct PartitionIndexChanges {
  std::vector<int> create;  // missing or invalid
  std::vector<int> drop;    // unused
};
PartitionIndexChanges PlanPartitionIndexes(pqxx::connection& conn, int configured);

}  // namespace projd::pg
