// The per-partition index of events for a partition count P (docs/reading.md, "Reads that
// scale with the workers"): ((partition of the row for P), global_position). With it, a
// worker that owns k of P partitions reads each of them from its own position and merges
// them in position order, visiting about the rows it returns instead of walking every
// position and filtering. One index per partition count in use (replica sets may differ);
// created without blocking writers (CREATE INDEX CONCURRENTLY) by `projd migrate` and
// `projd partitions split`. All SQL about it is here.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <pqxx/pqxx>

namespace projd::pg {

// events_projd_partition_<P>
std::string PartitionIndexName(int partitions);
// The row's partition for P, exactly as the index and the reader's statements spell it
// (P is a literal: the planner matches an index expression only to the same text).
std::string PartitionExpression(int partitions);

// True when a usable (valid, ready) index for P exists on this schema's events.
bool HasPartitionIndex(pqxx::transaction_base& tx, int partitions);

// The partition counts the index should exist for: `configured` and every replica set's.
std::vector<int> PartitionCountsInUse(pqxx::connection& conn, int configured);

// Creates the index for P if it is missing, without blocking writers; an invalid index
// left by an interrupted build is dropped and built again. Runs outside a transaction
// (CREATE INDEX CONCURRENTLY cannot run inside one); `progress` receives one line per step.
// Throws projd::Error (pg::Translate) when the database refuses.
void EnsurePartitionIndex(pqxx::connection& conn, int partitions,
                          const std::function<void(const std::string&)>& progress);

}  // namespace projd::pg
