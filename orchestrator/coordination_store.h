// CoordinationStore: membership and generations of a replica set, kept in PostgreSQL rows
// (no leader; the database and its clock are the judge). Liveness is measured on the
// database clock (now()), never the worker's. No session state: libpqxx 6.4 may reconnect
// silently, so leases are rows and every operation is one transaction.
// Implementations need not be thread-safe (one per thread).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace projd {

struct WorkerInfo {
  std::string worker_id;    // stable for the process (a UUID)
  std::string worker_name;  // WORKER_NAME: a restarted pod with the same name gets its partitions back
  std::string host;
  int pid = 0;
  std::string version;
};

struct Member {
  std::string worker_id;
  std::string worker_name;
  std::chrono::milliseconds heartbeat_age{0};  // by the database clock
  std::int64_t acked_generation = 0;
};

struct HeartbeatResult {
  bool found = false;          // false: this worker was evicted; stop processing and rejoin
  std::int64_t generation = 0;  // the replica set's current generation
};

struct AssignmentView {
  std::int64_t generation = 0;
  int partitions = 0;
  std::vector<std::string> owner_ids;    // per partition; "" = unassigned
  std::vector<std::string> owner_names;  // per partition
};

class CoordinationStore {
 public:
  virtual ~CoordinationStore() = default;

  // Creates the replica set with `partitions` if new; returns the stored count (the
  // count is fixed per replica set: a different PARTITIONS is reported by the caller).
  virtual int EnsureReplicaSet(const std::string& replica_set, int partitions) = 0;
  virtual void Register(const std::string& replica_set, const WorkerInfo& worker) = 0;
  // Updates the worker's heartbeat to now() and returns the current generation.
  virtual HeartbeatResult Heartbeat(const std::string& replica_set, const std::string& worker_id) = 0;
  virtual std::vector<Member> ListMembers(const std::string& replica_set) = 0;
  // Deletes members whose heartbeat is older than `stale_timeout`; returns their ids.
  virtual std::vector<std::string> EvictStale(const std::string& replica_set,
                                              std::chrono::milliseconds stale_timeout) = 0;
  // Under a row lock on the replica set: if the live members differ from the current
  // assignment's owners, writes generation + 1 with a sticky balanced assignment and
  // notifies. Returns the new generation, or nullopt when nothing changed.
  virtual std::optional<std::int64_t> FormGeneration(const std::string& replica_set) = 0;
  virtual void Acknowledge(const std::string& replica_set, const std::string& worker_id,
                           std::int64_t generation) = 0;
  virtual AssignmentView ReadAssignment(const std::string& replica_set) = 0;
  virtual void Deregister(const std::string& replica_set, const std::string& worker_id) = 0;
};

}  // namespace projd
